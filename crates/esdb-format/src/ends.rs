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
