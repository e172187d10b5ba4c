//! The fixed-size footer at the end of every file: where the catalog starts, and file-wide totals.
//!
//! Layout: docs/FORMAT-v1.md#footer.

use crate::checksum::xxh3;
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::frame::Handle;
use crate::v1::{MAX_BLOCK_LEN, MAX_CATALOG_HEIGHT};
use crate::MAGIC;

/// The major version this footer belongs to.
pub const MAJOR: u16 = 1;

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
/// Offset of the flags, all reserved.
pub const FLAGS_OFFSET: usize = MAX_BLOCK_LEN_OFFSET + size_of::<u32>();
/// Offset of the major version.
pub const MAJOR_OFFSET: usize = FLAGS_OFFSET + size_of::<u32>();
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

/// The last [`LEN`] bytes of every file.
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
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
}

impl Footer {
    /// Appends the encoded footer to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&self.catalog_root.offset.to_le_bytes());
        out.extend_from_slice(&self.catalog_root.len.to_le_bytes());
        out.extend_from_slice(&self.catalog_height.to_le_bytes());
        out.extend_from_slice(&self.n_spaces.to_le_bytes());
        out.extend_from_slice(&self.n_events.to_le_bytes());
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
        out.extend_from_slice(&self.max_block_len.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.major.to_le_bytes());
        out.extend_from_slice(&self.minor.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&MAGIC);
        let checksum = xxh3(&out[start..]);
        out.extend_from_slice(&checksum.to_le_bytes());
    }

    /// Decodes the footer from the last [`LEN`] bytes of a file of `file_len` bytes.
    ///
    /// Checks magic, checksum and version, that reserved fields are zero, and that the catalog
    /// root lies inside the file between the header and the footer.
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
        let flags = cur.u32("footer flags")?;
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
                supported_major: crate::FORMAT_MAJOR,
            });
        }
        if flags != 0 {
            return Err(DecodeError::invalid(
                "footer flags",
                field_at(FLAGS_OFFSET),
                format!("reserved bits set: {flags:#010x}"),
            ));
        }
        if reserved != 0 {
            return Err(DecodeError::invalid(
                "footer reserved",
                field_at(RESERVED_OFFSET),
                format!("must be 0, found {reserved}"),
            ));
        }
        check_totals(at, catalog_height, max_block_len, n_spaces, n_events, (min_ts, max_ts))?;
        let catalog_root = Handle { offset: root_offset, len: root_len };
        catalog_root.check_within(
            crate::v1::header::LEN as u64,
            at,
            "footer catalog root",
            field_at(ROOT_OFFSET_OFFSET),
        )?;
        Ok(Footer { catalog_root, catalog_height, n_spaces, n_events, min_ts, max_ts, max_block_len, major, minor })
    }
}

/// The rules on the catalog height and the totals that both footer versions hold, at the same
/// offsets, for a footer at absolute offset `at`.
pub(crate) fn check_totals(
    at: u64,
    catalog_height: u32,
    max_block_len: u32,
    n_spaces: u64,
    n_events: u64,
    (min_ts, max_ts): (i64, i64),
) -> Result<(), DecodeError> {
    if catalog_height == 0 || catalog_height > MAX_CATALOG_HEIGHT {
        return Err(DecodeError::invalid(
            "footer catalog height",
            at + HEIGHT_OFFSET as u64,
            format!("{catalog_height} is outside 1..={MAX_CATALOG_HEIGHT}"),
        ));
    }
    if max_block_len > MAX_BLOCK_LEN {
        return Err(DecodeError::invalid(
            "footer max block length",
            at + MAX_BLOCK_LEN_OFFSET as u64,
            format!("{max_block_len} exceeds the format limit {MAX_BLOCK_LEN}"),
        ));
    }
    if n_events == 0 && (min_ts != 0 || max_ts != 0 || n_spaces != 0) {
        return Err(DecodeError::invalid(
            "footer event count",
            at + N_EVENTS_OFFSET as u64,
            "an empty file must have zero spaces and time bounds",
        ));
    }
    if min_ts > max_ts {
        return Err(DecodeError::invalid(
            "footer min timestamp",
            at + MIN_TS_OFFSET as u64,
            format!("{min_ts} is above max timestamp {max_ts}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Footer {
        Footer {
            catalog_root: Handle { offset: 24, len: 10 },
            catalog_height: 1,
            n_spaces: 2,
            n_events: 5,
            min_ts: -3,
            max_ts: 9,
            max_block_len: 100,
            major: MAJOR,
            minor: 0,
        }
    }

    #[test]
    fn roundtrip() {
        let mut out = Vec::new();
        sample().encode(&mut out);
        assert_eq!(out.len(), LEN);
        assert_eq!(Footer::decode(&out, 1000), Ok(sample()));
    }

    #[test]
    fn root_outside_file_is_rejected() {
        let mut out = Vec::new();
        Footer { catalog_root: Handle { offset: 990, len: 10 }, ..sample() }.encode(&mut out);
        assert!(matches!(
            Footer::decode(&out, 1000),
            Err(DecodeError::Invalid { field: "footer catalog root", offset: 920, .. })
        ));
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
