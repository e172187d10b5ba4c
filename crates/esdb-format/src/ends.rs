//! The one place that dispatches on the format version: the header and the footer, decoded into
//! the types every reader uses whatever the file's version.

use crate::error::DecodeError;
use crate::v1::header::{self, Header};
use crate::v2::footer::Footer;

/// The longest footer of any version: read this many bytes (or the whole file, if shorter) at
/// the end of a file to decode it with [`decode`].
pub const MAX_FOOTER_LEN: usize = crate::v2::footer::LEN;

/// The major versions this build reads.
pub const SUPPORTED_MAJORS: std::ops::RangeInclusive<u16> = 1..=crate::FORMAT_MAJOR;

/// Decodes the header (the first [`header::LEN`] bytes of the file) and the footer, from `end`:
/// the last bytes of a file of `file_len` bytes, at least as many as its version's footer has
/// (reading [`MAX_FOOTER_LEN`] always is).
///
/// The header's major version decides how the footer is read; the footer MUST carry the same.
///
/// # Errors
/// A bad header or footer (see [`Header::decode`], [`crate::v1::footer::Footer::decode`] and
/// [`Footer::decode`]), a file too short for its version, or a footer of another version.
pub fn decode(head: &[u8], end: &[u8], file_len: u64) -> Result<(Header, Footer), DecodeError> {
    let header = Header::decode(head)?;
    let footer_len = match header.major {
        1 => crate::v1::footer::LEN,
        _ => crate::v2::footer::LEN,
    };
    let min_len = (header::LEN + footer_len) as u64;
    if file_len < min_len || end.len() < footer_len {
        return Err(DecodeError::Truncated {
            field: "file",
            offset: 0,
            need: min_len,
            have: file_len.min(end.len() as u64),
        });
    }
    let footer_bytes = &end[end.len() - footer_len..];
    let footer = match header.major {
        1 => Footer::from(crate::v1::footer::Footer::decode(footer_bytes, file_len)?),
        _ => Footer::decode(footer_bytes, file_len)?,
    };
    if footer.major != header.major {
        return Err(DecodeError::invalid(
            "footer major version",
            file_len - footer_len as u64,
            format!("footer says {}, header says {}", footer.major, header.major),
        ));
    }
    Ok((header, footer))
}

/// Length of the part of every footer, whatever its version, that ends the file: `major`,
/// `minor`, reserved bytes, magic and checksum sit in the same place counted from the end.
pub const COMMON_END_LEN: usize = 24;

/// Decodes the footer alone from `end` (the last bytes of a file of `file_len` bytes, at least
/// as many as its version's footer has), dispatching on the major version the footer carries:
/// what a reader far away does to open a file without a read of its header. The header only
/// repeats the footer's magic and version; [`decode`] checks both agree.
///
/// # Errors
/// A bad footer, a file too short for its version, or a major version this build does not read.
pub fn decode_footer(end: &[u8], file_len: u64) -> Result<Footer, DecodeError> {
    let min_len = (header::LEN + COMMON_END_LEN) as u64;
    if file_len < min_len || end.len() < COMMON_END_LEN {
        return Err(DecodeError::Truncated {
            field: "file",
            offset: 0,
            need: min_len,
            have: file_len.min(end.len() as u64),
        });
    }
    let common = &end[end.len() - COMMON_END_LEN..];
    let found: [u8; 8] = common[8..16].try_into().expect("common end is 24 bytes");
    let common_at = file_len - COMMON_END_LEN as u64;
    if found != crate::MAGIC {
        return Err(DecodeError::BadMagic { section: "footer", offset: common_at + 8, expected: crate::MAGIC, found });
    }
    let major = u16::from_le_bytes([common[0], common[1]]);
    let minor = u16::from_le_bytes([common[2], common[3]]);
    let footer_len = match major {
        1 => crate::v1::footer::LEN,
        2 => crate::v2::footer::LEN,
        _ => {
            return Err(DecodeError::UnsupportedVersion {
                section: "footer",
                found_major: major,
                found_minor: minor,
                supported_major: crate::FORMAT_MAJOR,
            })
        }
    };
    let min_len = (header::LEN + footer_len) as u64;
    if file_len < min_len || end.len() < footer_len {
        return Err(DecodeError::Truncated {
            field: "file",
            offset: 0,
            need: min_len,
            have: file_len.min(end.len() as u64),
        });
    }
    let footer_bytes = &end[end.len() - footer_len..];
    match major {
        1 => Ok(Footer::from(crate::v1::footer::Footer::decode(footer_bytes, file_len)?)),
        _ => Footer::decode(footer_bytes, file_len),
    }
}
