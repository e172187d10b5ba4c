//! [`repair`]: rebuilds the MANIFEST of a store from its files when it is lost, stale or
//! damaged. Keeps every intact record and partition it can place, moves what it cannot use into
//! `quarantine/`, deletes nothing, and reports every step.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use esdb_read::Db;

use crate::error::{Error, Result};
use crate::io::Fs;
use crate::manifest::{
    self, parse_partition_name, parse_segment_name, store_id_bytes, Manifest, PartitionMeta, SegmentMeta, LOG_DIR,
    MANIFEST, PARTITION_DIR,
};
use crate::open::{self, quarantine};
use crate::partition;
use crate::record;
use crate::segment::{self, Expect};
use crate::transition::{write_manifest, WriteFailure};
use crate::watermark::{Publisher, Watermark};

/// What [`repair`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairReport {
    /// Segments kept in the log.
    pub segments: u64,
    /// Records in them.
    pub records: u64,
    /// Partitions kept.
    pub partitions: u64,
    /// The log's offsets after the repair: `log_start..next_offset`.
    pub log_start: u64,
    /// One past the last offset kept.
    pub next_offset: u64,
    /// Offsets below this are sealed.
    pub sealed_through: u64,
    /// Files moved into `quarantine/` (relative to the store), with why.
    pub quarantined: Vec<(PathBuf, String)>,
    /// Every other step, in words.
    pub actions: Vec<String>,
}

/// One segment file as found.
struct FoundSegment {
    name: String,
    base: u64,
    end: u64,
    valid_len: u64,
    file_len: u64,
    last_append_ms: Option<u64>,
    records: u64,
    damage: Option<String>,
}

/// Rebuilds the MANIFEST of the store in `dir` from its files. Takes the writer's lock (no
/// writer may run meanwhile).
///
/// - The store id is the MANIFEST's if it can be read, else the one most segments carry.
/// - The log is the longest run of contiguous segments of this store from the lowest base; a
///   segment damaged in the middle is copied whole into `quarantine/` and cut at the damage,
///   and segments after a gap go into `quarantine/`.
/// - Every partition that opens and verifies is kept; `sealed_through` is the old MANIFEST's when
///   it agrees with the files, else the largest bound recorded in the partitions' names.
/// - Anything else in `log/` and `partitions/` goes into `quarantine/`.
///
/// # Errors
/// [`Error::NotAStore`] if `dir` holds no log and no partitions; [`Error::Locked`] if a writer
/// runs; [`Error::Io`].
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport> {
    repair_with(dir, None)
}

