//! Where the bytes of a file come from.
//!
//! Every read of the reader goes through [`Source::read`] with an absolute offset and a length,
//! so a source does not have to hold the whole file in memory: a memory map, a `Bytes` buffer, or
//! ranged reads from object storage behind a block cache all fit.

use std::fmt;
use std::io;
use std::ops::Range;

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

    /// How far away the bytes are, which decides how the reader opens a file and whether it
    /// sends [`hint`](Source::hint)s. [`Distance::Near`] unless a source says otherwise.
    fn distance(&self) -> Distance {
        Distance::Near
    }

    /// Bytes the reader is about to [`read`](Source::read), so that a far source can fetch
    /// them in fewer round trips (in one request, ahead of time) while a near one ignores them.
    /// Hints come in the order the reader will read. A hint is advice: the reader still reads
    /// every range it needs; a hinted range may reach past what it will read (a stream's block
    /// index with room for its first block) and past [`len`](Source::len). Only sent to a
    /// [`Distance::Far`] source.
    fn hint(&self, range: Range<u64>) {
        let _ = range;
    }
}

/// Whether each read of a [`Source`] is cheap or a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Reads are cheap (memory, a local file): the reader reads what it needs when it needs it,
    /// and opens a file by reading its header and its footer.
    Near,
    /// Each read that misses the source's cache is a round trip (object storage, HTTP): the
    /// reader opens a file from one read of its end, [`SUFFIX_READ_LEN`] bytes, without reading
    /// its header (the footer repeats the magic and the version; `verify` checks the header),
    /// and hints the source where it will read next.
    Far,
}

/// How many bytes at the end of a file a reader of a [`Distance::Far`] source reads first:
/// the footer, the metadata block and the tail region of the catalog in one read for most files
/// (FORMAT.md, "Reading guidance").
pub const SUFFIX_READ_LEN: u64 = 256 * 1024;

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
