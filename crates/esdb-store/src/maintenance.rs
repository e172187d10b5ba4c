//! Turning the log into history and keeping it tidy: [`Store::seal`], [`Store::compact`],
//! [`Store::retain`], plus [`Store::info`].
//!
//! Each step writes new files first, then installs a new manifest through
//! [`Shared::install`](crate::transition), then deletes what the manifest lists as obsolete once
//! no reader uses it. A crash before the install leaves files no manifest names, which the next
//! open moves into `quarantine/`; a crash after it leaves obsolete files, which the next open
//! deletes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use esdb_write::{Writer, WriterOptions};

use crate::error::{Error, Result};
use crate::manifest::{self, Manifest, PartitionMeta, PARTITION_DIR};
use crate::partition::{self, Handle, Partition};
use crate::record;
use crate::store::{lock, now_ms, now_nanos, Shared, Store};
use crate::tail;
use crate::transition::Obsolete;

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
    /// Windows the merged partitions cover.
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
    /// Memory they take, by the estimate checked against
    /// [`StoreOptions::memory_budget`](crate::StoreOptions::memory_budget).
    pub tail_memory: u64,
    /// Bytes of all segment files.
    pub log_bytes: u64,
    /// Bytes of the partition files in the store directory (partitions only in the remote tier
    /// do not count).
    pub partition_bytes: u64,
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

    /// Merges small partitions into larger ones, size-tiered: the partitions of a window that
    /// has several, and neighbouring windows, until a merged partition would pass
    /// [`compact_target_bytes`](crate::StoreOptions::compact_target_bytes). Runs after every
    /// automatic seal unless [`auto_compact`](crate::StoreOptions::auto_compact) is off.
    ///
    /// # Errors
    /// [`Error::Partition`] / [`Error::Seal`] / [`Error::Io`]; the store is unchanged.
    pub fn compact(&self) -> Result<CompactReport> {
        self.shared.compact(false)
    }

    /// Applies [`StoreOptions::retention`](crate::StoreOptions::retention) now.
    ///
    /// # Errors
    /// [`Error::Io`]; what the manifest no longer references may be left for the next open.
    pub fn retain(&self) -> Result<RetainReport> {
        self.shared.retain(&self.shared.options.retention, None)
    }

    /// Applies `retention` instead of the store's own policy.
    ///
    /// # Errors
    /// As [`retain`](Store::retain); [`Error::NoTimeUnit`] for a partition age when the store
    /// records no time unit (see [`retain_at`](Store::retain_at)).
    pub fn retain_with(&self, retention: &crate::Retention) -> Result<RetainReport> {
        self.shared.retain(retention, None)
    }

    /// Applies `retention` as if the time now were `now` (in the store's timestamp unit) rather
    /// than the wall clock: for reproducible runs, and for stores that record no time unit.
    /// Log retention still measures append times against the wall clock.
    ///
    /// ```
    /// use esdb_store::{NewEvent, PartitionRetention, Retention, Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default().with_partition_window(Some(10)))?;
    /// store.append(NewEvent::new("a", 5, "old"))?;
    /// store.append(NewEvent::new("a", 25, "new"))?;
    /// store.seal()?;
    /// let keep_10 = Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(10)));
    /// // Window 0..10 ended 20 units before 30: deleted. Window 20..30 is kept.
    /// assert_eq!(store.retain_at(&keep_10, 30)?.partition_events, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`retain`](Store::retain).
    pub fn retain_at(&self, retention: &crate::Retention, now: i64) -> Result<RetainReport> {
        self.shared.retain(retention, Some(now))
    }

    /// The store's state.
    ///
    /// # Errors
    /// [`Error::Io`] reading file sizes.
    pub fn info(&self) -> Result<StoreInfo> {
        let manifest = lock(&self.shared.manifest).clone();
        let (tail_events, tail_bytes, tail_memory) = {
            let view = self.shared.read_view();
            (view.tail.len(), view.tail.bytes(), view.tail.memory())
        };
        // A missing file counts as empty here; `verify` reports it.
        let size = |relative: &str| -> Result<u64> {
            let path = self.shared.dir.join(relative);
            match std::fs::metadata(&path) {
                Ok(meta) => Ok(meta.len()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(err) => Err(Error::io("stat", &path)(err)),
            }
        };
        let mut log_bytes = 0;
        for segment in &manifest.segments {
            log_bytes += size(&segment.file())?;
        }
        let mut partition_bytes = 0;
        for partition in manifest.partitions.iter().filter(|p| p.local) {
            partition_bytes += size(&partition.file)?;
        }
        Ok(StoreInfo {
            next_offset: self.next_offset(),
            durable_through: self.durable_through(),
            manifest,
            tail_events,
            tail_bytes,
            tail_memory,
            log_bytes,
            partition_bytes,
        })
    }
}

