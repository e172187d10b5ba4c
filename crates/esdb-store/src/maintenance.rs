//! Turning the log into history and keeping it tidy: [`Store::seal`], [`Store::compact`],
//! [`Store::retain`], plus [`Store::info`] and [`Store::verify`].
//!
//! Each step writes new files first, then switches the manifest, then deletes what the manifest
//! no longer references. A crash before the switch leaves orphans that the next open removes
//! (the step is rolled back); a crash after it leaves old files that the next open removes (the
//! step is finished).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use esdb_write::{Writer, WriterOptions};

use crate::error::{Error, Result};
use crate::event::LogEvent;
use crate::manifest::{self, Manifest, PartitionMeta, PARTITION_DIR};
use crate::segment;
use crate::store::{lock, now_ms, open_partition, Partition, Shared, Store};

/// What [`Store::seal`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SealReport {
    /// Events moved from the tail into partitions.
    pub events: u64,
    /// The partitions written (more than one per window when the window was sealed before).
    pub partitions: Vec<PartitionMeta>,
}

/// What [`Store::compact`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactReport {
    /// Windows whose partitions were merged.
    pub windows: u64,
    /// Partitions merged away.
    pub merged: u64,
    /// The partitions written.
    pub partitions: Vec<PartitionMeta>,
}

/// What [`Store::retain`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetainReport {
    /// Segments deleted from the log.
    pub segments: u64,
    /// The new first replayable offset.
    pub log_start: u64,
    /// Partitions deleted.
    pub partitions: u64,
    /// Events in the deleted partitions.
    pub partition_events: u64,
}

/// The state of a store, as `esdb store info` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreInfo {
    /// The manifest as it stands.
    pub manifest: Manifest,
    /// The offset the next event gets.
    pub next_offset: u64,
    /// The highest durable offset.
    pub durable_through: Option<u64>,
    /// Unsealed events held in memory.
    pub tail_events: u64,
    /// Their size in the log.
    pub tail_bytes: u64,
    /// Bytes of all segment files.
    pub log_bytes: u64,
    /// Bytes of all partition files.
    pub partition_bytes: u64,
}

