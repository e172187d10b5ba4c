//! Errors of the reader.

use std::path::PathBuf;

pub use esdb_format::DecodeError;

/// Why opening or reading an ESDB file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or mapped.
    #[error("cannot {action} {}", .path.display())]
    Open {
        /// What the reader was doing.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading a range from the source failed.
    #[error("cannot read {len} bytes at offset {offset}")]
    Read {
        /// Absolute offset of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid ESDB file, or is corrupt: the inner error names the field and the
    /// absolute file offset.
    #[error("corrupt or unsupported ESDB file")]
    Decode(#[from] DecodeError),
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
