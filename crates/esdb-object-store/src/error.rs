//! What can go wrong between a reader and an object store, named by URL and byte range.

use std::io;
use std::ops::Range;
use std::sync::Arc;

/// A request to the object store that failed, after its retries.
///
/// The reader sees it as an [`io::Error`] (through [`esdb_read::Source::read`]) whose
/// [`get_ref`](io::Error::get_ref) is this error, so that callers can still tell a missing
/// object from a network failure.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The first request, for the end of the object, failed (a missing object among the causes).
    #[error("{url}: GET of the last {suffix_len} bytes failed after {attempts} attempt(s)")]
    Open {
        /// The object.
        url: String,
        /// The bytes asked for, counted from the end.
        suffix_len: u64,
        /// How many times the request was sent.
        attempts: u32,
        /// The store's error.
        #[source]
        source: Arc<object_store::Error>,
    },
    /// The store answered with an error, or did not answer.
    #[error("{url}: GET bytes {}-{} failed after {attempts} attempt(s)", range.start, range.end.saturating_sub(1))]
    Request {
        /// The object.
        url: String,
        /// The bytes asked for.
        range: Range<u64>,
        /// How many times the request was sent.
        attempts: u32,
        /// The store's error.
        #[source]
        source: Arc<object_store::Error>,
    },
    /// The object is no longer the one that was opened: a write replaced it. Its bytes would not
    /// fit the footer read at open.
    #[error("{url}: GET bytes {}-{}: the object changed since it was opened (ETag {etag})", range.start, range.end.saturating_sub(1))]
    Changed {
        /// The object.
        url: String,
        /// The bytes asked for.
        range: Range<u64>,
        /// The ETag seen at open.
        etag: String,
    },
    /// The store sent fewer or more bytes than asked for.
    #[error("{url}: GET bytes {}-{}: the store sent {got} bytes", range.start, range.end.saturating_sub(1))]
    Length {
        /// The object.
        url: String,
        /// The bytes asked for.
        range: Range<u64>,
        /// How many bytes came.
        got: u64,
    },
}

impl FetchError {
    /// The kind of I/O error this is as an [`io::Error`]: `NotFound` for a missing object,
    /// `PermissionDenied` for a refusal, `UnexpectedEof` for a body cut short.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            FetchError::Open { source, .. } | FetchError::Request { source, .. } => match source.as_ref() {
                object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
                object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. } => {
                    io::ErrorKind::PermissionDenied
                }
                _ => io::ErrorKind::Other,
            },
            FetchError::Changed { .. } => io::ErrorKind::Other,
            FetchError::Length { .. } => io::ErrorKind::UnexpectedEof,
        }
    }
}

impl From<FetchError> for io::Error {
    fn from(err: FetchError) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

/// Opening an object as an ESDB file, or uploading one, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The location is not one this crate knows how to reach.
    #[error("{location}: {reason}")]
    Location {
        /// What was given.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store could not be configured (credentials, region, endpoint).
    #[error("{url}: cannot configure the object store")]
    Configure {
        /// The object.
        url: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The first read of the object failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// Copying a local file to the store failed.
    #[error("cannot upload {} to {url}: {reason}", local.display())]
    Upload {
        /// The object.
        url: String,
        /// The file.
        local: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Deleting an object failed.
    #[error("cannot delete {url}")]
    Delete {
        /// The object.
        url: String,
        /// The store's error.
        #[source]
        source: object_store::Error,
    },
    /// The object was read but is not a valid ESDB file.
    #[error("{url}: not a readable ESDB file")]
    Decode {
        /// The object.
        url: String,
        /// What the reader found.
        #[source]
        source: esdb_read::Error,
    },
}
