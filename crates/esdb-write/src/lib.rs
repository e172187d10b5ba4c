//! Writes ESDB files: immutable, single-file storage for timestamped event streams.
//!
//! A [`Writer`] takes events in any order with [`Writer::add`], keeps its memory within
//! [`WriterOptions::memory_budget`] by spilling sorted runs to temporary files beside the output,
//! and [`Writer::finish`] writes the file under a temporary name, fsyncs it and renames it into
//! place, so the target path either does not exist or holds a complete file.
//!
//! # Overview of types
//! - [`Writer`]: `create`, `add`, `finish`.
//! - [`WriterOptions`], [`Compression`]: block size, memory budget, limits.
//! - [`Summary`]: what `finish` wrote.
//! - [`WriteError`]: caller mistakes (which field, which limit) and I/O errors (which path).
//!
//! Timestamps are plain `i64` in a unit of the caller's choosing (seconds, milliseconds, ...);
//! ESDB only orders by them. The byte layout is specified in `docs/FORMAT.md`.
//!
//! # Example
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("activity.esdb");
//!
//! let mut writer = esdb_write::Writer::create(&path)?;
//! writer.add("customer-1", 1_403_534_919, "", [("type", "page")], r#"{"url":"/"}"#)?;
//! writer.add("customer-1", 1_403_534_923, "", [("type", "purchase")], r#"{"total":"42.99"}"#)?;
//! let summary = writer.finish()?;
//!
//! assert_eq!(summary.n_events, 2);
//! assert!(path.exists());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod assemble;
mod catalog;
mod dictionary;
mod error;
pub mod io;
mod options;
mod output;
mod record;
mod run;
mod sort;
mod stream;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use esdb_format::v1::MAX_KEY_PART_LEN;

pub use error::WriteError;
pub use esdb_format::TimeUnit;
pub use options::{Compression, WriterOptions};

use crate::assemble::Assembler;
use crate::io::{Hook, HookedFile, IoHook, IoOp, NoHook};
use crate::sort::Sorter;

/// Buffer between the assembler and the output file.
const OUTPUT_BUFFER_LEN: usize = 1 << 20;

/// What [`Writer::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The file that now exists.
    pub path: PathBuf,
    /// Events written.
    pub n_events: u64,
    /// Spaces written.
    pub n_spaces: u64,
    /// Smallest timestamp, or 0 for an empty file.
    pub min_ts: i64,
    /// Largest timestamp, or 0 for an empty file.
    pub max_ts: i64,
    /// Size of the file in bytes.
    pub file_len: u64,
}

/// The `indexes` of an event that has none, for [`Writer::add`].
pub const NO_INDEXES: [(&[u8], &[u8]); 0] = [];

