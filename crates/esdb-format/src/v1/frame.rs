//! Block frames: every byte between the header and the footer belongs to one framed block, a
//! payload followed by a trailer that says how it is compressed and checksums both.
//!
//! Layout: docs/FORMAT.md#block-frame.

use std::borrow::Cow;

use crate::checksum::xxh3;
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::MAX_BLOCK_LEN;

/// Offset of the codec byte within the trailer.
pub const CODEC_OFFSET: usize = 0;
/// Offset of the raw payload length within the trailer.
pub const RAW_LEN_OFFSET: usize = CODEC_OFFSET + size_of::<u8>();
/// Offset of the checksum within the trailer.
pub const CHECKSUM_OFFSET: usize = RAW_LEN_OFFSET + size_of::<u32>();
/// Encoded size of the trailer that follows every payload.
pub const TRAILER_LEN: usize = CHECKSUM_OFFSET + size_of::<u64>();

/// Smallest payload the encoders try to compress.
pub const MIN_COMPRESSED_LEN: usize = 64;

/// LZ4 never expands more than this factor (a run of 255 literal-free length bytes).
const LZ4_MAX_EXPANSION: u64 = 255;

/// A zstd frame never expands more than this factor: an RLE block of 4 bytes stands for up to
/// 128 KiB.
const ZSTD_MAX_EXPANSION: u64 = 32_768;

/// How a block payload is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is.
    Raw = 0,
    /// Compressed with the LZ4 block format (no frame, no size prefix).
    Lz4 = 1,
    /// One zstd frame (RFC 8878) without a dictionary. Format version 2 and later only.
    Zstd = 2,
    /// One zstd frame compressed with the file's dictionary: version 2 files with the
    /// `zstd_dictionary` feature only.
    ZstdDictionary = 3,
}

impl Codec {
    /// The codec for a stored byte, among those `limits` allow.
    ///
    /// # Errors
    /// An unknown codec byte, or one the file's version does not allow.
    pub fn from_byte(byte: u8, offset: u64, limits: FrameLimits) -> Result<Codec, DecodeError> {
        match byte {
            0 => Ok(Codec::Raw),
            1 => Ok(Codec::Lz4),
            2 if limits.zstd => Ok(Codec::Zstd),
            2 => Err(DecodeError::invalid("block codec", offset, "codec 2 (zstd) needs format version 2")),
            3 if limits.zstd_dictionary => Ok(Codec::ZstdDictionary),
            3 => Err(DecodeError::invalid(
                "block codec",
                offset,
                "codec 3 (zstd with the file's dictionary) needs the zstd_dictionary feature",
            )),
            other => Err(DecodeError::invalid("block codec", offset, format!("unknown codec {other}"))),
        }
    }
}

/// What the file around a block allows in its frame: the largest raw payload and the codecs of
/// its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest raw length a block of the file may claim (the footer's `max_block_len`).
    pub max_raw_len: u32,
    /// Whether [`Codec::Zstd`] is allowed (format version 2 and later).
    pub zstd: bool,
    /// Whether [`Codec::ZstdDictionary`] is allowed (the file has a dictionary).
    pub zstd_dictionary: bool,
}

impl FrameLimits {
    /// The limits of a version 1 file: raw and LZ4 blocks of at most `max_raw_len` bytes.
    pub fn v1(max_raw_len: u32) -> FrameLimits {
        FrameLimits { max_raw_len, zstd: false, zstd_dictionary: false }
    }

    /// The limits of a version 2 file: raw, LZ4 and zstd blocks of at most `max_raw_len` bytes.
    pub fn v2(max_raw_len: u32) -> FrameLimits {
        FrameLimits { max_raw_len, zstd: true, zstd_dictionary: false }
    }
}

/// Where a framed block sits: the absolute offset of its payload and the payload's stored length.
/// The trailer follows at `offset + len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Handle {
    /// Absolute file offset of the first payload byte.
    pub offset: u64,
    /// Stored (possibly compressed) payload length, without the trailer.
    pub len: u32,
}

