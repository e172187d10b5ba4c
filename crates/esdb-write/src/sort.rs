//! External sort of `(key, value)` byte records by key, in bounded memory.
//!
//! Records are buffered in one arena; past the memory limit the buffer is sorted and spilled as a
//! run to a temporary file, and [`Sorter::finish`] merges the runs. Keys are compared bytewise,
//! so callers encode whatever order they need into the key (see `record.rs`). Keys must be unique,
//! which makes the order, and so the output file, deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use crate::io::{Hook, HookedFile, HookedRead, IoOp};
use crate::WriteError;

/// Bookkeeping bytes per buffered record, counted against the memory limit.
const ENTRY_COST: usize = size_of::<Entry>();
/// Runs merged at once; more runs are first merged into larger runs.
const MAX_FAN_IN: usize = 64;
/// Read buffer of each run during a merge.
const RUN_BUFFER_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
struct Entry {
    start: usize,
    key_len: u32,
    value_len: u32,
}

/// Buffers records and hands them back sorted by key.
#[derive(Debug)]
pub(crate) struct Sorter {
    dir: PathBuf,
    hook: Hook,
    limit: usize,
    arena: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<NamedTempFile>,
}

impl Sorter {
    /// A sorter that keeps at most about `limit` bytes in memory and spills runs into `dir`.
    pub(crate) fn new(dir: &Path, limit: usize, hook: Hook) -> Self {
        Sorter { dir: dir.to_path_buf(), hook, limit, arena: Vec::new(), entries: Vec::new(), runs: Vec::new() }
    }

    /// Bytes of buffered records and bookkeeping.
    pub(crate) fn buffered_len(&self) -> usize {
        self.arena.len() + self.entries.len() * ENTRY_COST
    }

    /// Adds a record, spilling the buffer first if the record would push it past the limit.
    pub(crate) fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), WriteError> {
        let cost = key.len() + value.len() + ENTRY_COST;
        if !self.entries.is_empty() && self.buffered_len() + cost > self.limit {
            self.spill()?;
        }
        let start = self.arena.len();
        let needed = start + key.len() + value.len();
        if needed > self.arena.capacity() {
            // Grow by doubling, but never past the limit, so that capacity tracks the budget.
            let target = (self.arena.capacity() * 2).clamp(needed, needed.max(self.limit));
            self.arena.reserve_exact(target - start);
        }
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
        self.entries.push(Entry { start, key_len: key.len() as u32, value_len: value.len() as u32 });
        Ok(())
    }

    fn key(&self, entry: &Entry) -> &[u8] {
        &self.arena[entry.start..entry.start + entry.key_len as usize]
    }

    fn sort_buffer(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        entries.sort_unstable_by(|a, b| self.key(a).cmp(self.key(b)));
        self.entries = entries;
    }

    fn spill(&mut self) -> Result<(), WriteError> {
        self.sort_buffer();
        let run = new_run_file(&self.dir, &self.hook)?;
        let path = run.path().to_path_buf();
        let mut out = BufWriter::with_capacity(
            RUN_BUFFER_LEN,
            HookedFile { file: run.as_file(), path: path.clone(), hook: self.hook.clone() },
        );
        for entry in &self.entries {
            let key_end = entry.start + entry.key_len as usize;
            let value = &self.arena[key_end..key_end + entry.value_len as usize];
            write_record(&mut out, &self.arena[entry.start..key_end], value)
                .map_err(WriteError::io("write spill file", &path))?;
        }
        out.flush().map_err(WriteError::io("write spill file", &path))?;
        drop(out);
        self.runs.push(run);
        self.arena.clear();
        self.entries.clear();
        Ok(())
    }

    /// Drops every buffered record and spill file.
    pub(crate) fn clear(&mut self) {
        self.arena.clear();
        self.entries.clear();
        self.runs.clear();
    }

    /// Sorts what is buffered and returns every record in key order. The sorter is empty
    /// afterwards and can be reused.
    pub(crate) fn finish(&mut self) -> Result<Sorted<'_>, WriteError> {
        if self.runs.is_empty() {
            self.sort_buffer();
            return Ok(Sorted::Memory { sorter: self, next_idx: 0 });
        }
        if !self.entries.is_empty() {
            self.spill()?;
        }
        self.arena = Vec::new();
        self.entries = Vec::new();
        while self.runs.len() > MAX_FAN_IN {
            let group: Vec<NamedTempFile> = self.runs.drain(..MAX_FAN_IN).collect();
            let merged = new_run_file(&self.dir, &self.hook)?;
            let path = merged.path().to_path_buf();
            let mut out = BufWriter::with_capacity(
                RUN_BUFFER_LEN,
                HookedFile { file: merged.as_file(), path: path.clone(), hook: self.hook.clone() },
            );
            let mut merge = Merge::new(group, &self.hook)?;
            while let Some((key, value)) = merge.next()? {
                write_record(&mut out, key, value).map_err(WriteError::io("write spill file", &path))?;
            }
            out.flush().map_err(WriteError::io("write spill file", &path))?;
            drop(out);
            self.runs.push(merged);
        }
        let runs = std::mem::take(&mut self.runs);
        Ok(Sorted::Merge(Merge::new(runs, &self.hook)?))
    }
}