/// Writes one ESDB file.
///
/// Memory is bounded by [`WriterOptions::memory_budget`]: past it, events are sorted and spilled
/// to unnamed temporary files in the output's directory (nothing is left however the process
/// ends), which are merged by [`finish`](Writer::finish). Dropping a writer without calling `finish` removes every
/// temporary file and leaves no file at the target path.
#[derive(Debug)]
#[must_use = "a writer writes nothing until `finish` is called"]
pub struct Writer {
    path: PathBuf,
    dir: PathBuf,
    options: WriterOptions,
    hook: Hook,
    sorter: Sorter,
    /// Event data sampled for the zstd dictionary, when the options ask for one.
    sampler: Option<dictionary::Sampler>,
    seq: u64,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Writer {
    /// Starts a file at `path` with default options.
    ///
    /// # Errors
    /// [`WriteError::AlreadyExists`] if `path` exists (ESDB never overwrites), or
    /// [`WriteError::Io`] if its directory cannot be used.
    pub fn create(path: impl AsRef<Path>) -> Result<Writer, WriteError> {
        Writer::create_with(path, WriterOptions::default())
    }

    /// Starts a file at `path` with `options`.
    ///
    /// # Errors
    /// As [`create`](Writer::create), plus [`WriteError::InvalidOption`].
    pub fn create_with(path: impl AsRef<Path>, options: WriterOptions) -> Result<Writer, WriteError> {
        Writer::create_with_hook(path, options, std::sync::Arc::new(NoHook))
    }

    /// Starts a file at `path` with `options`, calling `hook` before every file operation, so
    /// that tests can make any of them fail (see [`io`]).
    ///
    /// # Errors
    /// As [`create_with`](Writer::create_with).
    pub fn create_with_hook(
        path: impl AsRef<Path>,
        options: WriterOptions,
        hook: std::sync::Arc<dyn IoHook>,
    ) -> Result<Writer, WriteError> {
        options.validate()?;
        let path = path.as_ref().to_path_buf();
        if path.symlink_metadata().is_ok() {
            return Err(WriteError::AlreadyExists { path });
        }
        let dir = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let meta = dir.metadata().map_err(WriteError::io("use directory", &dir))?;
        if !meta.is_dir() {
            return Err(WriteError::Io {
                action: "use directory",
                path: dir,
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        // Until `finish`, event records are all the writer buffers.
        let sorter = Sorter::new(&dir, options.memory_budget, hook.clone());
        let sampler = (options.zstd_dictionary > 0 && matches!(options.compression, Compression::Zstd { .. }))
            .then(|| dictionary::Sampler::new(options.zstd_dictionary));
        Ok(Writer { path, dir, options, hook, sorter, sampler, seq: 0, key_buf: Vec::new(), value_buf: Vec::new() })
    }

    /// Records `unit` as the unit of the file's timestamps, replacing
    /// [`WriterOptions::time_unit`]: for callers that learn it while adding events (for example an
    /// import that meets RFC 3339 times). Takes effect in [`finish`](Writer::finish).
    pub fn set_time_unit(&mut self, unit: esdb_format::TimeUnit) {
        self.options.time_unit = Some(unit);
    }

    /// The unit the file will record, if any.
    pub fn time_unit(&self) -> Option<esdb_format::TimeUnit> {
        self.options.time_unit
    }

    /// Events added so far.
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// True when no event was added.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Adds one event.
    ///
    /// - `space`: 1..=65535 bytes; events are looked up by space.
    /// - `timestamp`: any `i64`; events of a grouping are ordered by it, ties by the order of
    ///   `add` calls.
    /// - `grouping`: 0..=65535 bytes; `""` is the default grouping.
    /// - `indexes`: `(name, value)` pairs, name 1..=65535 bytes, value 0..=65535 bytes; a pair
    ///   given twice indexes the event once.
    /// - `data`: 0..=[`WriterOptions::max_data_len`] bytes.
    ///
    /// An event without indexes takes [`NO_INDEXES`] (a bare `[]` leaves the pair type open):
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let mut writer = esdb_write::Writer::create(dir.path().join("f.esdb"))?;
    /// writer.add("s", 1, "", esdb_write::NO_INDEXES, "no indexes")?;
    /// writer.add("s", 2, "", [("type", "click")], "one index")?;
    /// writer.finish()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`WriteError::FieldLength`] when a field is out of range: the event is not added and
    /// nothing added before is lost. [`WriteError::Io`] if spilling to disk fails.
    pub fn add<K, V>(
        &mut self,
        space: impl AsRef<[u8]>,
        timestamp: i64,
        grouping: impl AsRef<[u8]>,
        indexes: impl IntoIterator<Item = (K, V)>,
        data: impl AsRef<[u8]>,
    ) -> Result<(), WriteError>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        let (space, grouping, data) = (space.as_ref(), grouping.as_ref(), data.as_ref());
        check_len("space", None, space.len(), 1, MAX_KEY_PART_LEN)?;
        check_len("grouping", None, grouping.len(), 0, MAX_KEY_PART_LEN)?;
        check_len("data", None, data.len(), 0, self.options.max_data_len)?;
        let owned: Vec<(K, V)> = indexes.into_iter().collect();
        let mut pairs: Vec<(&[u8], &[u8])> = Vec::with_capacity(owned.len());
        for (idx, (name, value)) in owned.iter().enumerate() {
            let (name, value) = (name.as_ref(), value.as_ref());
            check_len("index name", Some(idx), name.len(), 1, MAX_KEY_PART_LEN)?;
            check_len("index value", Some(idx), value.len(), 0, MAX_KEY_PART_LEN)?;
            pairs.push((name, value));
        }
        pairs.sort_unstable();
        pairs.dedup();

        record::event_group(space, grouping, &mut self.key_buf);
        record::event_value(&pairs, data, &mut self.value_buf);
        self.sorter.push(&self.key_buf, record::order(timestamp, self.seq), &self.value_buf)?;
        if let Some(sampler) = &mut self.sampler {
            sampler.offer(self.seq, data);
        }
        self.seq += 1;
        Ok(())
    }

    /// Writes the file and moves it into place.
    ///
    /// The file is written under a temporary name in the target's directory, fsynced, renamed to
    /// the target (refusing to replace a file that appeared meanwhile) and the directory is
    /// fsynced. On error, the target does not exist and no temporary file remains.
    ///
    /// # Errors
    /// [`WriteError::Io`] naming the file that failed; [`WriteError::AlreadyExists`] if the target
    /// appeared since [`create`](Writer::create).
    pub fn finish(mut self) -> Result<Summary, WriteError> {
        let file_name = self.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        self.hook.before(IoOp::Create, &self.dir).map_err(WriteError::io("create temporary file in", &self.dir))?;
        let prefix = format!(".{file_name}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(".tmp");
        // The finished file gets the mode any new file would (0666 less the umask), not the
        // temporary file's private 0600: it is renamed into place as it is.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
        let temp = builder.tempfile_in(&self.dir).map_err(WriteError::io("create temporary file in", &self.dir))?;
        let temp_path = temp.path().to_path_buf();
        // Postings and timelines are buffered while the events are written out, in what the
        // events leave of the budget. Events filling more than three quarters of it go to a run
        // first, so that postings never get less than a quarter.
        let budget = self.options.memory_budget;
        if self.sorter.held_by_finish() > budget / 4 * 3 {
            self.sorter.spill()?;
        }
        let postings_budget = budget - self.sorter.held_by_finish();
        let dictionary = self.sampler.take().and_then(dictionary::Sampler::train);
        let mut assembler = Assembler::new(
            BufWriter::with_capacity(
                OUTPUT_BUFFER_LEN,
                HookedFile { file: temp.as_file(), path: temp_path.clone(), hook: self.hook.clone() },
            ),
            &self.options,
            postings_budget,
            &temp_path,
            &self.dir,
            &self.hook,
            dictionary,
        )?;
        let mut sorted = self.sorter.finish()?;
        while let Some(record) = sorted.next()? {
            assembler.add(record)?;
        }
        drop(sorted);
        let (writer, totals, file_len) = assembler.finish()?;
        drop(writer);
        self.hook
            .before(IoOp::Sync, &temp_path)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(WriteError::io("fsync", &temp_path))?;
        self.hook.before(IoOp::Rename, &self.path).map_err(WriteError::io("rename temporary file to", &self.path))?;
        temp.persist_noclobber(&self.path).map_err(|err| {
            if err.error.kind() == std::io::ErrorKind::AlreadyExists {
                WriteError::AlreadyExists { path: self.path.clone() }
            } else {
                WriteError::Io { action: "rename temporary file to", path: self.path.clone(), source: err.error }
            }
        })?;
        let synced = self.hook.before(IoOp::SyncDir, &self.dir).and_then(|()| File::open(&self.dir)?.sync_all());
        if let Err(source) = synced {
            // The rename may not survive a crash, so the promise of `finish` (a complete file or
            // none) is only kept by removing it.
            let _ = std::fs::remove_file(&self.path);
            return Err(WriteError::Io { action: "fsync directory", path: self.dir, source });
        }
        Ok(Summary {
            path: self.path,
            n_events: totals.n_events,
            n_spaces: totals.n_spaces,
            min_ts: totals.min_ts,
            max_ts: totals.max_ts,
            file_len,
        })
    }
}

fn check_len(
    field: &'static str,
    index_entry: Option<usize>,
    len: usize,
    min: usize,
    max: usize,
) -> Result<(), WriteError> {
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(WriteError::FieldLength { field, index_entry, len, min, max })
    }
}