impl Handle {
    /// Length of payload plus trailer.
    pub fn framed_len(&self) -> u64 {
        u64::from(self.len) + TRAILER_LEN as u64
    }

    /// Absolute offset one past the trailer.
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.framed_len())
    }

    /// Fails unless the framed block lies within `[start, end)`.
    pub fn check_within(&self, start: u64, end: u64, field: &'static str, at: u64) -> Result<(), DecodeError> {
        if self.offset < start || self.offset.checked_add(self.framed_len()).is_none_or(|e| e > end) {
            return Err(DecodeError::invalid(
                field,
                at,
                format!("block of {} bytes at offset {} is outside [{start}, {end})", self.framed_len(), self.offset),
            ));
        }
        Ok(())
    }

    /// Appends offset and length as two varints.
    pub fn encode(&self, out: &mut Vec<u8>) {
        crate::varint::encode(self.offset, out);
        crate::varint::encode(u64::from(self.len), out);
    }

    /// Reads a handle written by [`Handle::encode`].
    pub fn decode(cur: &mut Cursor<'_>, field: &'static str) -> Result<Handle, DecodeError> {
        let offset = cur.uvarint(field)?;
        let len = cur.len_at_most(u64::from(u32::MAX), field)? as u32;
        Ok(Handle { offset, len })
    }
}

/// Appends `payload` framed with `codec` to `out`: the stored bytes, then the trailer.
///
/// With [`Codec::Lz4`] the payload is compressed, and stored raw instead when compression does
/// not make it smaller. Returns the codec actually used and the stored length.
pub fn encode(payload: &[u8], codec: Codec, out: &mut Vec<u8>) -> (Codec, u32) {
    Encoder::default().encode(payload, codec, out)
}

/// Frames blocks like [`encode`], keeping LZ4's hash table, the zstd context and the output
/// buffer from one block to the next instead of allocating them per block. Produces the same
/// bytes as [`encode`].
#[derive(Default)]
pub struct Encoder {
    table: lz4_flex::block::CompressTable,
    compressed: Vec<u8>,
    #[cfg(feature = "zstd")]
    zstd: Option<zstd::bulk::Compressor<'static>>,
    #[cfg(feature = "zstd")]
    zstd_with_dictionary: Option<zstd::bulk::Compressor<'static>>,
    zstd_level: i32,
    dictionary: Vec<u8>,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder").field("buffer_len", &self.compressed.len()).finish_non_exhaustive()
    }
}

/// The zstd level [`Encoder`] uses unless told otherwise.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

impl Encoder {
    /// An encoder that compresses [`Codec::Zstd`] blocks at `level` (1..=22; negative levels are
    /// zstd's faster modes; 0 means [`DEFAULT_ZSTD_LEVEL`]).
    pub fn with_zstd_level(level: i32) -> Encoder {
        Encoder { zstd_level: level, ..Encoder::default() }
    }

    /// Sets the dictionary [`Codec::ZstdDictionary`] blocks are compressed with.
    pub fn set_zstd_dictionary(&mut self, dictionary: &[u8]) {
        self.dictionary = dictionary.to_vec();
        #[cfg(feature = "zstd")]
        {
            self.zstd_with_dictionary = None;
        }
    }

