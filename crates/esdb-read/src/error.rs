//! Errors of the reader.

use std::path::PathBuf;

pub use esdb_format::DecodeError;

/// Why opening or reading an ESDB file failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or mapped.
    Open {
        /// What the reader was doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading a range from the source failed.
    Read {
        /// Absolute offset of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid ESDB file, or is corrupt: the inner error names the field and the
    /// absolute file offset, and the message includes it.
    Decode(DecodeError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Open { action, path, .. } => write!(f, "cannot {action} {}", path.display()),
            Error::Read { offset, len, .. } => write!(f, "cannot read {len} bytes at offset {offset}"),
            Error::Decode(err) => write!(f, "corrupt or unsupported ESDB file: {err}"),
        }
    }
}

/// The io error behind `Open` and `Read`. A decode error is part of the message instead (see
/// [`Error::as_decode`]), so that a chain of causes does not print it twice.
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Open { source, .. } | Error::Read { source, .. } => Some(source),
            Error::Decode(_) => None,
        }
    }
}

impl From<DecodeError> for Error {
    fn from(err: DecodeError) -> Self {
        Error::Decode(err)
    }
}

impl Error {
    /// The decode error behind this error, if the file's contents are at fault.
    pub fn as_decode(&self) -> Option<&DecodeError> {
        match self {
            Error::Decode(err) => Some(err),
            _ => None,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Open { source, .. } | Error::Read { source, .. } => source,
            Error::Decode(err) => err.into(),
        }
    }
}

/// Result of reader operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;
