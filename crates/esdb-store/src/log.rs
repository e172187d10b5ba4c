//! The append side of the log: the active segment, its write buffer, offsets, and the window of
//! recent event ids that makes retries idempotent.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::io::Fs;
use crate::record;

/// Bytes buffered before the appender writes them to the segment itself.
pub const WRITE_BUFFER_LEN: usize = 256 << 10;
/// Size of a fresh arena for the tail's records.
pub const ARENA_LEN: usize = 256 << 10;

/// The segment being appended to.
#[derive(Debug)]
pub struct LogWriter {
    /// The active segment's file.
    pub file: Arc<File>,
    /// Its path.
    pub path: PathBuf,
    /// Its first offset.
    pub base: u64,
    /// Its length: written plus buffered bytes.
    pub len: u64,
    /// Records not yet written to the file.
    pub buf: Vec<u8>,
    /// `(start, end, event)` of each record the append being made adds to `buf`, relative to
    /// where the append started; kept to reuse its allocation.
    pub added: Vec<(usize, usize, usize)>,
    /// Where the tail's copies of records are cut from: one allocation for many records, freed
    /// once sealing has dropped all of them.
    pub arena: BytesMut,
    /// The offset the next event gets.
    pub next_offset: u64,
    /// Append time of the newest event.
    pub last_append_ms: Option<u64>,
    /// Recently accepted ids.
    pub dedupe: Dedupe,
    /// Set by the first failed write or fsync; the log then refuses appends.
    pub poisoned: Option<String>,
    /// The file operations, behind the store's hook.
    pub fs: Fs,
}

impl LogWriter {
    /// A copy of `buf[from..]` (the records an append just added) cut from the arena, for the
    /// tail.
    pub fn copy_added(&mut self, from: usize) -> Bytes {
        let added = &self.buf[from..];
        if self.arena.capacity() - self.arena.len() < added.len() {
            self.arena = BytesMut::with_capacity(ARENA_LEN.max(added.len()));
        }
        self.arena.extend_from_slice(added);
        self.arena.split().freeze()
    }

    /// Writes the buffer to the file. A failure poisons the log: what reached the disk is unknown.
    pub fn flush(&mut self) -> Result<()> {
        self.check()?;
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(err) = self.fs.write_all(&self.file, &self.path, &self.buf) {
            self.poisoned = Some(err.to_string());
            return Err(err);
        }
        self.buf.clear();
        Ok(())
    }

    /// Writes the buffer and fsyncs the segment.
    pub fn flush_and_sync(&mut self) -> Result<()> {
        self.flush()?;
        if let Err(err) = self.fs.sync_data(&self.file, &self.path) {
            self.poisoned = Some(err.to_string());
            return Err(err);
        }
        Ok(())
    }

    /// Fails if an earlier write or fsync failed.
    pub fn check(&self) -> Result<()> {
        match &self.poisoned {
            Some(reason) => Err(Error::Poisoned { reason: reason.clone() }),
            None => Ok(()),
        }
    }
}

/// Creates a segment file of store `store_id` starting at `base` with its header, fsynced.
pub fn create_segment(fs: &Fs, path: &Path, base: u64, store_id: [u8; 16]) -> Result<File> {
    let file = fs.create_new(path)?;
    let written =
        fs.write_all(&file, path, &record::segment_header(base, store_id)).and_then(|()| fs.sync_all(&file, path));
    if let Err(err) = written {
        let _ = fs.remove(path);
        return Err(err);
    }
    Ok(file)
}

/// Opens an existing segment for appending after its first `valid_len` bytes, cutting off a torn
/// end beyond them, and fsyncs it: what recovery keeps is durable before anyone reads it.
pub fn reopen_segment(fs: &Fs, path: &Path, valid_len: u64) -> Result<File> {
    let file = OpenOptions::new().read(true).append(true).open(path).map_err(Error::io("open segment", path))?;
    let len = file.metadata().map_err(Error::io("stat segment", path))?.len();
    if len != valid_len {
        fs.set_len(&file, path, valid_len)?;
    }
    fs.sync_all(&file, path)?;
    Ok(file)
}

/// Ids accepted among the last `window` offsets, and the offset each got.
#[derive(Debug)]
pub struct Dedupe {
    window: u64,
    ids: HashMap<Bytes, u64>,
    order: VecDeque<(u64, Bytes)>,
}

impl Dedupe {
    /// An empty window of `window` offsets (0 turns deduplication off).
    pub fn new(window: u64) -> Dedupe {
        Dedupe { window, ids: HashMap::new(), order: VecDeque::new() }
    }

    /// The offset `id` was accepted at, if that is within the window of `next_offset`.
    pub fn get(&self, id: &[u8], next_offset: u64) -> Option<u64> {
        self.ids.get(id).copied().filter(|offset| offset + self.window >= next_offset)
    }

    /// Records that `id` was accepted at `offset`; forgets ids that fell out of the window.
    pub fn insert(&mut self, id: &[u8], offset: u64) {
        if self.window == 0 {
            return;
        }
        let id = Bytes::copy_from_slice(id);
        self.ids.insert(id.clone(), offset);
        self.order.push_back((offset, id));
        self.expire(offset + 1);
    }

    /// Forgets ids accepted before `next_offset - window`.
    pub fn expire(&mut self, next_offset: u64) {
        while let Some((offset, _)) = self.order.front() {
            if offset + self.window >= next_offset {
                break;
            }
            let (offset, id) = self.order.pop_front().expect("front exists");
            if self.ids.get(&id) == Some(&offset) {
                self.ids.remove(&id);
            }
        }
    }
}