    /// Appends `payload` framed with `codec` to `out`; see [`encode`].
    ///
    /// # Panics
    /// With [`Codec::Zstd`] in a build without the `zstd` feature, or if zstd cannot allocate its
    /// context.
    pub fn encode(&mut self, payload: &[u8], codec: Codec, out: &mut Vec<u8>) -> (Codec, u32) {
        let raw_len = u32::try_from(payload.len()).expect("block payloads are limited to MAX_BLOCK_LEN");
        let start = out.len();
        let mut used = Codec::Raw;
        // Below this size LZ4 saves a few bytes at best, and preparing its hash table costs more
        // than the block: such blocks are stored raw.
        if codec == Codec::Lz4 && payload.len() >= MIN_COMPRESSED_LEN {
            let max_len = lz4_flex::block::get_maximum_output_size(payload.len());
            if self.compressed.len() < max_len {
                self.compressed.resize(max_len, 0);
            }
            let compressed = &mut self.compressed[..max_len];
            let n = lz4_flex::block::compress_into_with_table(payload, compressed, &mut self.table)
                .expect("the output buffer has the maximum compressed size");
            if n < payload.len() {
                out.extend_from_slice(&compressed[..n]);
                used = Codec::Lz4;
            }
        }
        if matches!(codec, Codec::Zstd | Codec::ZstdDictionary) && payload.len() >= MIN_COMPRESSED_LEN {
            let n = self.compress_zstd(payload, codec == Codec::ZstdDictionary);
            if n < payload.len() {
                out.extend_from_slice(&self.compressed[..n]);
                used = codec;
            }
        }
        finish_frame(payload, used, raw_len, start, out)
    }
}

impl Encoder {
    /// Compresses `payload` into the front of `self.compressed`; returns the compressed length.
    #[cfg(feature = "zstd")]
    fn compress_zstd(&mut self, payload: &[u8], with_dictionary: bool) -> usize {
        let level = if self.zstd_level == 0 { DEFAULT_ZSTD_LEVEL } else { self.zstd_level };
        let dictionary = &self.dictionary;
        let slot = if with_dictionary { &mut self.zstd_with_dictionary } else { &mut self.zstd };
        let compressor = slot.get_or_insert_with(|| {
            let mut compressor = if with_dictionary {
                zstd::bulk::Compressor::with_dictionary(level, dictionary)
            } else {
                zstd::bulk::Compressor::new(level)
            }
            .expect("zstd allocates its context");
            // The frame's checksum would repeat the block's xxh3; its content size lets any zstd
            // tool decompress a block on its own.
            compressor.include_checksum(false).expect("a known zstd parameter");
            compressor.include_contentsize(true).expect("a known zstd parameter");
            compressor
        });
        let max_len = zstd::zstd_safe::compress_bound(payload.len());
        if self.compressed.len() < max_len {
            self.compressed.resize(max_len, 0);
        }
        compressor
            .compress_to_buffer(payload, &mut self.compressed[..max_len])
            .expect("the output buffer has the bound size")
    }

    #[cfg(not(feature = "zstd"))]
    fn compress_zstd(&mut self, _payload: &[u8], _with_dictionary: bool) -> usize {
        panic!("esdb-format was built without the `zstd` feature")
    }
}

/// Writes the raw payload if `used` is raw, then the trailer, for a frame starting at `start`.
fn finish_frame(payload: &[u8], used: Codec, raw_len: u32, start: usize, out: &mut Vec<u8>) -> (Codec, u32) {
    if used == Codec::Raw {
        out.extend_from_slice(payload);
    }
    let stored_len = (out.len() - start) as u32;
    out.push(used as u8);
    out.extend_from_slice(&raw_len.to_le_bytes());
    let checksum = xxh3(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
    (used, stored_len)
}

/// The checked trailer of a framed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    /// How the payload is stored.
    pub codec: Codec,
    /// Payload length once decompressed.
    pub raw_len: u32,
}