/// What [`Store::verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Segments read.
    pub segments: u64,
    /// Records read, every checksum checked.
    pub records: u64,
    /// Partitions verified.
    pub partitions: u64,
    /// Events in them.
    pub partition_events: u64,
    /// Everything wrong, each naming the file.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Seals the whole unsealed log: closes the active segment, writes the events into one new
    /// ESDB partition per time window (an additional partition when the window was sealed
    /// before: late events), switches the manifest, and drops them from the in-memory tail.
    /// Appends go on meanwhile. Also runs automatically by
    /// [`seal_after_bytes`](crate::StoreOptions::seal_after_bytes) and
    /// [`seal_after_age`](crate::StoreOptions::seal_after_age).
    ///
    /// # Errors
    /// [`Error::Seal`] / [`Error::Io`]; the store is unchanged and the events stay in the tail.
    pub fn seal(&self) -> Result<SealReport> {
        self.shared.seal()
    }

    /// Merges the partitions of each window that has several into one.
    ///
    /// # Errors
    /// [`Error::Partition`] / [`Error::Seal`] / [`Error::Io`]; the store is unchanged.
    pub fn compact(&self) -> Result<CompactReport> {
        self.shared.compact()
    }

    /// Applies [`StoreOptions::retention`](crate::StoreOptions::retention) now.
    ///
    /// # Errors
    /// [`Error::Io`]; what the manifest no longer references may be left for the next open.
    pub fn retain(&self) -> Result<RetainReport> {
        self.shared.retain(&self.shared.options.retention)
    }

    /// Applies `retention` instead of the store's own policy.
    ///
    /// # Errors
    /// As [`retain`](Store::retain).
    pub fn retain_with(&self, retention: &crate::Retention) -> Result<RetainReport> {
        self.shared.retain(retention)
    }

    /// The store's state.
    ///
    /// # Errors
    /// [`Error::Io`] reading file sizes.
    pub fn info(&self) -> Result<StoreInfo> {
        let manifest = lock(&self.shared.manifest).clone();
        let (tail_events, tail_bytes) = {
            let view = self.shared.read_view();
            (view.tail.len(), view.tail.bytes())
        };
        let size = |relative: &str| -> Result<u64> {
            let path = self.shared.dir.join(relative);
            Ok(std::fs::metadata(&path).map_err(Error::io("stat", &path))?.len())
        };
        let mut log_bytes = 0;
        for segment in &manifest.segments {
            log_bytes += size(&segment.file())?;
        }
        let mut partition_bytes = 0;
        for partition in &manifest.partitions {
            partition_bytes += size(&partition.file)?;
        }
        Ok(StoreInfo {
            next_offset: self.next_offset(),
            durable_through: self.durable_through(),
            manifest,
            tail_events,
            tail_bytes,
            log_bytes,
            partition_bytes,
        })
    }

    /// Reads every segment record and every partition byte, checking checksums, offsets and
    /// counts against the manifest.
    pub fn verify(&self) -> VerifyReport {
        let _maintenance = lock(&self.shared.maintenance);
        let manifest = lock(&self.shared.manifest).clone();
        let next_offset = self.next_offset();
        let mut report = VerifyReport::default();
        for meta in &manifest.segments {
            let path = self.shared.dir.join(meta.file());
            report.segments += 1;
            let mut records = 0u64;
            // The active segment may grow while it is read; reading a prefix is fine.
            let active = meta.end.is_none();
            match segment::scan(&path, meta.base, active, |_, _| records += 1) {
                Ok(scanned) => {
                    report.records += records;
                    if let Some(end) = meta.end {
                        if scanned.end_offset != end {
                            report.problems.push(format!(
                                "{}: ends at offset {}, the manifest says {end}",
                                meta.file(),
                                scanned.end_offset
                            ));
                        }
                    } else if scanned.end_offset > next_offset {
                        report.problems.push(format!("{}: holds offsets past the end of the log", meta.file()));
                    }
                }
                Err(err) => report.problems.push(err.to_string()),
            }
        }
        let partitions = self.shared.read_view().partitions.clone();
        for partition in partitions.iter() {
            report.partitions += 1;
            report.partition_events += partition.db.len();
            let verified = partition.db.verify();
            if !verified.is_ok() {
                report.problems.push(format!("{}: {verified:?}", partition.meta.file));
            }
            let window = manifest.partition_window;
            let (lo, hi) = window_bounds(partition.meta.window, window);
            if let Some((min, max)) = partition.db.time_range() {
                if i128::from(min) < lo || i128::from(max) >= hi {
                    report.problems.push(format!("{}: timestamps {min}..={max} leave its window", partition.meta.file));
                }
            }
        }
        report
    }
}

/// Timestamps `lo..hi` of `window`.
fn window_bounds(window: i64, width: i64) -> (i128, i128) {
    let lo = i128::from(window) * i128::from(width);
    (lo, lo + i128::from(width))
}

impl Shared {
    pub(crate) fn seal(&self) -> Result<SealReport> {
        self.writable("seal")?;
        let _maintenance = lock(&self.maintenance);
        let through = {
            let mut log = lock(&self.log);
            log.check()?;
            self.roll(&mut log)?;
            log.next_offset
        };
        let (sealed_from, width) = {
            let manifest = lock(&self.manifest);
            (manifest.sealed_through, manifest.partition_window)
        };
        if through == sealed_from {
            return Ok(SealReport::default());
        }
        let events = self.read_view().tail.range(sealed_from, through);
        debug_assert_eq!(events.len() as u64, through - sealed_from);

        let mut by_window: BTreeMap<i64, Vec<Arc<LogEvent>>> = BTreeMap::new();
        for event in events {
            by_window.entry(event.timestamp.div_euclid(width)).or_default().push(event);
        }
        let mut written: Vec<PathBuf> = Vec::new();
        let result = self.write_windows(by_window, &mut written);
        let (metas, partitions) = match result {
            Ok(done) => done,
            Err(err) => {
                remove_files(&written);
                return Err(err);
            }
        };

        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        next.partitions.extend(metas.iter().cloned());
        next.next_partition_seq = metas.last().map_or(next.next_partition_seq, |meta| meta.seq + 1);
        next.sealed_through = through;
        if let Err(err) = next.store(&self.dir) {
            drop(manifest);
            remove_files(&written);
            return Err(err);
        }
        *manifest = next;
        let mut view = self.write_view();
        let mut all: Vec<Arc<Partition>> = view.partitions.iter().cloned().collect();
        all.extend(partitions);
        view.partitions = Arc::new(all);
        view.tail.trim(through);
        drop(view);
        drop(manifest);
        Ok(SealReport { events: through - sealed_from, partitions: metas })
    }