/// [`repair`], with the store's partition window given: needed when the MANIFEST is unreadable
/// and its partitions do not fit the default window of 86 400.
///
/// # Errors
/// As [`repair`], and [`Error::InvalidOption`] when the window is needed and not given, or does
/// not fit the partitions found.
pub fn repair_with(dir: impl AsRef<Path>, partition_window: Option<i64>) -> Result<RepairReport> {
    let dir = dir.as_ref();
    if !dir.join(LOG_DIR).is_dir() && !dir.join(PARTITION_DIR).is_dir() {
        return Err(Error::NotAStore { path: dir.to_path_buf() });
    }
    let fs = Fs::default();
    let _lock = crate::store::take_lock(&fs, dir)?;
    let mut report = RepairReport::default();
    let old = match Manifest::load(dir) {
        Ok(old) => old,
        Err(err) => {
            report.actions.push(format!("the old MANIFEST is unusable: {err}"));
            None
        }
    };
    let segment_files = open::list(&dir.join(LOG_DIR))?;
    let store_id = match &old {
        Some(old) if manifest::is_store_id(&old.store_id) => old.store_id.clone(),
        _ => majority_store_id(&segment_files).unwrap_or_else(|| manifest::new_store_id(dir)),
    };
    let id = store_id_bytes(&store_id);

    // The log: this store's segments, contiguous from the lowest base.
    let mut found = Vec::new();
    for (name, path) in &segment_files {
        let relative = format!("{LOG_DIR}/{name}");
        let Some(base) = parse_segment_name(name) else {
            report.quarantined.push((quarantine(&fs, dir, &relative)?, "not a segment name".into()));
            continue;
        };
        let expect = Expect { base, store_id: id, active: true, durable_len: 0 };
        let mut records = 0;
        match segment::scan(path, expect, |_, _| records += 1) {
            Ok(scanned) => found.push(FoundSegment {
                name: relative,
                base,
                end: scanned.end_offset,
                valid_len: scanned.valid_len,
                file_len: fs::metadata(path).map_err(Error::io("stat", path))?.len(),
                last_append_ms: scanned.last_append_ms,
                records,
                damage: scanned.damage.map(|err| err.to_string()),
            }),
            Err(err) => report.quarantined.push((quarantine(&fs, dir, &relative)?, err.to_string())),
        }
    }
    found.sort_by_key(|segment| segment.base);
    let mut chain: Vec<FoundSegment> = Vec::new();
    for segment in found {
        let follows = chain.last().is_none_or(|last| last.end == segment.base && last.damage.is_none());
        if !follows {
            let reason = format!("offsets {}..{} do not follow the log kept", segment.base, segment.end);
            report.quarantined.push((quarantine(&fs, dir, &segment.name)?, reason));
            continue;
        }
        chain.push(segment);
    }
    for segment in &mut chain {
        let Some(damage) = segment.damage.clone() else { continue };
        let copy = copy_to_quarantine(&fs, dir, &segment.name)?;
        report.quarantined.push((copy, format!("a whole copy; the segment was cut at the damage: {damage}")));
        let path = dir.join(&segment.name);
        let file = fs::OpenOptions::new().write(true).open(&path).map_err(Error::io("open", &path))?;
        fs.set_len(&file, &path, segment.valid_len)?;
        fs.sync_all(&file, &path)?;
        segment.file_len = segment.valid_len;
    }
    // A torn end of the last segment is cut by the next open; a segment cut in the middle ends
    // the log, so the last one is the active one either way.
    let (log_start, log_end) = match (chain.first(), chain.last()) {
        (Some(first), Some(last)) => (first.base, last.end),
        _ => {
            let base = old.as_ref().map_or(0, |old| old.sealed_through);
            let relative = manifest::segment_file(base);
            crate::log::create_segment(&fs, &dir.join(&relative), base, id)?;
            report.actions.push(format!("no usable segment: started the log at offset {base} in {relative}"));
            (base, base)
        }
    };
    let mut segments: Vec<SegmentMeta> = chain
        .iter()
        .map(|s| SegmentMeta { base: s.base, end: Some(s.end), last_append_ms: s.last_append_ms })
        .collect();
    if let Some(last) = segments.last_mut() {
        last.end = None;
        last.last_append_ms = None;
    } else {
        segments.push(SegmentMeta { base: log_start, end: None, last_append_ms: None });
    }
    report.segments = segments.len() as u64;
    report.records = chain.iter().map(|s| s.records).sum();

    // Partitions: every one that opens and verifies.
    let old_metas: HashMap<&str, &PartitionMeta> =
        old.iter().flat_map(|old| old.partitions.iter().map(|p| (p.file.as_str(), p))).collect();
    let old_obsolete: Vec<String> = old.as_ref().map(|old| old.obsolete.clone()).unwrap_or_default();
    let mut partitions: Vec<(PartitionMeta, Option<u64>)> = Vec::new();
    for (name, path) in open::list(&dir.join(PARTITION_DIR))? {
        let relative = format!("{PARTITION_DIR}/{name}");
        if old_obsolete.contains(&relative) {
            report.actions.push(format!("{relative}: obsolete before the repair, left for deletion"));
            continue;
        }
        let Some((seq, window, bound)) = parse_partition_name(&name) else {
            report.quarantined.push((quarantine(&fs, dir, &relative)?, "not a partition name".into()));
            continue;
        };
        match check_partition(&path) {
            Ok(db) => {
                let (file_len, end_checksum) = partition::identity(&path)?;
                let (min_ts, max_ts) = db.time_range().unwrap_or((0, 0));
                let kept = old_metas.get(relative.as_str()).filter(|meta| meta.events == db.len());
                let (first_offset, last_offset) = kept.map_or((0, u64::MAX), |m| (m.first_offset, m.last_offset));
                let meta = PartitionMeta {
                    seq,
                    window,
                    file: relative,
                    events: db.len(),
                    min_ts,
                    max_ts,
                    first_offset,
                    last_offset,
                    last_window: kept.and_then(|m| m.last_window),
                    file_len: Some(file_len),
                    end_checksum: Some(end_checksum),
                    // The remote copy is this file's only if the file is the one uploaded.
                    remote: kept.is_some_and(|m| {
                        m.remote && m.file_len == Some(file_len) && m.end_checksum == Some(end_checksum)
                    }),
                    local: true,
                };
                partitions.push((meta, bound));
            }
            Err(err) => report.quarantined.push((quarantine(&fs, dir, &relative)?, err.to_string())),
        }
    }

    // Partitions only in the remote tier: the old MANIFEST is all that names them (their copies
    // were verified when uploaded).
    for meta in old.iter().flat_map(|old| &old.partitions).filter(|meta| !meta.local) {
        if partitions.iter().any(|(kept, _)| kept.seq == meta.seq) {
            continue;
        }
        report.actions.push(format!("{}: kept as remote, as the old MANIFEST names it", meta.file));
        let bound = parse_partition_name(meta.file.strip_prefix("partitions/").unwrap_or("")).and_then(|n| n.2);
        partitions.push(((*meta).clone(), bound));
    }

    // sealed_through: the old MANIFEST's when the log agrees, else the partitions' bounds.
    let bound = partitions.iter().filter_map(|(_, bound)| *bound).max();
    let claimed = old.as_ref().map(|old| old.sealed_through).filter(|s| (log_start..=log_end).contains(s));
    let mut sealed_through = match (claimed, bound) {
        (Some(claimed), Some(bound)) => claimed.max(bound),
        (Some(claimed), None) => claimed,
        (None, Some(bound)) => bound,
        (None, None) => log_start,
    };
    if sealed_through > log_end || sealed_through < log_start {
        let clamped = sealed_through.clamp(log_start, log_end);
        report.actions.push(format!(
            "sealed_through {sealed_through} lies outside the log {log_start}..{log_end}: set to {clamped}"
        ));
        sealed_through = clamped;
    }
    let mut kept_partitions = Vec::new();
    for (mut meta, _) in partitions {
        if meta.last_offset == u64::MAX {
            // Rebuilt entry: the partition's own offsets are not recorded in the file.
            if sealed_through == 0 {
                let reason = "its events cannot be placed: nothing of the log is sealed".to_owned();
                report.quarantined.push((quarantine(&fs, dir, &meta.file)?, reason));
                continue;
            }
            (meta.first_offset, meta.last_offset) = (0, sealed_through - 1);
        }
        meta.last_offset = meta.last_offset.min(sealed_through.saturating_sub(1));
        meta.first_offset = meta.first_offset.min(meta.last_offset);
        kept_partitions.push(meta);
    }
    kept_partitions.sort_by_key(|meta| meta.seq);
    let max_seq = kept_partitions.iter().map(|meta| meta.seq).max();
    let next_partition_seq = match max_seq {
        Some(seq) => Manifest::seq_after(seq)?,
        None => 0,
    }
    .max(old.as_ref().map_or(0, |old| old.next_partition_seq));
    report.partitions = kept_partitions.len() as u64;

    // Whatever else lies beside the files kept: temporary files and the like.
    for (name, _) in open::list(dir)? {
        if name == manifest::MANIFEST_TMP {
            report.quarantined.push((quarantine(&fs, dir, &name)?, "an unfinished manifest".into()));
        }
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        for (name, _) in open::list(&dir.join(sub))? {
            if open::is_temporary(&name) {
                let relative = format!("{sub}/{name}");
                report.quarantined.push((quarantine(&fs, dir, &relative)?, "a temporary file".into()));
            }
        }
    }

    let partition_window = match (partition_window, &old) {
        (Some(window), _) => window,
        (None, Some(old)) => old.partition_window,
        (None, None) => crate::options::DEFAULT_PARTITION_WINDOW,
    };
    // A partition's timestamps start in its first window; a compaction may have merged later
    // windows into it.
    let fits = |meta: &PartitionMeta| {
        partition_window >= 1
            && meta.min_ts.div_euclid(partition_window) == meta.window
            && meta.max_ts.div_euclid(partition_window) <= meta.last_window.unwrap_or(i64::MAX)
    };
    if let Some(misfit) = kept_partitions.iter().find(|meta| !fits(meta)) {
        return Err(Error::InvalidOption {
            option: "partition_window",
            reason: format!(
                "{partition_window} does not fit partition {} (window {}, timestamps {}..={}): give the store's window",
                misfit.file, misfit.window, misfit.min_ts, misfit.max_ts
            ),
        });
    }
    for meta in &mut kept_partitions {
        meta.last_window = Some(meta.max_ts.div_euclid(partition_window).max(meta.window));
    }
    let manifest = Manifest {
        store_id: store_id.clone(),
        generation: old.as_ref().map_or(0, |old| old.generation) + 1,
        partition_window,
        time_unit: old.as_ref().and_then(|old| old.time_unit.clone()),
        sealed_through,
        log_start,
        next_partition_seq,
        segments,
        partitions: kept_partitions,
        obsolete: old_obsolete.into_iter().filter(|file| dir.join(file).exists()).collect(),
        remote: old.as_ref().and_then(|old| old.remote.clone()),
        obsolete_remote: old.as_ref().map(|old| old.obsolete_remote.clone()).unwrap_or_default(),
        covering_indexes: old.as_ref().map(|old| old.covering_indexes.clone()).unwrap_or_default(),
        covering_timeline: old.as_ref().is_some_and(|old| old.covering_timeline),
        ..Manifest::new(store_id, 1)
    };
    Manifest::parse(&manifest.to_bytes()).map_err(|reason| Error::Manifest { path: dir.join(MANIFEST), reason })?;
    write_manifest(&fs, dir, &manifest).map_err(|failure| match failure {
        WriteFailure::BeforeRename(err) | WriteFailure::AfterRename(err) => err,
    })?;
    let active = manifest.segments.last().expect("an active segment");
    let active_len = chain.last().map_or(record::SEGMENT_HEADER_LEN as u64, |s| s.valid_len.min(s.file_len));
    Publisher::open(
        &fs,
        dir,
        Watermark { store_id: id, offset: log_end, segment_base: active.base, segment_len: active_len },
    )?;
    report.actions.push(format!(
        "wrote a MANIFEST: log {log_start}..{log_end}, sealed through {sealed_through}, {} partitions",
        report.partitions
    ));
    (report.log_start, report.next_offset, report.sealed_through) = (log_start, log_end, sealed_through);
    Ok(report)
}