/// Checks the frame of a block whose payload starts at absolute `offset`.
///
/// `framed` is the payload followed by the trailer. Verifies the checksum, that the codec is one
/// `limits` allow, and that the raw length is within `limits.max_raw_len` and plausible for the
/// stored length.
pub fn check(framed: &[u8], offset: u64, limits: FrameLimits, section: &'static str) -> Result<Trailer, DecodeError> {
    let max_raw_len = limits.max_raw_len;
    let Some(payload_len) = framed.len().checked_sub(TRAILER_LEN) else {
        return Err(DecodeError::Truncated {
            field: section,
            offset,
            need: TRAILER_LEN as u64,
            have: framed.len() as u64,
        });
    };
    let trailer_at = offset + payload_len as u64;
    let mut cur = Cursor::new(&framed[payload_len..], trailer_at);
    let codec_byte = cur.u8("block codec")?;
    let raw_len = cur.u32("block raw length")?;
    let stored = cur.u64("block checksum")?;
    let computed = xxh3(&framed[..payload_len + CHECKSUM_OFFSET]);
    if !crate::checksum::accepts(stored, computed) {
        return Err(DecodeError::ChecksumMismatch { section, offset, stored, computed });
    }
    let codec = Codec::from_byte(codec_byte, trailer_at, limits)?;
    let raw_len_at = trailer_at + RAW_LEN_OFFSET as u64;
    if raw_len > max_raw_len.min(MAX_BLOCK_LEN) {
        return Err(DecodeError::invalid(
            "block raw length",
            raw_len_at,
            format!("{raw_len} exceeds the largest block in this file ({max_raw_len})"),
        ));
    }
    match codec {
        Codec::Raw if raw_len as usize != payload_len => {
            return Err(DecodeError::invalid(
                "block raw length",
                raw_len_at,
                format!("raw block of {payload_len} bytes claims {raw_len}"),
            ));
        }
        Codec::Lz4 if u64::from(raw_len) > (payload_len as u64).saturating_mul(LZ4_MAX_EXPANSION) + 16 => {
            return Err(DecodeError::invalid(
                "block raw length",
                raw_len_at,
                format!("{raw_len} is more than LZ4 can expand {payload_len} bytes to"),
            ));
        }
        Codec::Zstd | Codec::ZstdDictionary
            if u64::from(raw_len) > (payload_len as u64).saturating_mul(ZSTD_MAX_EXPANSION) =>
        {
            return Err(DecodeError::invalid(
                "block raw length",
                raw_len_at,
                format!("{raw_len} is more than zstd can expand {payload_len} bytes to"),
            ));
        }
        _ => {}
    }
    Ok(Trailer { codec, raw_len })
}

/// Checks a framed block and returns its raw payload, borrowed when stored raw.
///
/// Allocates at most `raw_len` bytes, which [`check`] bounds by `limits.max_raw_len`.
pub fn open<'a>(
    framed: &'a [u8],
    offset: u64,
    limits: FrameLimits,
    section: &'static str,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    open_with(framed, offset, limits, None, section)
}

/// As [`open`], for a file with a zstd dictionary.
pub fn open_with<'a>(
    framed: &'a [u8],
    offset: u64,
    limits: FrameLimits,
    dictionary: Option<&ZstdDictionary>,
    section: &'static str,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let trailer = check(framed, offset, limits, section)?;
    let payload = &framed[..framed.len() - TRAILER_LEN];
    match trailer.codec {
        Codec::Raw => Ok(Cow::Borrowed(payload)),
        codec => {
            let mut raw = vec![0u8; trailer.raw_len as usize];
            decompress_with(codec, payload, offset, &mut raw, dictionary)?;
            Ok(Cow::Owned(raw))
        }
    }
}

/// A file's zstd dictionary, prepared for decompressing its [`Codec::ZstdDictionary`] blocks.
pub struct ZstdDictionary {
    #[cfg(feature = "zstd")]
    prepared: zstd::zstd_safe::DDict<'static>,
}

impl std::fmt::Debug for ZstdDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZstdDictionary").finish_non_exhaustive()
    }
}

impl ZstdDictionary {
    /// Prepares `bytes` (a dictionary block's payload at `offset`).
    ///
    /// # Errors
    /// zstd refuses the dictionary, or this build has no zstd support.
    pub fn new(bytes: &[u8], offset: u64) -> Result<ZstdDictionary, DecodeError> {
        #[cfg(feature = "zstd")]
        {
            zstd::zstd_safe::DDict::try_create(bytes)
                .map(|prepared| ZstdDictionary { prepared })
                .ok_or_else(|| DecodeError::invalid("zstd dictionary", offset, "zstd cannot load it"))
        }
        #[cfg(not(feature = "zstd"))]
        {
            let _ = bytes;
            Err(DecodeError::invalid("zstd dictionary", offset, "this build has no zstd support (feature `zstd`)"))
        }
    }
}

