//! Every file operation that changes a store directory goes through [`Fs`], which calls an
//! [`IoHook`] first: how the tests fail (or "crash" at) any single operation of any transition
//! and prove that reopening loses nothing acknowledged.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A kind of file operation the store performs on its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IoOp {
    /// Creating a file (a segment, the manifest's temporary file, a partition's temporary file).
    Create,
    /// Creating a directory.
    CreateDir,
    /// One write to a file.
    Write,
    /// `fsync` of a file.
    Sync,
    /// `fsync` of a directory.
    SyncDir,
    /// A rename (installing the manifest or a partition, quarantining a file).
    Rename,
    /// Deleting a file.
    Remove,
    /// Cutting a file (the torn end of the active segment).
    Truncate,
    /// One read of a spill file while sealing.
    Read,
}

/// Called before every file operation that changes the store directory. Returning an error makes
/// that operation fail as if the operating system had refused it.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use esdb_store::io::{IoHook, IoOp};
///
/// /// Fails every directory fsync.
/// #[derive(Debug, Default)]
/// struct NoDirSync;
///
/// impl IoHook for NoDirSync {
///     fn before(&self, op: IoOp, _path: &std::path::Path) -> std::io::Result<()> {
///         if op == IoOp::SyncDir {
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

/// The hook of ordinary stores: every operation proceeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHook;

impl IoHook for NoHook {
    fn before(&self, _op: IoOp, _path: &Path) -> io::Result<()> {
        Ok(())
    }
}

/// The store's file operations, each behind the hook.
#[derive(Debug, Clone)]
pub struct Fs {
    hook: Arc<dyn IoHook>,
}

impl Default for Fs {
    fn default() -> Self {
        Fs::new(Arc::new(NoHook))
    }
}

impl Fs {
    /// File operations that call `hook` first.
    pub fn new(hook: Arc<dyn IoHook>) -> Fs {
        Fs { hook }
    }

    fn before(&self, op: IoOp, path: &Path, action: &'static str) -> Result<()> {
        self.hook.before(op, path).map_err(Error::io(action, path))
    }

    /// Creates `path`, which must not exist, for reading and appending.
    pub fn create_new(&self, path: &Path) -> Result<File> {
        self.before(IoOp::Create, path, "create")?;
        OpenOptions::new().read(true).append(true).create_new(true).open(path).map_err(Error::io("create", path))
    }

    /// Creates or truncates `path` for writing.
    pub fn create(&self, path: &Path) -> Result<File> {
        self.before(IoOp::Create, path, "create")?;
        File::create(path).map_err(Error::io("create", path))
    }

    /// Creates `path` and its parents.
    pub fn create_dir_all(&self, path: &Path) -> Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        self.before(IoOp::CreateDir, path, "create directory")?;
        fs::create_dir_all(path).map_err(Error::io("create directory", path))
    }

    /// Writes all of `bytes` at the end of `file`.
    pub fn write_all(&self, file: &File, path: &Path, bytes: &[u8]) -> Result<()> {
        self.before(IoOp::Write, path, "write")?;
        (&*file).write_all(bytes).map_err(Error::io("write", path))
    }

    /// Writes all of `bytes` at `offset` of `file`.
    pub fn write_at(&self, file: &File, path: &Path, bytes: &[u8], offset: u64) -> Result<()> {
        self.before(IoOp::Write, path, "write")?;
        file.write_all_at(bytes, offset).map_err(Error::io("write", path))
    }

    /// fsyncs the data of `file`.
    pub fn sync_data(&self, file: &File, path: &Path) -> Result<()> {
        self.before(IoOp::Sync, path, "fsync")?;
        file.sync_data().map_err(Error::io("fsync", path))
    }

    /// fsyncs `file` with its metadata.
    pub fn sync_all(&self, file: &File, path: &Path) -> Result<()> {
        self.before(IoOp::Sync, path, "fsync")?;
        file.sync_all().map_err(Error::io("fsync", path))
    }

    /// fsyncs a directory, so that new names in it survive a crash.
    pub fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.before(IoOp::SyncDir, dir, "fsync directory")?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("fsync directory", dir))
    }

    /// Renames `from` to `to`.
    pub fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.before(IoOp::Rename, to, "rename to")?;
        fs::rename(from, to).map_err(Error::io("rename to", to))
    }

    /// Deletes `path`; a file already gone is no error.
    pub fn remove(&self, path: &Path) -> Result<()> {
        self.before(IoOp::Remove, path, "remove")?;
        match fs::remove_file(path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => Err(Error::io("remove", path)(err)),
            _ => Ok(()),
        }
    }

    /// Cuts `file` to `len` bytes.
    pub fn set_len(&self, file: &File, path: &Path, len: u64) -> Result<()> {
        self.before(IoOp::Truncate, path, "cut")?;
        file.set_len(len).map_err(Error::io("cut", path))
    }

    /// The hook, as the ESDB writer takes it, so that sealing's own file operations are failed
    /// by the same hook.
    pub fn writer_hook(&self) -> Arc<dyn esdb_write::io::IoHook> {
        Arc::new(WriterHook(self.hook.clone()))
    }
}

#[derive(Debug)]
struct WriterHook(Arc<dyn IoHook>);

impl esdb_write::io::IoHook for WriterHook {
    fn before(&self, op: esdb_write::io::IoOp, path: &Path) -> io::Result<()> {
        use esdb_write::io::IoOp as W;
        let op = match op {
            W::Create => IoOp::Create,
            W::Sync => IoOp::Sync,
            W::Rename => IoOp::Rename,
            W::SyncDir => IoOp::SyncDir,
            W::Read => IoOp::Read,
            _ => IoOp::Write,
        };
        self.0.before(op, path)
    }
}