/// Merges installed together: one install per merge would write the manifest, which names every
/// partition, once per merge.
const MERGES_PER_INSTALL: usize = 256;

/// The groups of partitions a compaction merges, each into one partition (size-tiered, as
/// Prometheus merges blocks into larger time ranges):
///
/// 1. Only small partitions (files under `small` bytes) are merged: a larger one is never
///    written again, which bounds how often an event is rewritten.
/// 2. A partition is merged only together with every newer partition that shares a window with
///    it (dropping it otherwise): the merged partition gets the highest sequence number, and
///    queries rely on a higher sequence number holding the later offsets of a window.
/// 3. Walking those by first window, a group takes every partition whose windows overlap its
///    own and the next window's partitions while their files add up to at most `target` bytes.
///
/// Groups of one partition are left alone.
pub(crate) fn compaction_groups(partitions: &[Handle], small: u64, target: u64) -> Vec<Vec<Handle>> {
    let size = |p: &Handle| p.meta.file_len.unwrap_or(0);
    // Newest first, a partition is chosen when it is small and no newer partition that was not
    // chosen covers one of its windows; one that is not chosen blocks its windows for older ones.
    let mut by_age: Vec<usize> = (0..partitions.len()).collect();
    by_age.sort_by_key(|&idx| std::cmp::Reverse(partitions[idx].meta.seq));
    let mut chosen = vec![false; partitions.len()];
    let mut blocked = Windows::default();
    for idx in by_age {
        let meta = &partitions[idx].meta;
        let (lo, hi) = (meta.window, meta.last_window());
        chosen[idx] = size(&partitions[idx]) < small && !blocked.intersects(lo, hi);
        if !chosen[idx] {
            blocked.insert(lo, hi);
        }
    }
    let mut sorted: Vec<&Handle> =
        partitions.iter().zip(&chosen).filter(|(_, chosen)| **chosen).map(|(p, _)| p).collect();
    sorted.sort_by_key(|p| (p.meta.window, p.meta.seq));
    let mut groups: Vec<Vec<Handle>> = Vec::new();
    let (mut group, mut last_window, mut bytes): (Vec<Handle>, i64, u64) = (Vec::new(), i64::MIN, 0);
    for partition in sorted {
        let overlaps = partition.meta.window <= last_window;
        let fits = bytes.saturating_add(size(partition)) <= target;
        if !group.is_empty() && !overlaps && !fits {
            groups.push(std::mem::take(&mut group));
            bytes = 0;
            last_window = i64::MIN;
        }
        last_window = last_window.max(partition.meta.last_window());
        bytes = bytes.saturating_add(size(partition));
        group.push(partition.clone());
    }
    groups.push(group);
    groups.retain(|group| group.len() > 1);
    groups
}

/// A set of windows as disjoint, non-adjacent ranges `start => end` (inclusive).
#[derive(Debug, Default)]
struct Windows(BTreeMap<i64, i64>);

impl Windows {
    /// True when a window of `lo..=hi` is in the set.
    fn intersects(&self, lo: i64, hi: i64) -> bool {
        self.0.range(..=hi).next_back().is_some_and(|(_, &end)| end >= lo)
    }