/// Decompresses the `payload` of a block at absolute `offset`, stored with `codec`, into `out`,
/// which must be exactly the raw length its trailer states (see [`check`]); every byte of `out`
/// is overwritten. A raw payload is copied.
///
/// # Errors
/// A corrupt payload, one that does not decompress to exactly `out.len()` bytes, or a zstd
/// payload in a build without the `zstd` feature.
pub fn decompress(codec: Codec, payload: &[u8], offset: u64, out: &mut [u8]) -> Result<(), DecodeError> {
    decompress_with(codec, payload, offset, out, None)
}

/// As [`decompress`], with the file's dictionary for [`Codec::ZstdDictionary`] blocks.
///
/// # Errors
/// As [`decompress`], and a dictionary block in a file without a dictionary.
pub fn decompress_with(
    codec: Codec,
    payload: &[u8],
    offset: u64,
    out: &mut [u8],
    dictionary: Option<&ZstdDictionary>,
) -> Result<(), DecodeError> {
    match codec {
        Codec::Raw if payload.len() == out.len() => {
            out.copy_from_slice(payload);
            Ok(())
        }
        Codec::Raw => Err(DecodeError::invalid(
            "block payload",
            offset,
            format!("raw payload of {} bytes, trailer says {}", payload.len(), out.len()),
        )),
        Codec::Lz4 => decompress_into(payload, offset, out),
        Codec::Zstd => decompress_zstd(payload, offset, out, None),
        Codec::ZstdDictionary => match dictionary {
            Some(dictionary) => decompress_zstd(payload, offset, out, Some(dictionary)),
            None => {
                Err(DecodeError::invalid("block codec", offset, "a dictionary block, but the file has no dictionary"))
            }
        },
    }
}

#[cfg(feature = "zstd")]
fn decompress_zstd(
    payload: &[u8],
    offset: u64,
    out: &mut [u8],
    dictionary: Option<&ZstdDictionary>,
) -> Result<(), DecodeError> {
    use zstd::zstd_safe::DCtx;
    thread_local! {
        // A decompression context is a few hundred KiB to set up: one per thread, reused.
        static CONTEXT: std::cell::RefCell<Option<DCtx<'static>>> = const { std::cell::RefCell::new(None) };
    }
    let corrupt =
        |what: &str| DecodeError::invalid("block payload", offset, format!("zstd payload is corrupt: {what}"));
    let result = CONTEXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let context = match &mut *slot {
            Some(context) => context,
            None => slot.insert(DCtx::try_create().ok_or_else(|| corrupt("no memory for a context"))?),
        };
        let written = match dictionary {
            Some(dictionary) => context.decompress_using_ddict(out, payload, &dictionary.prepared),
            None => context.decompress(out, payload),
        };
        written.map_err(|code| corrupt(zstd::zstd_safe::get_error_name(code)))
    });
    match result? {
        n if n == out.len() => Ok(()),
        n => Err(DecodeError::invalid(
            "block payload",
            offset,
            format!("zstd payload decompressed to {n} bytes, trailer says {}", out.len()),
        )),
    }
}

#[cfg(not(feature = "zstd"))]
fn decompress_zstd(
    _payload: &[u8],
    offset: u64,
    _out: &mut [u8],
    _dictionary: Option<&ZstdDictionary>,
) -> Result<(), DecodeError> {
    Err(DecodeError::invalid("block codec", offset, "zstd block, but this build has no zstd support (feature `zstd`)"))
}

