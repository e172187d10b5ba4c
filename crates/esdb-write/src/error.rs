//! Errors of the writer: caller mistakes (with the field and the limit) and I/O (with the path).

use std::path::{Path, PathBuf};

/// Why a [`Writer`](crate::Writer) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A field of an event passed to `add` has a length outside its allowed range. The event was
    /// not added; everything added before is kept.
    #[error("{field} is {len} bytes long, allowed are {min}..={max}")]
    FieldLength {
        /// Which field: `space`, `grouping`, `index name`, `index value` or `data`.
        field: &'static str,
        /// Position of the index entry in the call, for index fields.
        index_entry: Option<usize>,
        /// The length given.
        len: usize,
        /// Smallest allowed length.
        min: usize,
        /// Largest allowed length.
        max: usize,
    },
    /// `WriterOptions` holds a value the writer cannot work with.
    #[error("invalid writer option {option}: {reason}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The target file already exists; the writer never overwrites.
    #[error("{} already exists; ESDB never overwrites a file", .path.display())]
    AlreadyExists {
        /// The target path.
        path: PathBuf,
    },
    /// An I/O operation failed.
    #[error("cannot {action} {}", .path.display())]
    Io {
        /// What the writer was doing, e.g. `write temporary file`.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl WriteError {
    /// Wraps an I/O error of `action` on `path`; the path is copied only when there is an error,
    /// so that the wrapper costs nothing on the hot paths that build it for every record.
    pub(crate) fn io<'p>(action: &'static str, path: &'p Path) -> impl FnOnce(std::io::Error) -> WriteError + 'p {
        move |source| WriteError::Io { action, path: path.to_path_buf(), source }
    }
}

impl From<WriteError> for std::io::Error {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::Io { source, .. } => source,
            WriteError::AlreadyExists { .. } => std::io::Error::new(std::io::ErrorKind::AlreadyExists, err),
            other => std::io::Error::new(std::io::ErrorKind::InvalidInput, other),
        }
    }
}