fn new_run_file(dir: &Path, hook: &Hook) -> Result<NamedTempFile, WriteError> {
    hook.before(IoOp::Create, dir).map_err(WriteError::io("create spill file in", dir))?;
    tempfile::Builder::new()
        .prefix(".esdb-spill-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(WriteError::io("create spill file in", dir))
}

fn write_record(out: &mut impl Write, key: &[u8], value: &[u8]) -> io::Result<()> {
    out.write_all(&(key.len() as u32).to_le_bytes())?;
    out.write_all(&(value.len() as u32).to_le_bytes())?;
    out.write_all(key)?;
    out.write_all(value)
}

/// A `(key, value)` record borrowed from the sorter.
pub(crate) type Record<'r> = (&'r [u8], &'r [u8]);

/// Records in key order, either from memory or merged from spilled runs.
pub(crate) enum Sorted<'s> {
    Memory { sorter: &'s mut Sorter, next_idx: usize },
    Merge(Merge),
}

impl Sorted<'_> {
    /// The next record; the slices live until the next call.
    pub(crate) fn next(&mut self) -> Result<Option<Record<'_>>, WriteError> {
        match self {
            Sorted::Memory { sorter, next_idx } => {
                let Some(entry) = sorter.entries.get(*next_idx).copied() else {
                    sorter.arena.clear();
                    sorter.entries.clear();
                    return Ok(None);
                };
                *next_idx += 1;
                let key_end = entry.start + entry.key_len as usize;
                Ok(Some((
                    &sorter.arena[entry.start..key_end],
                    &sorter.arena[key_end..key_end + entry.value_len as usize],
                )))
            }
            Sorted::Merge(merge) => merge.next(),
        }
    }
}

impl Drop for Sorted<'_> {
    fn drop(&mut self) {
        if let Sorted::Memory { sorter, .. } = self {
            sorter.arena.clear();
            sorter.entries.clear();
        }
    }
}

struct RunReader {
    reader: BufReader<HookedRead>,
    path: PathBuf,
    // Keeps the file alive (and deletes it on drop).
    _run: NamedTempFile,
}

struct Head {
    key: Vec<u8>,
    value: Vec<u8>,
    run_idx: usize,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    // Reversed, so that the max-heap yields the smallest key first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key).then_with(|| other.run_idx.cmp(&self.run_idx))
    }
}

/// A k-way merge of sorted runs.
pub(crate) struct Merge {
    runs: Vec<RunReader>,
    heap: BinaryHeap<Head>,
    current: Option<Head>,
}

impl Merge {
    fn new(runs: Vec<NamedTempFile>, hook: &Hook) -> Result<Merge, WriteError> {
        let mut merge = Merge { runs: Vec::with_capacity(runs.len()), heap: BinaryHeap::new(), current: None };
        for (run_idx, run) in runs.into_iter().enumerate() {
            let path = run.path().to_path_buf();
            let file = run.reopen().map_err(WriteError::io("reopen spill file", &path))?;
            let file = HookedRead { file, path: path.clone(), hook: hook.clone() };
            merge.runs.push(RunReader { reader: BufReader::with_capacity(RUN_BUFFER_LEN, file), path, _run: run });
            let mut head = Head { key: Vec::new(), value: Vec::new(), run_idx };
            if merge.read_into(&mut head)? {
                merge.heap.push(head);
            }
        }
        Ok(merge)
    }

    fn read_into(&mut self, head: &mut Head) -> Result<bool, WriteError> {
        let run = &mut self.runs[head.run_idx];
        let mut lens = [0u8; 8];
        match run.reader.read_exact(&mut lens) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(err) => return Err(WriteError::io("read spill file", &run.path)(err)),
        }
        let key_len = u32::from_le_bytes(lens[..4].try_into().expect("4 bytes")) as usize;
        let value_len = u32::from_le_bytes(lens[4..].try_into().expect("4 bytes")) as usize;
        head.key.resize(key_len, 0);
        head.value.resize(value_len, 0);
        run.reader.read_exact(&mut head.key).map_err(WriteError::io("read spill file", &run.path))?;
        run.reader.read_exact(&mut head.value).map_err(WriteError::io("read spill file", &run.path))?;
        Ok(true)
    }

    fn next(&mut self) -> Result<Option<Record<'_>>, WriteError> {
        if let Some(mut previous) = self.current.take() {
            if self.read_into(&mut previous)? {
                self.heap.push(previous);
            }
        }
        self.current = self.heap.pop();
        Ok(self.current.as_ref().map(|head| (&head.key[..], &head.value[..])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(sorted: &mut Sorted<'_>) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((key, value)) = sorted.next().unwrap() {
            out.push((key.to_vec(), value.to_vec()));
        }
        out
    }

    fn records(n: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
        // A fixed permutation of 0..n, so the input is far from sorted.
        (0..n)
            .map(|i| ((i * 7919 % n).to_le_bytes().iter().rev().copied().collect(), vec![i as u8; (i % 5) as usize]))
            .collect()
    }

    #[test]
    fn sorts_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(dir.path(), 1 << 20, std::sync::Arc::new(crate::io::NoHook));
        let input = records(1000);
        for (k, v) in &input {
            sorter.push(k, v).unwrap();
        }
        assert!(sorter.runs.is_empty());
        let mut expected = input.clone();
        expected.sort();
        assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
    }

    #[test]
    fn spills_and_merges_more_runs_than_the_fan_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = Sorter::new(dir.path(), 256, std::sync::Arc::new(crate::io::NoHook));
        let input = records(3000);
        for (k, v) in &input {
            sorter.push(k, v).unwrap();
        }
        assert!(sorter.runs.len() > MAX_FAN_IN, "only {} runs", sorter.runs.len());
        let mut expected = input.clone();
        expected.sort();
        assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files must be removed");
    }
}
