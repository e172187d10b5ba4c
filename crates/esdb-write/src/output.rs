//! The output stream: framed blocks appended one after another, with their offsets tracked.

use std::io::{self, Write};

use esdb_format::v1::frame::{self, Codec, Handle};

/// Appends framed blocks to any `io::Write` and remembers where each one went.
pub(crate) struct Output<W: Write> {
    inner: W,
    offset: u64,
    max_block_len: u32,
    scratch: Vec<u8>,
    encoder: frame::Encoder,
}

impl<W: Write> Output<W> {
    pub(crate) fn new(inner: W, zstd_level: i32) -> Self {
        Output {
            inner,
            offset: 0,
            max_block_len: 0,
            scratch: Vec::new(),
            encoder: frame::Encoder::with_zstd_level(zstd_level),
        }
    }

    /// Sets the dictionary of [`Codec::ZstdDictionary`] blocks.
    pub(crate) fn set_zstd_dictionary(&mut self, dictionary: &[u8]) {
        self.encoder.set_zstd_dictionary(dictionary);
    }

    /// Bytes written so far, which is the absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Largest raw payload of any block written so far.
    pub(crate) fn max_block_len(&self) -> u32 {
        self.max_block_len
    }

    /// Writes bytes that are not a block (the header and the footer).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Frames `payload` with `codec` (stored raw when compression does not help) and writes it.
    pub(crate) fn write_block(&mut self, payload: &[u8], codec: Codec) -> io::Result<Handle> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let framed = self.frame_block(payload, codec, &mut scratch);
        let result = framed.and_then(|len| {
            let handle = Handle { offset: self.offset, len };
            self.write_framed(&scratch)?;
            Ok(handle)
        });
        self.scratch = scratch;
        result
    }

    /// Frames `payload` with `codec` onto the end of `into`, to be written later with
    /// [`write_framed`](Output::write_framed); returns the stored payload length.
    pub(crate) fn frame_block(&mut self, payload: &[u8], codec: Codec, into: &mut Vec<u8>) -> io::Result<u32> {
        let raw_len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= esdb_format::v1::MAX_BLOCK_LEN)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("block of {} bytes exceeds the format limit", payload.len()),
                )
            })?;
        let (_, len) = self.encoder.encode(payload, codec, into);
        self.max_block_len = self.max_block_len.max(raw_len);
        Ok(len)
    }

    /// Writes blocks framed by [`frame_block`](Output::frame_block).
    pub(crate) fn write_framed(&mut self, framed: &[u8]) -> io::Result<()> {
        self.inner.write_all(framed)?;
        self.offset += framed.len() as u64;
        Ok(())
    }

    /// Flushes and returns the inner writer.
    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
