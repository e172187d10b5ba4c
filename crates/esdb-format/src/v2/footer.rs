//! The fixed-size footer of a version 2 file: the version 1 fields, plus the feature flags, the
//! metadata block's handle and where the tail region begins.
//!
//! Layout: docs/FORMAT.md#footer-version-2. Readers use this type for files of either version:
//! a version 1 footer converts into it with no features, no metadata and the catalog root as its
//! tail region.

use crate::checksum::xxh3;
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::frame::{FrameLimits, Handle};
use crate::v2::features::Features;
use crate::MAGIC;

/// The major version this footer belongs to.
pub const MAJOR: u16 = 2;

/// Offset of the catalog root block's file offset.
pub const ROOT_OFFSET_OFFSET: usize = 0;
/// Offset of the catalog root block's stored payload length.
pub const ROOT_LEN_OFFSET: usize = ROOT_OFFSET_OFFSET + size_of::<u64>();
/// Offset of the catalog height.
pub const HEIGHT_OFFSET: usize = ROOT_LEN_OFFSET + size_of::<u32>();
/// Offset of the number of spaces.
pub const N_SPACES_OFFSET: usize = HEIGHT_OFFSET + size_of::<u32>();
/// Offset of the number of events.
pub const N_EVENTS_OFFSET: usize = N_SPACES_OFFSET + size_of::<u64>();
/// Offset of the smallest timestamp.
pub const MIN_TS_OFFSET: usize = N_EVENTS_OFFSET + size_of::<u64>();
/// Offset of the largest timestamp.
pub const MAX_TS_OFFSET: usize = MIN_TS_OFFSET + size_of::<i64>();
/// Offset of the largest raw block payload length.
pub const MAX_BLOCK_LEN_OFFSET: usize = MAX_TS_OFFSET + size_of::<i64>();
/// Offset of the incompatible feature flags.
pub const INCOMPATIBLE_OFFSET: usize = MAX_BLOCK_LEN_OFFSET + size_of::<u32>();
/// Offset of the compatible feature flags.
pub const COMPATIBLE_OFFSET: usize = INCOMPATIBLE_OFFSET + size_of::<u32>();
/// Offset of the metadata block's stored payload length.
pub const METADATA_LEN_OFFSET: usize = COMPATIBLE_OFFSET + size_of::<u32>();
/// Offset of the metadata block's file offset.
pub const METADATA_OFFSET_OFFSET: usize = METADATA_LEN_OFFSET + size_of::<u32>();
/// Offset of the tail region's first byte.
pub const TAIL_OFFSET_OFFSET: usize = METADATA_OFFSET_OFFSET + size_of::<u64>();
/// Offset of the major version.
pub const MAJOR_OFFSET: usize = TAIL_OFFSET_OFFSET + size_of::<u64>();
/// Offset of the minor version.
pub const MINOR_OFFSET: usize = MAJOR_OFFSET + size_of::<u16>();
/// Offset of a reserved word.
pub const RESERVED_OFFSET: usize = MINOR_OFFSET + size_of::<u16>();
/// Offset of the magic number.
pub const MAGIC_OFFSET: usize = RESERVED_OFFSET + size_of::<u32>();
/// Offset of the checksum over everything before it.
pub const CHECKSUM_OFFSET: usize = MAGIC_OFFSET + MAGIC.len();
/// Encoded size of the footer.
pub const LEN: usize = CHECKSUM_OFFSET + size_of::<u64>();

// The fields before the feature flags sit where version 1 has them, so that one function checks
// them for both versions (`v1::footer::check_totals`).
const _: () = assert!(
    HEIGHT_OFFSET == crate::v1::footer::HEIGHT_OFFSET
        && N_EVENTS_OFFSET == crate::v1::footer::N_EVENTS_OFFSET
        && MIN_TS_OFFSET == crate::v1::footer::MIN_TS_OFFSET
        && MAX_BLOCK_LEN_OFFSET == crate::v1::footer::MAX_BLOCK_LEN_OFFSET
);

/// The decoded footer of a file of either version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// The root block of the catalog tree.
    pub catalog_root: Handle,
    /// Levels in the catalog tree; 1 means the root is a leaf.
    pub catalog_height: u32,
    /// Number of spaces in the file.
    pub n_spaces: u64,
    /// Number of events in the file.
    pub n_events: u64,
    /// Smallest timestamp in the file; 0 when the file has no events.
    pub min_ts: i64,
    /// Largest timestamp in the file; 0 when the file has no events.
    pub max_ts: i64,
    /// Largest raw (uncompressed) payload of any block; readers refuse larger blocks.
    pub max_block_len: u32,
    /// Feature flags; none in a version 1 file.
    pub features: Features,
    /// The metadata block, if the file has one (never in a version 1 file).
    pub metadata: Option<Handle>,
    /// First byte of the tail region: the catalog's upper levels, the metadata block and the
    /// footer. One read from here to the end of the file gives them all.
    pub tail_offset: u64,
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
}

