//! The writer's file operations, behind a hook that can fail any of them: how the tests prove
//! that a failure at any point leaves no target file and no temporary file behind.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A kind of file operation the writer performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoOp {
    /// Creating a temporary file (the output or a spill file).
    Create,
    /// One write call to a file.
    Write,
    /// Flushing buffered writes to a file.
    Flush,
    /// `fsync` of the output file.
    Sync,
    /// Renaming the finished output into place.
    Rename,
    /// `fsync` of the output's directory.
    SyncDir,
    /// One read call from a spill file.
    Read,
}

/// Called before every file operation of a writer. Returning an error makes that operation fail
/// as if the operating system had refused it.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use esdb_write::io::{IoHook, IoOp};
///
/// /// Fails the third write.
/// #[derive(Debug, Default)]
/// struct ThirdWriteFails(AtomicU64);
///
/// impl IoHook for ThirdWriteFails {
///     fn before(&self, op: IoOp, _path: &std::path::Path) -> std::io::Result<()> {
///         if op == IoOp::Write && self.0.fetch_add(1, Ordering::SeqCst) == 2 {
///             return Err(std::io::Error::other("injected"));
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait IoHook: Send + Sync + fmt::Debug {
    /// Called before `op` on `path`.
    fn before(&self, op: IoOp, path: &Path) -> io::Result<()>;
}

/// The hook of ordinary writers: every operation proceeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl IoHook for NoHook {
    fn before(&self, _op: IoOp, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The hook shared by the parts of one writer.
pub(crate) type Hook = Arc<dyn IoHook>;

/// A file whose reads and writes pass through the hook.
pub(crate) struct HookedFile<'f> {
    pub(crate) file: &'f File,
    pub(crate) path: PathBuf,
    pub(crate) hook: Hook,
}

impl Write for HookedFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hook.before(IoOp::Write, &self.path)?;
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.hook.before(IoOp::Flush, &self.path)?;
        self.file.flush()
    }
}

/// A spill file read back through the hook.
pub(crate) struct HookedRead {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    pub(crate) hook: Hook,
}

impl Read for HookedRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.hook.before(IoOp::Read, &self.path)?;
        self.file.read(buf)
    }
}