/// Decompresses the LZ4 `payload` of a block at absolute `offset` into `out`, which must be
/// exactly the raw length its trailer states (see [`check`]); every byte of `out` is overwritten.
///
/// # Errors
/// A corrupt payload, or one that does not decompress to exactly `out.len()` bytes.
pub fn decompress_into(payload: &[u8], offset: u64, out: &mut [u8]) -> Result<(), DecodeError> {
    match lz4_flex::block::decompress_into(payload, out) {
        Ok(n) if n == out.len() => Ok(()),
        Ok(n) => Err(DecodeError::invalid(
            "block payload",
            offset,
            format!("LZ4 payload decompressed to {n} bytes, trailer says {}", out.len()),
        )),
        Err(err) => Err(DecodeError::invalid("block payload", offset, format!("LZ4 payload is corrupt: {err}"))),
    }
}

/// Decompresses only the first `out.len()` bytes of an LZ4 block payload at absolute `offset`:
/// enough to read a data block's header and its first events without paying for the rest.
///
/// LZ4 output depends only on earlier output, so the prefix equals the same bytes of a full
/// decompression. Fails if the payload ends before `out` is full or a match reaches back before
/// the start of the block; a payload whose later part is corrupt may still give a prefix, which
/// is why callers check the block's checksum first and decompress it fully before using more.
pub fn decompress_prefix(payload: &[u8], offset: u64, out: &mut [u8]) -> Result<(), DecodeError> {
    let corrupt = |what: &str| DecodeError::invalid("block payload", offset, format!("LZ4 payload is corrupt: {what}"));
    let want = out.len();
    let (mut input, mut done) = (0usize, 0usize);
    while done < want {
        let token = *payload.get(input).ok_or_else(|| corrupt("it ends early"))?;
        input += 1;
        let literals =
            lz4_length(payload, &mut input, usize::from(token >> 4)).ok_or_else(|| corrupt("it ends early"))?;
        let literals_end =
            input.checked_add(literals).filter(|&end| end <= payload.len()).ok_or_else(|| corrupt("it ends early"))?;
        let n = literals.min(want - done);
        out[done..done + n].copy_from_slice(&payload[input..input + n]);
        done += n;
        input = literals_end;
        if done == want {
            break;
        }
        let distance = payload
            .get(input..input + 2)
            .map(|bytes| usize::from(u16::from_le_bytes([bytes[0], bytes[1]])))
            .ok_or_else(|| corrupt("it ends early"))?;
        input += 2;
        if distance == 0 || distance > done {
            return Err(corrupt("a match reaches before the start of the block"));
        }
        let len =
            lz4_length(payload, &mut input, usize::from(token & 0x0f)).ok_or_else(|| corrupt("it ends early"))? + 4;
        let n = len.min(want - done);
        if distance >= n {
            out.copy_within(done - distance..done - distance + n, done);
        } else {
            // The match overlaps its own output: a repeating pattern, copied byte by byte.
            for idx in done..done + n {
                out[idx] = out[idx - distance];
            }
        }
        done += n;
    }
    Ok(())
}