impl From<crate::v1::footer::Footer> for Footer {
    fn from(v1: crate::v1::footer::Footer) -> Footer {
        Footer {
            catalog_root: v1.catalog_root,
            catalog_height: v1.catalog_height,
            n_spaces: v1.n_spaces,
            n_events: v1.n_events,
            min_ts: v1.min_ts,
            max_ts: v1.max_ts,
            max_block_len: v1.max_block_len,
            features: Features::default(),
            metadata: None,
            tail_offset: v1.catalog_root.offset,
            major: v1.major,
            minor: v1.minor,
        }
    }
}

impl Footer {
    /// The frame limits of every block in this file.
    pub fn frame_limits(&self) -> FrameLimits {
        if self.major >= MAJOR {
            FrameLimits { zstd_dictionary: self.features.zstd_dictionary(), ..FrameLimits::v2(self.max_block_len) }
        } else {
            FrameLimits::v1(self.max_block_len)
        }
    }

    /// Size of this footer in its file.
    pub fn encoded_len(&self) -> usize {
        if self.major >= MAJOR {
            LEN
        } else {
            crate::v1::footer::LEN
        }
    }

    /// Appends the encoded version 2 footer to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let metadata = self.metadata.unwrap_or_default();
        out.extend_from_slice(&self.catalog_root.offset.to_le_bytes());
        out.extend_from_slice(&self.catalog_root.len.to_le_bytes());
        out.extend_from_slice(&self.catalog_height.to_le_bytes());
        out.extend_from_slice(&self.n_spaces.to_le_bytes());
        out.extend_from_slice(&self.n_events.to_le_bytes());
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&self.max_block_len.to_le_bytes());
        out.extend_from_slice(&self.features.incompatible.to_le_bytes());
        out.extend_from_slice(&self.features.compatible.to_le_bytes());
        out.extend_from_slice(&metadata.len.to_le_bytes());
        out.extend_from_slice(&metadata.offset.to_le_bytes());
        out.extend_from_slice(&self.tail_offset.to_le_bytes());
        out.extend_from_slice(&self.major.to_le_bytes());
        out.extend_from_slice(&self.minor.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&MAGIC);
        let checksum = xxh3(&out[start..]);
        out.extend_from_slice(&checksum.to_le_bytes());
    }

    /// Decodes a version 2 footer from the last [`LEN`] bytes of a file of `file_len` bytes.
    ///
    /// Checks magic, checksum and version, that reserved fields are zero, that every
    /// incompatible feature is known, and that the catalog root and the metadata block lie in
    /// the tail region, which lies between the header and the footer.
    ///
    /// # Errors
    /// Any of the checks above, naming the field and its absolute offset.
    pub fn decode(buf: &[u8], file_len: u64) -> Result<Footer, DecodeError> {
        let at = file_len.saturating_sub(LEN as u64);
        if buf.len() != LEN {
            return Err(DecodeError::Truncated {
                field: "footer",
                offset: at,
                need: LEN as u64,
                have: buf.len() as u64,
            });
        }
        let field_at = |offset: usize| at + offset as u64;
        let found: [u8; 8] = buf[MAGIC_OFFSET..CHECKSUM_OFFSET].try_into().expect("footer is LEN bytes long");
        if found != MAGIC {
            return Err(DecodeError::BadMagic {
                section: "footer",
                offset: field_at(MAGIC_OFFSET),
                expected: MAGIC,
                found,
            });
        }
        let mut cur = Cursor::new(buf, at);
        let root_offset = cur.u64("footer catalog root offset")?;
        let root_len = cur.u32("footer catalog root length")?;
        let catalog_height = cur.u32("footer catalog height")?;
        let n_spaces = cur.u64("footer space count")?;
        let n_events = cur.u64("footer event count")?;
        let min_ts = cur.i64("footer min timestamp")?;
        let max_ts = cur.i64("footer max timestamp")?;
        let max_block_len = cur.u32("footer max block length")?;
        let incompatible = cur.u32("footer incompatible features")?;
        let compatible = cur.u32("footer compatible features")?;
        let metadata_len = cur.u32("footer metadata length")?;
        let metadata_offset = cur.u64("footer metadata offset")?;
        let tail_offset = cur.u64("footer tail offset")?;
        let major = cur.u16("footer major version")?;
        let minor = cur.u16("footer minor version")?;
        let reserved = cur.u32("footer reserved")?;
        cur.take(MAGIC.len(), "footer magic")?;
        let stored = cur.u64("footer checksum")?;
        let computed = xxh3(&buf[..CHECKSUM_OFFSET]);
        if !crate::checksum::accepts(stored, computed) {
            return Err(DecodeError::ChecksumMismatch { section: "footer", offset: at, stored, computed });
        }
        if major != MAJOR {
            return Err(DecodeError::UnsupportedVersion {
                section: "footer",
                found_major: major,
                found_minor: minor,
                supported_major: MAJOR,
            });
        }
        let features = Features { incompatible, compatible };
        features.check_supported(field_at(INCOMPATIBLE_OFFSET))?;
        if reserved != 0 {
            return Err(DecodeError::invalid(
                "footer reserved",
                field_at(RESERVED_OFFSET),
                format!("must be 0, found {reserved}"),
            ));
        }
        crate::v1::footer::check_totals(at, catalog_height, max_block_len, n_spaces, n_events, (min_ts, max_ts))?;
        let body_start = crate::v1::header::LEN as u64;
        if tail_offset < body_start || tail_offset > at {
            return Err(DecodeError::invalid(
                "footer tail offset",
                field_at(TAIL_OFFSET_OFFSET),
                format!("{tail_offset} is outside [{body_start}, {at}]"),
            ));
        }
        let catalog_root = Handle { offset: root_offset, len: root_len };
        catalog_root.check_within(tail_offset, at, "footer catalog root", field_at(ROOT_OFFSET_OFFSET))?;
        let metadata = if metadata_len == 0 && metadata_offset == 0 {
            None
        } else {
            let handle = Handle { offset: metadata_offset, len: metadata_len };
            handle.check_within(tail_offset, at, "footer metadata", field_at(METADATA_LEN_OFFSET))?;
            Some(handle)
        };
        Ok(Footer {
            catalog_root,
            catalog_height,
            n_spaces,
            n_events,
            min_ts,
            max_ts,
            max_block_len,
            features,
            metadata,
            tail_offset,
            major,
            minor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Footer {
        Footer {
            catalog_root: Handle { offset: 500, len: 10 },
            catalog_height: 1,
            n_spaces: 2,
            n_events: 5,
            min_ts: -3,
            max_ts: 9,
            max_block_len: 100,
            features: Features::default(),
            metadata: Some(Handle { offset: 600, len: 40 }),
            tail_offset: 400,
            major: MAJOR,
            minor: crate::v2::MINOR,
        }
    }

    #[test]
    fn roundtrip() {
        let mut out = Vec::new();
        sample().encode(&mut out);
        assert_eq!(out.len(), LEN);
        assert_eq!(Footer::decode(&out, 1000), Ok(sample()));
        let mut out = Vec::new();
        Footer { metadata: None, ..sample() }.encode(&mut out);
        assert_eq!(Footer::decode(&out, 1000).unwrap().metadata, None);
    }

    #[test]
    fn version_sits_where_version_1_has_it_counted_from_the_end() {
        assert_eq!(LEN - MAJOR_OFFSET, crate::v1::footer::LEN - crate::v1::footer::MAJOR_OFFSET);
        assert_eq!(LEN - MAGIC_OFFSET, crate::v1::footer::LEN - crate::v1::footer::MAGIC_OFFSET);
    }

    #[test]
    fn root_and_metadata_must_lie_in_the_tail_region() {
        let mut out = Vec::new();
        Footer { tail_offset: 550, ..sample() }.encode(&mut out);
        assert!(matches!(Footer::decode(&out, 1000), Err(DecodeError::Invalid { field: "footer catalog root", .. })));
        let mut out = Vec::new();
        Footer { metadata: Some(Handle { offset: 300, len: 4 }), ..sample() }.encode(&mut out);
        assert!(matches!(Footer::decode(&out, 1000), Err(DecodeError::Invalid { field: "footer metadata", .. })));
        let mut out = Vec::new();
        Footer { tail_offset: 990, ..sample() }.encode(&mut out);
        assert!(matches!(Footer::decode(&out, 1000), Err(DecodeError::Invalid { field: "footer tail offset", .. })));
    }

    #[test]
    fn unknown_incompatible_feature_is_refused() {
        let mut out = Vec::new();
        Footer { features: Features { incompatible: 1 << 31, compatible: 0 }, ..sample() }.encode(&mut out);
        assert!(matches!(
            Footer::decode(&out, 1000),
            Err(DecodeError::Invalid { field: "footer incompatible features", offset, .. }) if offset == 896 + INCOMPATIBLE_OFFSET as u64
        ));
        let mut out = Vec::new();
        Footer { features: Features { incompatible: 0, compatible: 0x8000_0000 }, ..sample() }.encode(&mut out);
        assert!(Footer::decode(&out, 1000).is_ok());
    }

    #[test]
    fn checksum_covers_every_field() {
        let mut clean = Vec::new();
        sample().encode(&mut clean);
        for pos in 0..MAGIC_OFFSET {
            let mut out = clean.clone();
            out[pos] ^= 0x40;
            assert!(matches!(Footer::decode(&out, 1000), Err(DecodeError::ChecksumMismatch { .. })), "byte {pos}");
        }
    }
}