    /// Adds `lo..=hi`, merging the ranges it touches.
    fn insert(&mut self, mut lo: i64, mut hi: i64) {
        while let Some((&start, &end)) = self.0.range(..=hi.saturating_add(1)).next_back() {
            if end < lo.saturating_sub(1) {
                break;
            }
            self.0.remove(&start);
            lo = lo.min(start);
            hi = hi.max(end);
        }
        self.0.insert(lo, hi);
    }
}

/// Timestamps `lo..hi` of `window`.
pub(crate) fn window_bounds(window: i64, width: i64) -> (i128, i128) {
    let lo = i128::from(window) * i128::from(width);
    (lo, lo + i128::from(width))
}

impl Shared {
    pub(crate) fn seal(&self) -> Result<SealReport> {
        self.writable("seal")?;
        self.check_settled()?;
        let _maintenance = lock(&self.maintenance);
        let _span = tracing::info_span!("esdb_store::seal", dir = %self.dir.display()).entered();
        let started = Instant::now();
        let through = {
            let mut log = lock(&self.log);
            log.check()?;
            self.roll(&mut log)?;
            log.next_offset
        };
        let (sealed_from, width, first_seq) = {
            let manifest = lock(&self.manifest);
            (manifest.sealed_through, manifest.partition_window, manifest.next_partition_seq)
        };
        if through == sealed_from {
            return Ok(SealReport::default());
        }
        // The payloads (shared with the tail, not copied), by window.
        let payloads = self.read_view().tail.payloads(sealed_from, through);
        debug_assert_eq!(payloads.len() as u64, through - sealed_from);
        let mut by_window: BTreeMap<i64, Vec<Bytes>> = BTreeMap::new();
        for payload in payloads {
            by_window.entry(record::payload_timestamp(&payload).div_euclid(width)).or_default().push(payload);
        }
        let next_seq = first_seq
            .checked_add(by_window.len() as u64)
            .ok_or(Error::Exhausted { what: "partition sequence numbers" })?;
        let mut written: Vec<PathBuf> = Vec::new();
        let metas = match self.write_windows(first_seq, through, by_window, &mut written) {
            Ok(metas) => metas,
            Err(err) => {
                self.remove_new(&written);
                return Err(err);
            }
        };

        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        next.partitions.extend(metas.iter().cloned());
        next.next_partition_seq = next_seq;
        next.sealed_through = through;
        self.install(&mut manifest, next, &written, Vec::new())?;
        let mut view = self.write_view();
        let mut all: Vec<Handle> = view.partitions.iter().cloned().collect();
        all.extend(metas.iter().map(|meta| Arc::new(Partition::new(&self.dir, meta.clone()))));
        view.partitions = Arc::new(all);
        view.tail.trim(through);
        self.made_room(&view.tail);
        let partitions = view.partitions.len();
        drop(view);
        drop(manifest);
        let took = started.elapsed();
        self.instruments.sealed(took, partitions);
        let events = through - sealed_from;
        tracing::info!(events, written = metas.len(), partitions, took_ms = took.as_millis() as u64, "sealed");
        Ok(SealReport { events, partitions: metas })
    }

    /// Deletes files a failed step wrote before any manifest named them.
    fn remove_new(&self, written: &[PathBuf]) {
        for path in written {
            let _ = self.fs.remove(path);
        }
    }

    /// Writes one partition per window, sequence numbers from `first_seq`; `written` collects the
    /// files, for cleanup on error.
    fn write_windows(
        &self,
        first_seq: u64,
        sealed: u64,
        by_window: BTreeMap<i64, Vec<Bytes>>,
        written: &mut Vec<PathBuf>,
    ) -> Result<Vec<PartitionMeta>> {
        let mut metas = Vec::new();
        for (seq, (window, events)) in (first_seq..).zip(by_window) {
            let file = manifest::partition_file(seq, window, sealed);
            let path = self.dir.join(&file);
            let mut writer = self.partition_writer(&path)?;
            written.push(path.clone());
            let seal_error = |source| Error::Seal { path: path.clone(), source };
            let (mut first_offset, mut last_offset) = (u64::MAX, 0);
            for payload in events {
                let event = tail::decode(payload);
                writer
                    .add(&event.space, event.timestamp, &event.grouping, event.indexes.iter().cloned(), &event.data)
                    .map_err(seal_error)?;
                first_offset = first_offset.min(event.offset);
                last_offset = last_offset.max(event.offset);
            }
            let summary = writer.finish().map_err(seal_error)?;
            metas.push(self.partition_meta(seq, (window, window), file, &summary, (first_offset, last_offset))?);
        }
        self.fs.sync_dir(&self.dir.join(PARTITION_DIR))?;
        Ok(metas)
    }