    /// Writes one partition per window; `written` collects the files, for cleanup on error.
    fn write_windows(
        &self,
        by_window: BTreeMap<i64, Vec<Arc<LogEvent>>>,
        written: &mut Vec<PathBuf>,
    ) -> Result<(Vec<PartitionMeta>, Vec<Arc<Partition>>)> {
        let first_seq = lock(&self.manifest).next_partition_seq;
        let mut metas = Vec::new();
        let mut partitions = Vec::new();
        for (seq, (window, events)) in (first_seq..).zip(by_window) {
            let file = manifest::partition_file(seq, window);
            let path = self.dir.join(&file);
            let mut writer = self.partition_writer(&path)?;
            written.push(path.clone());
            let seal_error = |source| Error::Seal { path: path.clone(), source };
            let (mut first_offset, mut last_offset) = (u64::MAX, 0);
            for event in &events {
                writer
                    .add(&event.space, event.timestamp, &event.grouping, event.indexes.iter().cloned(), &event.data)
                    .map_err(seal_error)?;
                first_offset = first_offset.min(event.offset);
                last_offset = last_offset.max(event.offset);
            }
            let summary = writer.finish().map_err(seal_error)?;
            let meta = PartitionMeta {
                seq,
                window,
                file,
                events: summary.n_events,
                min_ts: summary.min_ts,
                max_ts: summary.max_ts,
                first_offset,
                last_offset,
            };
            partitions.push(Arc::new(open_partition(&self.dir, meta.clone())?));
            metas.push(meta);
        }
        manifest::sync_dir(&self.dir.join(PARTITION_DIR))?;
        Ok((metas, partitions))
    }

    fn partition_writer(&self, path: &Path) -> Result<Writer> {
        let options = WriterOptions {
            memory_budget: self.options.seal_memory_budget,
            max_data_len: self.options.max_data_len,
            ..WriterOptions::default()
        };
        Writer::create_with(path, options).map_err(|source| Error::Seal { path: path.to_path_buf(), source })
    }

    pub(crate) fn compact(&self) -> Result<CompactReport> {
        self.writable("compact")?;
        let _maintenance = lock(&self.maintenance);
        let partitions = self.read_view().partitions.clone();
        let mut by_window: BTreeMap<i64, Vec<Arc<Partition>>> = BTreeMap::new();
        for partition in partitions.iter() {
            by_window.entry(partition.meta.window).or_default().push(partition.clone());
        }
        by_window.retain(|_, group| group.len() > 1);
        let mut report = CompactReport::default();
        for (window, mut group) in by_window {
            group.sort_by_key(|partition| partition.meta.seq);
            let merged = self.merge_window(window, &group)?;
            report.windows += 1;
            report.merged += group.len() as u64;
            report.partitions.push(merged);
        }
        Ok(report)
    }