/// An LZ4 length: the 4-bit `nibble`, and when it is 15, the extension bytes that follow at
/// `input`. `None` if they run past the payload.
fn lz4_length(payload: &[u8], input: &mut usize, nibble: usize) -> Option<usize> {
    let mut len = nibble;
    if nibble == 15 {
        loop {
            let byte = *payload.get(*input)?;
            *input += 1;
            len = len.checked_add(usize::from(byte))?;
            if byte != 255 {
                break;
            }
        }
    }
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Every prefix equals the same bytes of a full decompression, for data with long
        /// repeats (overlapping matches) and literal runs alike.
        #[test]
        fn prefix_matches_full_decompression(
            pieces in proptest::collection::vec((proptest::collection::vec(any::<u8>(), 0..40), 1usize..300), 0..20),
            cut in any::<prop::sample::Index>(),
        ) {
            let raw: Vec<u8> = pieces.iter().flat_map(|(piece, times)| {
                if piece.is_empty() { Vec::new() } else { piece.iter().copied().cycle().take(piece.len() * times / 7 + 1).collect() }
            }).collect();
            let compressed = lz4_flex::block::compress(&raw);
            let want = cut.index(raw.len() + 1);
            let mut out = vec![0u8; want];
            decompress_prefix(&compressed, 0, &mut out).unwrap();
            prop_assert_eq!(&out[..], &raw[..want]);
        }

        /// Arbitrary bytes give a prefix or an error, never a panic or a hang.
        #[test]
        fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..200), want in 0usize..2000) {
            let mut out = vec![0u8; want];
            let _ = decompress_prefix(&payload, 0, &mut out);
        }
    }

    #[test]
    fn truncated_payload_is_an_error() {
        let compressed = lz4_flex::block::compress(&[7u8; 1000]);
        let mut out = vec![0u8; 1000];
        assert!(decompress_prefix(&compressed[..compressed.len() - 1], 9, &mut out).is_err());
        assert!(matches!(decompress_prefix(&[0x10], 9, &mut out), Err(DecodeError::Invalid { offset: 9, .. })));
    }

    #[test]
    fn compressible_payload_is_lz4_and_roundtrips() {
        let payload = vec![7u8; 1000];
        let mut out = Vec::new();
        let (codec, stored_len) = encode(&payload, Codec::Lz4, &mut out);
        assert_eq!(codec, Codec::Lz4);
        assert!((stored_len as usize) < payload.len());
        assert_eq!(out.len(), stored_len as usize + TRAILER_LEN);
        assert_eq!(open(&out, 50, FrameLimits::v1(1000), "data block").unwrap().as_ref(), &payload[..]);
    }

    #[test]
    fn zstd_payload_roundtrips_and_needs_version_2() {
        let payload: Vec<u8> = (0..4000u32).flat_map(|i| (i % 17).to_le_bytes()).collect();
        let mut out = Vec::new();
        let (codec, _) = Encoder::with_zstd_level(3).encode(&payload, Codec::Zstd, &mut out);
        assert_eq!(codec, Codec::Zstd);
        assert_eq!(open(&out, 0, FrameLimits::v2(16_000), "b").unwrap().as_ref(), &payload[..]);
        assert!(matches!(
            check(&out, 0, FrameLimits::v1(16_000), "b"),
            Err(DecodeError::Invalid { field: "block codec", .. })
        ));
    }

    #[test]
    fn zstd_payload_of_the_wrong_length_is_an_error() {
        let payload = vec![9u8; 5000];
        let compressed = zstd::bulk::compress(&payload, 3).unwrap();
        let mut short = vec![0u8; 4999];
        assert!(decompress(Codec::Zstd, &compressed, 7, &mut short).is_err());
        let mut long = vec![0u8; 5001];
        assert!(matches!(
            decompress(Codec::Zstd, &compressed, 7, &mut long),
            Err(DecodeError::Invalid { offset: 7, .. })
        ));
        assert!(decompress(Codec::Zstd, &compressed[..compressed.len() - 2], 7, &mut vec![0u8; 5000]).is_err());
    }

    #[test]
    fn incompressible_payload_stays_raw() {
        let payload: Vec<u8> = (0..64u8).collect();
        let mut out = Vec::new();
        assert_eq!(encode(&payload, Codec::Lz4, &mut out).0, Codec::Raw);
        assert!(matches!(open(&out, 0, FrameLimits::v1(64), "b").unwrap(), Cow::Borrowed(_)));
    }

    #[test]
    fn raw_len_above_file_limit_is_rejected() {
        let mut out = Vec::new();
        encode(&[1u8; 100], Codec::Raw, &mut out);
        assert!(matches!(
            check(&out, 0, FrameLimits::v1(99), "b"),
            Err(DecodeError::Invalid { field: "block raw length", offset: 101, .. })
        ));
    }

    #[test]
    fn every_byte_is_under_the_checksum() {
        let mut clean = Vec::new();
        encode(&[3u8; 300], Codec::Lz4, &mut clean);
        for pos in 0..clean.len() {
            let mut out = clean.clone();
            out[pos] ^= 1;
            assert!(check(&out, 0, FrameLimits::v1(300), "b").is_err(), "flip at {pos} went unnoticed");
        }
    }
}