    /// The manifest entry of a partition just written, with the identity of its file.
    fn partition_meta(
        &self,
        seq: u64,
        (window, last_window): (i64, i64),
        file: String,
        summary: &esdb_write::Summary,
        (first_offset, last_offset): (u64, u64),
    ) -> Result<PartitionMeta> {
        let (file_len, end_checksum) = partition::identity(&self.dir.join(&file))?;
        Ok(PartitionMeta {
            seq,
            window,
            file,
            events: summary.n_events,
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
            first_offset,
            last_offset,
            last_window: Some(last_window),
            file_len: Some(file_len),
            end_checksum: Some(end_checksum),
            remote: false,
            local: true,
        })
    }

    fn partition_writer(&self, path: &Path) -> Result<Writer> {
        // A partition read on its own (`esdb scan`, a copy elsewhere) knows its unit.
        let options = WriterOptions::default()
            .with_memory_budget(self.options.seal_memory_budget)
            .with_max_data_len(self.options.max_data_len)
            .with_time_unit(self.unit)
            .with_covering_indexes(self.options.covering_indexes.clone().unwrap_or_default())
            .with_covering_timeline(self.options.covering_timeline.unwrap_or_default());
        Writer::create_with_hook(path, options, self.fs.writer_hook())
            .map_err(|source| Error::Seal { path: path.to_path_buf(), source })
    }

    /// A compaction; `automatic` after a seal, where only partitions under an eighth of the
    /// target are merged again (so that an event is rewritten a few times at most while a store
    /// grows), where `Store::compact` merges those under half of it.
    pub(crate) fn compact(&self, automatic: bool) -> Result<CompactReport> {
        self.writable("compact")?;
        self.check_settled()?;
        let _maintenance = lock(&self.maintenance);
        let _span = tracing::info_span!("esdb_store::compact", dir = %self.dir.display()).entered();
        let started = Instant::now();
        let partitions = self.read_view().partitions.clone();
        let target = self.options.compact_target_bytes;
        let groups = compaction_groups(&partitions, if automatic { target / 8 } else { target / 2 }, target);
        drop(partitions);
        let mut report = CompactReport::default();
        let mut groups = groups;
        for batch in groups.chunks_mut(MERGES_PER_INSTALL) {
            let merged = self.merge_groups(batch)?;
            for (group, meta) in batch.iter().zip(merged) {
                let windows = i128::from(meta.last_window()) - i128::from(meta.window) + 1;
                report.windows += u64::try_from(windows).unwrap_or(u64::MAX);
                report.merged += group.len() as u64;
                report.partitions.push(meta);
            }
        }
        // The groups' handles pin the merged-away files: let go before deleting them.
        drop(groups);
        self.delete_obsolete();
        if report.merged > 0 {
            let took = started.elapsed();
            let partitions = self.read_view().partitions.len();
            self.instruments.compacted(took, partitions);
            tracing::info!(
                merged = report.merged,
                into = report.partitions.len(),
                partitions,
                took_ms = took.as_millis() as u64,
                "compacted"
            );
        }
        Ok(report)
    }