    /// Writes the events of `group` (one window, ascending sequence numbers) into one partition
    /// and switches the manifest to it.
    fn merge_window(&self, window: i64, group: &[Arc<Partition>]) -> Result<PartitionMeta> {
        let seq = lock(&self.manifest).next_partition_seq;
        let file = manifest::partition_file(seq, window);
        let path = self.dir.join(&file);
        let merged = (|| {
            let mut writer = self.partition_writer(&path)?;
            // Partition by partition in sequence order, each space in (timestamp, offset) order:
            // the writer keeps ties in insertion order, so ties stay in offset order.
            for partition in group {
                let read_error = |source| Error::Partition { path: partition.path.clone(), source };
                for space in partition.db.spaces() {
                    let space = space.map_err(read_error)?;
                    for record in space.records().map_err(read_error)? {
                        let record = record.map_err(read_error)?;
                        writer
                            .add(
                                space.id(),
                                record.event.timestamp(),
                                &record.grouping,
                                record.indexes.iter().cloned(),
                                record.event.data(),
                            )
                            .map_err(|source| Error::Seal { path: path.clone(), source })?;
                    }
                }
            }
            let summary = writer.finish().map_err(|source| Error::Seal { path: path.clone(), source })?;
            let meta = PartitionMeta {
                seq,
                window,
                file: file.clone(),
                events: summary.n_events,
                min_ts: summary.min_ts,
                max_ts: summary.max_ts,
                first_offset: group.iter().map(|p| p.meta.first_offset).min().unwrap_or(0),
                last_offset: group.iter().map(|p| p.meta.last_offset).max().unwrap_or(0),
            };
            manifest::sync_dir(&self.dir.join(PARTITION_DIR))?;
            open_partition(&self.dir, meta)
        })();
        let merged = match merged {
            Ok(merged) => Arc::new(merged),
            Err(err) => {
                remove_files(&[path]);
                return Err(err);
            }
        };
        let old: Vec<u64> = group.iter().map(|p| p.meta.seq).collect();
        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        next.partitions.retain(|p| !old.contains(&p.seq));
        next.partitions.push(merged.meta.clone());
        next.next_partition_seq = seq + 1;
        if let Err(err) = next.store(&self.dir) {
            drop(manifest);
            remove_files(&[path]);
            return Err(err);
        }
        *manifest = next;
        {
            let mut view = self.write_view();
            let mut all: Vec<Arc<Partition>> =
                view.partitions.iter().filter(|p| !old.contains(&p.meta.seq)).cloned().collect();
            all.push(merged.clone());
            view.partitions = Arc::new(all);
        }
        drop(manifest);
        remove_files(&group.iter().map(|p| p.path.clone()).collect::<Vec<_>>());
        Ok(merged.meta.clone())
    }

    pub(crate) fn retain(&self, retention: &crate::Retention) -> Result<RetainReport> {
        self.writable("retain")?;
        let _maintenance = lock(&self.maintenance);
        // Sizes are read from the files: buffered records count too.
        lock(&self.log).flush()?;
        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        let mut report = RetainReport::default();
        let mut doomed: Vec<PathBuf> = Vec::new();

        if let Some(max_age) = retention.partitions.max_age {
            let newest = next.partitions.iter().map(|p| p.max_ts).max();
            if let Some(newest) = newest {
                let cutoff = i128::from(newest) - i128::from(max_age.max(0));
                let width = next.partition_window;
                next.partitions.retain(|p| {
                    let keep = window_bounds(p.window, width).1 > cutoff;
                    if !keep {
                        report.partitions += 1;
                        report.partition_events += p.events;
                        doomed.push(self.dir.join(&p.file));
                    }
                    keep
                });
            }
        }

        let now = now_ms();
        let mut log_bytes: u64 = 0;
        let mut sizes = Vec::with_capacity(next.segments.len());
        for segment in &next.segments {
            let path = self.dir.join(segment.file());
            let size = std::fs::metadata(&path).map_err(Error::io("stat", &path))?.len();
            log_bytes += size;
            sizes.push(size);
        }
        let mut drop_segments = 0;
        for (segment, size) in next.segments.iter().zip(&sizes) {
            let Some(end) = segment.end else { break };
            if end > next.sealed_through {
                break;
            }
            let too_old = match (retention.log.max_age, segment.last_append_ms) {
                (Some(max_age), Some(last)) => Duration::from_millis(now.saturating_sub(last)) > max_age,
                _ => false,
            };
            let too_big = retention.log.max_bytes.is_some_and(|max| log_bytes > max);
            if !(too_old || too_big) {
                break;
            }
            log_bytes -= size;
            drop_segments += 1;
            doomed.push(self.dir.join(segment.file()));
        }
        next.segments.drain(..drop_segments);
        next.log_start = next.segments[0].base;
        report.segments = drop_segments as u64;
        report.log_start = next.log_start;

        if doomed.is_empty() {
            return Ok(report);
        }
        next.store(&self.dir)?;
        *manifest = next;
        {
            let kept: Vec<u64> = manifest.partitions.iter().map(|p| p.seq).collect();
            let mut view = self.write_view();
            let all = view.partitions.iter().filter(|p| kept.contains(&p.meta.seq)).cloned().collect();
            view.partitions = Arc::new(all);
        }
        drop(manifest);
        remove_files(&doomed);
        Ok(report)
    }
}

/// Removes files the manifest does not reference (any left over are removed on the next open).
fn remove_files(paths: &[PathBuf]) {
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}