fn check_partition(path: &Path) -> Result<Db> {
    let db = Db::open(path).map_err(|source| Error::Partition { path: path.to_path_buf(), source })?;
    let verified = db.verify();
    if !verified.is_ok() {
        return Err(Error::Manifest { path: path.to_path_buf(), reason: format!("does not verify: {verified:?}") });
    }
    Ok(db)
}

/// The store id most version-2 segment headers carry.
fn majority_store_id(segments: &[(String, PathBuf)]) -> Option<String> {
    let mut counts: HashMap<[u8; 16], usize> = HashMap::new();
    for (_, path) in segments {
        let Ok(bytes) = fs::read(path) else { continue };
        if let Ok(header) = record::decode_segment_header(&bytes) {
            if let Some(id) = header.store_id {
                *counts.entry(id).or_default() += 1;
            }
        }
    }
    let (id, _) = counts.into_iter().max_by_key(|(id, n)| (*n, *id))?;
    Some(manifest::store_id_hex(&id))
}

/// Copies `file` (relative to the store) into `quarantine/`; returns the copy's path.
fn copy_to_quarantine(fs: &Fs, dir: &Path, file: &str) -> Result<PathBuf> {
    let staging = format!("{file}.copy");
    let from = dir.join(file);
    let to = dir.join(&staging);
    std::fs::copy(&from, &to).map_err(Error::io("copy", &from))?;
    let target = quarantine(fs, dir, &staging)?;
    Ok(target)
}