    /// Writes each group (its partitions sorted here by sequence number) into one partition, then
    /// switches the manifest to them in one install.
    fn merge_groups(&self, groups: &mut [Vec<Handle>]) -> Result<Vec<PartitionMeta>> {
        let (first_seq, sealed) = {
            let manifest = lock(&self.manifest);
            (manifest.next_partition_seq, manifest.sealed_through)
        };
        let next_seq = first_seq
            .checked_add(groups.len() as u64)
            .ok_or(Error::Exhausted { what: "partition sequence numbers" })?;
        let mut written = Vec::new();
        let mut metas = Vec::with_capacity(groups.len());
        let result = (|| {
            for (seq, group) in (first_seq..).zip(groups.iter_mut()) {
                group.sort_by_key(|partition| partition.meta.seq);
                metas.push(self.write_merged(seq, sealed, group, &mut written)?);
            }
            self.fs.sync_dir(&self.dir.join(PARTITION_DIR))
        })();
        if let Err(err) = result {
            self.remove_new(&written);
            return Err(err);
        }
        let old: std::collections::HashSet<u64> = groups.iter().flatten().map(|p| p.meta.seq).collect();
        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        next.partitions.retain(|p| !old.contains(&p.seq));
        next.partitions.extend(metas.iter().cloned());
        next.next_partition_seq = next_seq;
        next.drop_remote(groups.iter().flatten().map(|p| &p.meta));
        let dropped = groups.iter().flatten().map(Obsolete::partition).collect();
        self.install(&mut manifest, next, &written, dropped)?;
        {
            let mut view = self.write_view();
            let mut all: Vec<Handle> = view.partitions.iter().filter(|p| !old.contains(&p.meta.seq)).cloned().collect();
            all.extend(metas.iter().map(|meta| Arc::new(Partition::new(&self.dir, meta.clone()))));
            view.partitions = Arc::new(all);
        }
        drop(manifest);
        Ok(metas)
    }

