//! The fixed-size file header.
//!
//! Layout: docs/FORMAT.md#header.

use crate::checksum::xxh3;
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::{FORMAT_MAJOR, FORMAT_MINOR, MAGIC};

/// Offset of the magic number.
pub const MAGIC_OFFSET: usize = 0;
/// Offset of the major version.
pub const MAJOR_OFFSET: usize = MAGIC_OFFSET + MAGIC.len();
/// Offset of the minor version.
pub const MINOR_OFFSET: usize = MAJOR_OFFSET + size_of::<u16>();
/// Offset of the flags, all reserved.
pub const FLAGS_OFFSET: usize = MINOR_OFFSET + size_of::<u16>();
/// Offset of the checksum over everything before it.
pub const CHECKSUM_OFFSET: usize = FLAGS_OFFSET + size_of::<u32>();
/// Encoded size of the header.
pub const LEN: usize = CHECKSUM_OFFSET + size_of::<u64>();

/// The first [`LEN`] bytes of every file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format major version; a reader refuses majors it does not know.
    pub major: u16,
    /// Format minor version; additions an older reader of the same major may ignore.
    pub minor: u16,
}

impl Default for Header {
    fn default() -> Self {
        Header { major: FORMAT_MAJOR, minor: FORMAT_MINOR }
    }
}

impl Header {
    /// Appends the encoded header to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.major.to_le_bytes());
        out.extend_from_slice(&self.minor.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let checksum = xxh3(&out[start..]);
        out.extend_from_slice(&checksum.to_le_bytes());
    }

    /// Decodes the header from the first bytes of a file.
    ///
    /// # Errors
    /// Bad magic, a checksum mismatch, an unknown major version or non-zero reserved flags.
    pub fn decode(buf: &[u8]) -> Result<Header, DecodeError> {
        let mut cur = Cursor::new(buf, 0);
        let found: [u8; 8] = cur.array("header magic")?;
        if found != MAGIC {
            return Err(DecodeError::BadMagic { section: "header", offset: 0, expected: MAGIC, found });
        }
        let major = cur.u16("header major version")?;
        let minor = cur.u16("header minor version")?;
        let flags = cur.u32("header flags")?;
        let stored = cur.u64("header checksum")?;
        let computed = xxh3(&buf[..CHECKSUM_OFFSET]);
        if !crate::checksum::accepts(stored, computed) {
            return Err(DecodeError::ChecksumMismatch { section: "header", offset: 0, stored, computed });
        }
        if !crate::ends::SUPPORTED_MAJORS.contains(&major) {
            return Err(DecodeError::UnsupportedVersion {
                section: "header",
                found_major: major,
                found_minor: minor,
                supported_major: FORMAT_MAJOR,
            });
        }
        if flags != 0 {
            return Err(DecodeError::invalid(
                "header flags",
                FLAGS_OFFSET as u64,
                format!("reserved bits set: {flags:#010x}"),
            ));
        }
        Ok(Header { major, minor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_known_bytes() {
        let mut out = Vec::new();
        Header::default().encode(&mut out);
        assert_eq!(out.len(), LEN);
        assert_eq!(&out[..12], b"\x89ESDB\r\n\x1a\x02\x00\x00\x00");
        assert_eq!(Header::decode(&out), Ok(Header::default()));
    }

    #[test]
    fn unknown_major_names_version() {
        let mut out = Vec::new();
        Header { major: 7, minor: 3 }.encode(&mut out);
        assert!(matches!(
            Header::decode(&out),
            Err(DecodeError::UnsupportedVersion { found_major: 7, found_minor: 3, .. })
        ));
    }

    #[test]
    fn flipped_byte_is_checksum_mismatch() {
        let mut out = Vec::new();
        Header::default().encode(&mut out);
        out[MINOR_OFFSET] ^= 1;
        assert!(matches!(Header::decode(&out), Err(DecodeError::ChecksumMismatch { section: "header", .. })));
    }
}
