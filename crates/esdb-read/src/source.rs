//! Where the bytes of a file come from.
//!
//! Every read of the reader goes through [`Source::read`] with an absolute offset and a length,
//! so a source does not have to hold the whole file in memory: a memory map, a `Bytes` buffer, or
//! ranged reads from object storage behind a block cache all fit.

use std::fmt;
use std::io;

use bytes::Bytes;

/// Random-access bytes of one ESDB file.
///
/// Implementations must be cheap to call concurrently from many threads.
pub trait Source: Send + Sync + fmt::Debug + 'static {
    /// Length of the file in bytes.
    fn len(&self) -> u64;

    /// True when the file is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `len` bytes at absolute offset `offset`. The reader only asks for ranges within
    /// [`len`](Source::len).
    ///
    /// # Errors
    /// Any I/O error; the reader reports it with the offset and length.
    fn read(&self, offset: u64, len: usize) -> io::Result<Bytes>;
}

impl Source for Bytes {
    fn len(&self) -> u64 {
        Bytes::len(self) as u64
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let start = usize::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        match start.checked_add(len) {
            Some(end) if end <= Bytes::len(self) => Ok(self.slice(start..end)),
            _ => Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("range {offset}+{len} is past the end"))),
        }
    }
}