    /// Writes the events of `group` (ascending sequence numbers) into partition `seq`, covering
    /// the group's windows; `written` collects the file, for cleanup on error.
    fn write_merged(
        &self,
        seq: u64,
        sealed: u64,
        group: &[Handle],
        written: &mut Vec<PathBuf>,
    ) -> Result<PartitionMeta> {
        let window = group.iter().map(|p| p.meta.window).min().unwrap_or(0);
        let last_window = group.iter().map(|p| p.meta.last_window()).max().unwrap_or(window);
        let file = manifest::partition_file(seq, window, sealed);
        let path = self.dir.join(&file);
        let mut writer = self.partition_writer(&path)?;
        written.push(path.clone());
        // Partition by partition in sequence order, each space in (timestamp, offset) order: the
        // writer keeps ties in insertion order, so ties stay in offset order.
        for partition in group {
            let read_error = |source| Error::Partition { path: partition.path.clone(), source };
            let db = self.cache.get(&self.dir, partition)?;
            for space in db.spaces() {
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
        let first_offset = group.iter().map(|p| p.meta.first_offset).min().unwrap_or(0);
        let last_offset = group.iter().map(|p| p.meta.last_offset).max().unwrap_or(0);
        self.partition_meta(seq, (window, last_window), file, &summary, (first_offset, last_offset))
    }

    pub(crate) fn retain(&self, retention: &crate::Retention, now: Option<i64>) -> Result<RetainReport> {
        self.writable("retain")?;
        self.check_settled()?;
        let _maintenance = lock(&self.maintenance);
        // Sizes are read from the files: buffered records count too.
        lock(&self.log).flush()?;
        let mut manifest = lock(&self.manifest);
        let mut next = manifest.clone();
        let mut report = RetainReport::default();
        let mut dropped_seqs: Vec<u64> = Vec::new();

        if let Some(max_age) = retention.partitions.max_age {
            // Against the clock, never the newest timestamp: one event stamped far in the future
            // must not make the rest of history look old.
            let now = match (now, self.unit) {
                (Some(now), _) => now,
                (None, Some(unit)) => unit.from_unix_nanos(now_nanos()),
                (None, None) => return Err(Error::NoTimeUnit { operation: "retention by partition age" }),
            };
            let cutoff = i128::from(now) - i128::from(max_age.max(0));
            let width = next.partition_window;
            next.partitions.retain(|p| {
                let keep = window_bounds(p.last_window(), width).1 > cutoff;
                if !keep {
                    report.partitions += 1;
                    report.partition_events += p.events;
                    dropped_seqs.push(p.seq);
                }
                keep
            });
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
        let mut dropped_segments = Vec::new();
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
            dropped_segments.push(segment.file());
        }
        next.segments.drain(..dropped_segments.len());
        next.log_start = next.segments[0].base;
        report.segments = dropped_segments.len() as u64;
        report.log_start = next.log_start;

        if dropped_segments.is_empty() && dropped_seqs.is_empty() {
            return Ok(report);
        }
        let view_partitions = self.read_view().partitions.clone();
        next.drop_remote(manifest.partitions.iter().filter(|p| dropped_seqs.contains(&p.seq)));
        let mut dropped: Vec<Obsolete> = dropped_segments.into_iter().map(Obsolete::segment).collect();
        dropped.extend(view_partitions.iter().filter(|p| dropped_seqs.contains(&p.meta.seq)).map(Obsolete::partition));
        drop(view_partitions);
        self.install(&mut manifest, next, &[], dropped)?;
        {
            let mut view = self.write_view();
            let all: Vec<Handle> =
                view.partitions.iter().filter(|p| !dropped_seqs.contains(&p.meta.seq)).cloned().collect();
            self.instruments.partitions(all.len());
            view.partitions = Arc::new(all);
        }
        tracing::info!(
            segments = report.segments,
            partitions = report.partitions,
            events = report.partition_events,
            "retained"
        );
        drop(manifest);
        self.delete_obsolete();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(seq: u64, windows: (i64, i64), file_len: u64) -> Handle {
        let meta = PartitionMeta {
            seq,
            window: windows.0,
            last_window: Some(windows.1),
            file: manifest::partition_file(seq, windows.0, 1),
            events: 1,
            min_ts: 0,
            max_ts: 0,
            first_offset: 0,
            last_offset: 0,
            file_len: Some(file_len),
            end_checksum: Some(0),
            remote: false,
            local: true,
        };
        Arc::new(Partition::new(Path::new("/nowhere"), meta))
    }

    fn seqs(groups: &[Vec<Handle>]) -> Vec<Vec<u64>> {
        groups.iter().map(|group| group.iter().map(|p| p.meta.seq).collect()).collect()
    }

    #[test]
    fn window_sets_merge_touching_ranges() {
        let mut set = Windows::default();
        set.insert(5, 7);
        set.insert(10, 12);
        assert!(set.intersects(7, 9) && set.intersects(0, 5) && !set.intersects(8, 9) && !set.intersects(13, 20));
        set.insert(8, 9);
        assert_eq!(set.0.into_iter().collect::<Vec<_>>(), [(5, 12)]);
    }

    #[test]
    fn compaction_merges_small_neighbours_and_never_puts_a_newer_partition_of_a_window_under_an_older_one() {
        // Small partitions of neighbouring windows merge, up to the target size.
        let small: Vec<Handle> = (0..6).map(|w| partition(w as u64, (w, w), 30)).collect();
        assert_eq!(seqs(&compaction_groups(&small, 50, 100)), [vec![0, 1, 2], vec![3, 4, 5]]);
        assert!(compaction_groups(&small, 30, 100).is_empty(), "none is small");
        // A large partition is never rewritten; late small ones beside it merge among themselves.
        let late = vec![partition(0, (0, 5), 90), partition(1, (3, 3), 10), partition(2, (7, 7), 10)];
        assert_eq!(seqs(&compaction_groups(&late, 50, 100)), [vec![1, 2]]);
        // A small partition with a newer large one in its window stays: merging it would give its
        // older offsets the higher sequence number.
        let blocked = vec![partition(0, (3, 3), 10), partition(1, (3, 4), 90), partition(2, (9, 9), 10)];
        assert!(compaction_groups(&blocked, 50, 100).is_empty());
    }
}
