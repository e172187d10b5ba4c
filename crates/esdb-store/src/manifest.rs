//! The manifest: the one file that says which segments and partitions make up the store.
//! It is replaced atomically (write `MANIFEST.tmp`, fsync, rename, fsync the directory), so
//! after a crash it is either the old or the new one. Layout in `docs/STORE.md`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Name of the manifest in the store directory.
pub const MANIFEST: &str = "MANIFEST";
const MANIFEST_TMP: &str = "MANIFEST.tmp";
const FORMAT: &str = "esdb-store";
const VERSION: u32 = 1;
/// Directory of the log segments.
pub const LOG_DIR: &str = "log";
/// Directory of the sealed partitions.
pub const PARTITION_DIR: &str = "partitions";

/// The store's state as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `esdb-store`.
    pub format: String,
    /// Layout version of the store directory.
    pub version: u32,
    /// Width of a partition window, in timestamp units.
    pub partition_window: i64,
    /// Events below this offset are in partitions (or were retained away); the rest is the tail.
    pub sealed_through: u64,
    /// First offset the log still holds.
    pub log_start: u64,
    /// Sequence number of the next partition written.
    pub next_partition_seq: u64,
    /// Log segments, oldest first; the last is the active one.
    pub segments: Vec<SegmentMeta>,
    /// Sealed partitions, by sequence number.
    pub partitions: Vec<PartitionMeta>,
}

/// One log segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Offset of its first record.
    pub base: u64,
    /// One past its last offset, once the segment is closed.
    pub end: Option<u64>,
    /// Append time of its last record (ms since the Unix epoch), once closed and not empty.
    pub last_append_ms: Option<u64>,
}

/// One sealed partition: an ordinary ESDB file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMeta {
    /// Sequence number: later partitions of a window hold later offsets.
    pub seq: u64,
    /// The window: timestamps `window * partition_window .. (window + 1) * partition_window`.
    pub window: i64,
    /// Its file, relative to the store directory.
    pub file: String,
    /// Events in it.
    pub events: u64,
    /// Smallest timestamp.
    pub min_ts: i64,
    /// Largest timestamp.
    pub max_ts: i64,
    /// Smallest offset of an event in it.
    pub first_offset: u64,
    /// Largest offset of an event in it.
    pub last_offset: u64,
}

impl SegmentMeta {
    /// The segment's file, relative to the store directory.
    pub fn file(&self) -> String {
        segment_file(self.base)
    }
}

/// The file of the segment starting at `base`.
pub fn segment_file(base: u64) -> String {
    format!("{LOG_DIR}/{base:020}.log")
}

/// The file of partition `seq` of `window`.
pub fn partition_file(seq: u64, window: i64) -> String {
    format!("{PARTITION_DIR}/{seq:010}-w{window}.esdb")
}

impl Manifest {
    /// The manifest of a new, empty store.
    pub fn new(partition_window: i64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            partition_window,
            sealed_through: 0,
            log_start: 0,
            next_partition_seq: 0,
            segments: vec![SegmentMeta { base: 0, end: None, last_append_ms: None }],
            partitions: Vec::new(),
        }
    }

    /// Reads and checks the manifest of the store in `dir`; `None` if there is none.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::Io { action: "read", path, source: err }),
        };
        let bad = |reason: String| Error::Manifest { path: path.clone(), reason };
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|err| bad(err.to_string()))?;
        manifest.check().map_err(bad)?;
        Ok(Some(manifest))
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is {:?}, expected {FORMAT:?}", self.format));
        }
        if self.version != VERSION {
            return Err(format!("version {} is not supported (supported: {VERSION})", self.version));
        }
        if self.partition_window < 1 {
            return Err("partition_window must be at least 1".into());
        }
        let Some(active) = self.segments.last() else { return Err("no log segment".into()) };
        if active.end.is_some() {
            return Err("the last segment must be the active one (no end)".into());
        }
        for (idx, pair) in self.segments.windows(2).enumerate() {
            if pair[0].end != Some(pair[1].base) {
                return Err(format!("segment {idx} ends at {:?}, the next starts at {}", pair[0].end, pair[1].base));
            }
        }
        if self.segments[0].base != self.log_start {
            return Err(format!(
                "log_start {} is not the first segment's base {}",
                self.log_start, self.segments[0].base
            ));
        }
        if self.log_start > self.sealed_through {
            return Err(format!("log_start {} is past sealed_through {}", self.log_start, self.sealed_through));
        }
        let mut files = std::collections::HashSet::new();
        for partition in &self.partitions {
            if partition.seq >= self.next_partition_seq {
                return Err(format!("partition {} is not below next_partition_seq", partition.seq));
            }
            if partition.file != partition_file(partition.seq, partition.window) || !files.insert(&partition.file) {
                return Err(format!(
                    "partition {} has an unexpected or repeated file {:?}",
                    partition.seq, partition.file
                ));
            }
            if partition.last_offset >= self.sealed_through {
                return Err(format!("partition {} holds offsets past sealed_through", partition.seq));
            }
        }
        Ok(())
    }

    /// Replaces the manifest in `dir` atomically.
    pub fn store(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join(MANIFEST_TMP);
        let mut text = serde_json::to_vec_pretty(self).expect("manifests serialize");
        text.push(b'\n');
        let mut file = File::create(&tmp).map_err(Error::io("create", &tmp))?;
        file.write_all(&text).map_err(Error::io("write", &tmp))?;
        file.sync_all().map_err(Error::io("fsync", &tmp))?;
        drop(file);
        let path = dir.join(MANIFEST);
        fs::rename(&tmp, &path).map_err(Error::io("rename manifest to", &path))?;
        sync_dir(dir)
    }

    /// Every file the manifest references, relative to the store directory.
    pub fn referenced(&self) -> std::collections::HashSet<PathBuf> {
        let segments = self.segments.iter().map(|s| PathBuf::from(s.file()));
        let partitions = self.partitions.iter().map(|p| PathBuf::from(&p.file));
        segments.chain(partitions).collect()
    }
}

/// fsyncs a directory, so that renames and new files in it survive a crash.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(Error::io("fsync directory", dir))
}
