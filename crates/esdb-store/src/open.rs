//! Opening a store: creating it atomically, checking the MANIFEST's claims against the files
//! before anything is changed, recovering the log (cutting a torn end, loading the unsealed tail)
//! and settling the directory (deleting obsolete and temporary files, quarantining the rest).
//! A read-only open does only the reading half, and writes nothing.

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::io::Fs;
use crate::log::Dedupe;
use crate::manifest::{
    self, parse_segment_name, store_id_bytes, Manifest, LOG_DIR, MANIFEST, MANIFEST_TMP, PARTITION_DIR, QUARANTINE_DIR,
};
use crate::options::TimeUnit;
use crate::record::{self, SEGMENT_HEADER_LEN};
use crate::segment::{self, Expect};
use crate::tail::Tail;
use crate::transition::{write_manifest, WriteFailure};
use crate::watermark::{self, Watermark};

/// What loading the log found.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub tail: Tail,
    /// Ids of tail events, for the dedupe window.
    pub tail_ids: Vec<(u64, Bytes)>,
    /// One past the last offset loaded.
    pub next_offset: u64,
    /// The active segment: where its valid records end and what follows them.
    pub active_len: u64,
    pub torn_bytes: u64,
    pub last_append_ms: Option<u64>,
    /// Damage a read-only load stepped over (a writable load fails instead).
    pub problems: Vec<String>,
}

/// The watermark of the store `manifest` describes, if the file is this store's.
pub(crate) fn own_watermark(dir: &Path, manifest: &Manifest) -> Result<Option<Watermark>> {
    let store_id = store_id_bytes(&manifest.store_id);
    Ok(watermark::read(dir)?.filter(|mark| mark.store_id == store_id && store_id != [0; 16]))
}

/// Reads the segments holding unsealed offsets into a tail. `limit` is the durable watermark a
/// reader in another process must not read past. A writable load (`strict`) fails on damage; a
/// read-only one loads what lies before it and reports it.
pub(crate) fn load_log(
    dir: &Path,
    manifest: &Manifest,
    mark: Option<Watermark>,
    limit: Option<u64>,
    strict: bool,
) -> Result<Loaded> {
    let store_id = store_id_bytes(&manifest.store_id);
    let mut tail = Tail::new(manifest.sealed_through);
    let mut tail_ids = Vec::new();
    let mut problems = Vec::new();
    let active_idx = manifest.segments.len() - 1;
    let mut next_offset = manifest.log_start;
    let (mut active_len, mut torn_bytes, mut last_append_ms) = (SEGMENT_HEADER_LEN as u64, 0, None);
    let limit = limit.map(|limit| limit.max(manifest.sealed_through));
    for (idx, meta) in manifest.segments.iter().enumerate() {
        let active = idx == active_idx;
        if !active && meta.end.is_some_and(|end| end <= manifest.sealed_through) {
            next_offset = meta.end.expect("closed");
            continue;
        }
        let path = dir.join(meta.file());
        let durable_len = mark.filter(|mark| mark.segment_base == meta.base).map_or(0, |mark| mark.segment_len);
        let expect = Expect { base: meta.base, store_id, active, durable_len };
        let scanned = segment::scan(&path, expect, |event, payload| {
            if event.offset >= manifest.sealed_through && limit.is_none_or(|limit| event.offset < limit) {
                if let Some(id) = &event.id {
                    tail_ids.push((event.offset, id.clone()));
                }
                tail.push(payload, &event.space);
            }
        })?;
        let end = limit.map_or(scanned.end_offset, |limit| scanned.end_offset.min(limit));
        next_offset = end.max(next_offset);
        if let Some(damage) = scanned.damage {
            if strict {
                return Err(damage);
            }
            problems.push(damage.to_string());
            break;
        }
        if let Some(want) = meta.end.filter(|want| *want != scanned.end_offset) {
            let err = Error::CorruptSegment {
                path,
                position: scanned.valid_len,
                reason: format!("the segment ends at offset {}, the manifest says {want}", scanned.end_offset),
            };
            if strict {
                return Err(err);
            }
            problems.push(err.to_string());
            break;
        }
        if active {
            (active_len, torn_bytes, last_append_ms) = (scanned.valid_len, scanned.torn_bytes, scanned.last_append_ms);
        }
    }
    if next_offset < manifest.sealed_through {
        let err = Error::Manifest {
            path: dir.join(MANIFEST),
            reason: format!("the log ends at offset {next_offset}, before sealed_through {}", manifest.sealed_through),
        };
        if strict {
            return Err(err);
        }
        problems.push(err.to_string());
        next_offset = manifest.sealed_through;
    }
    if let Some(mark) = mark.filter(|mark| mark.offset > next_offset && problems.is_empty()) {
        let err = Error::CorruptSegment {
            path: dir.join(manifest.segments[active_idx].file()),
            position: active_len,
            reason: format!(
                "the log ends at offset {next_offset}, but offsets below {} were acknowledged durable",
                mark.offset
            ),
        };
        if strict {
            return Err(err);
        }
        problems.push(err.to_string());
    }
    Ok(Loaded { tail, tail_ids, next_offset, active_len, torn_bytes, last_append_ms, problems })
}

/// Checks, before a writer changes anything, that the files are the ones the manifest names and
/// that no file is newer than it: every segment it names exists and is this store's, and no
/// segment past the active one holds records.
pub(crate) fn check_files(dir: &Path, manifest: &Manifest) -> Result<()> {
    let store_id = store_id_bytes(&manifest.store_id);
    for meta in &manifest.segments {
        let path = dir.join(meta.file());
        let header = read_header(&path).map_err(|err| match err {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Error::Manifest { path: dir.join(MANIFEST), reason: format!("segment {} is missing", meta.file()) }
            }
            other => other,
        })?;
        segment::check_header(&header, &path, Expect { base: meta.base, store_id, active: false, durable_len: 0 })?;
    }
    let active_base = manifest.segments.last().expect("an active segment").base;
    for (name, path) in list(&dir.join(LOG_DIR))? {
        let Some(base) = parse_segment_name(&name) else { continue };
        if base <= active_base {
            continue;
        }
        let len = fs::metadata(&path).map_err(Error::io("stat", &path))?.len();
        // A segment of this store holding records past the active one: some later MANIFEST named
        // it. Anything else there (a header-only segment of an interrupted roll, a file that is
        // no segment) is quarantined when the directory is settled.
        let header = read_header(&path).ok().and_then(|h| record::decode_segment_header(&h).ok());
        let ours =
            header.is_some_and(|h| h.base == base && h.store_id.is_none_or(|id| id == store_id || store_id == [0; 16]));
        if ours && header.is_some_and(|h| len > h.len as u64) {
            return Err(Error::StaleManifest {
                dir: dir.to_path_buf(),
                reason: format!(
                    "{LOG_DIR}/{name} ({len} bytes) lies past the active segment {}",
                    manifest.segments.last().expect("active").file()
                ),
            });
        }
    }
    Ok(())
}

fn read_header(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = fs::File::open(path).map_err(Error::io("open segment", path))?;
    let mut header = Vec::with_capacity(SEGMENT_HEADER_LEN);
    file.take(SEGMENT_HEADER_LEN as u64).read_to_end(&mut header).map_err(Error::io("read segment", path))?;
    Ok(header)
}

/// The entries of a directory as `(name, path)`, sorted by name; none when it does not exist.
pub(crate) fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(Error::io("list", dir)(err)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        out.push((entry.file_name().to_string_lossy().into_owned(), entry.path()));
    }
    out.sort();
    Ok(out)
}

/// True for a temporary file of the store or of the ESDB writer (`.…​.tmp`): never data.
pub(crate) fn is_temporary(name: &str) -> bool {
    name == MANIFEST_TMP || (name.starts_with('.') && name.ends_with(".tmp"))
}

/// Files in the store's directories that the manifest does not name, relative to the store:
/// `(file, obsolete)`, where obsolete ones are listed in the manifest for deletion. Temporary
/// files are not included.
pub(crate) fn unnamed_files(dir: &Path, manifest: &Manifest) -> Result<Vec<(String, bool)>> {
    let referenced = manifest.referenced();
    let mut out = Vec::new();
    for sub in [LOG_DIR, PARTITION_DIR] {
        for (name, path) in list(&dir.join(sub))? {
            let relative = format!("{sub}/{name}");
            if is_temporary(&name) || referenced.contains(Path::new(&relative)) || !path.is_file() {
                continue;
            }
            let obsolete = manifest.obsolete.contains(&relative);
            out.push((relative, obsolete));
        }
    }
    Ok(out)
}

/// What settling the directory did.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    pub removed: Vec<PathBuf>,
    pub quarantined: Vec<PathBuf>,
}

/// Deletes temporary files and the obsolete files the manifest lists; moves every other file it
/// does not name into `quarantine/`. Nothing that looks like data is ever deleted here unless
/// the manifest itself lists it as obsolete.
pub(crate) fn settle(fs: &Fs, dir: &Path, manifest: &Manifest) -> Result<Settled> {
    let mut settled = Settled::default();
    if dir.join(MANIFEST_TMP).exists() {
        fs.remove(&dir.join(MANIFEST_TMP))?;
        settled.removed.push(PathBuf::from(MANIFEST_TMP));
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        fs.create_dir_all(&dir.join(sub))?;
        for (name, path) in list(&dir.join(sub))? {
            if is_temporary(&name) && path.is_file() {
                fs.remove(&path)?;
                settled.removed.push(Path::new(sub).join(&name));
            }
        }
    }
    for (file, obsolete) in unnamed_files(dir, manifest)? {
        if obsolete {
            fs.remove(&dir.join(&file))?;
            settled.removed.push(PathBuf::from(file));
        } else {
            settled.quarantined.push(quarantine(fs, dir, &file)?);
        }
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        if !settled.removed.is_empty() || !settled.quarantined.is_empty() {
            fs.sync_dir(&dir.join(sub))?;
        }
    }
    Ok(settled)
}

/// Moves `file` (relative to the store) into `quarantine/`, under a name no earlier quarantined
/// file has; returns where it went, relative to the store.
pub(crate) fn quarantine(fs: &Fs, dir: &Path, file: &str) -> Result<PathBuf> {
    let quarantine = dir.join(QUARANTINE_DIR);
    fs.create_dir_all(&quarantine)?;
    let flat = file.replace('/', "-");
    let mut target = Path::new(QUARANTINE_DIR).join(&flat);
    let mut n = 1;
    while dir.join(&target).exists() {
        target = Path::new(QUARANTINE_DIR).join(format!("{flat}.{n}"));
        n += 1;
    }
    fs.rename(&dir.join(file), &dir.join(&target))?;
    fs.sync_dir(&quarantine)?;
    Ok(target)
}

/// True when `dir` holds what an interrupted creation leaves and nothing else: the lock file,
/// a manifest's temporary file, `log/` and `partitions/`, and in `log/` at most the first,
/// header-only segment. Creating the store again finishes it.
pub(crate) fn is_unfinished_creation(dir: &Path) -> Result<bool> {
    for (name, path) in list(dir)? {
        let fine = match name.as_str() {
            crate::store::LOCK | MANIFEST_TMP => true,
            PARTITION_DIR => list(&path)?.is_empty(),
            LOG_DIR => {
                let segments = list(&path)?;
                segments.is_empty()
                    || (segments.len() == 1 && segments[0].0 == "00000000000000000000.log" && {
                        let len = fs::metadata(&segments[0].1).map_err(Error::io("stat", &segments[0].1))?.len();
                        len <= SEGMENT_HEADER_LEN as u64
                    })
            }
            _ => false,
        };
        if !fine {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Creates an empty store in `dir`, which must hold nothing or an unfinished creation: the
/// directories, the first segment (written and fsynced), then the MANIFEST, the one step that
/// makes it a store. A crash at any point leaves no store, or one that opens.
pub(crate) fn create(fs: &Fs, dir: &Path, partition_window: i64, unit: Option<TimeUnit>) -> Result<Manifest> {
    if !is_unfinished_creation(dir)? {
        return Err(Error::NotAStore { path: dir.to_path_buf() });
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        fs.create_dir_all(&dir.join(sub))?;
    }
    let mut manifest = Manifest::new(manifest::new_store_id(dir), partition_window);
    manifest.time_unit = unit.map(|unit| unit.as_str().to_owned());
    let segment = dir.join(manifest.segments[0].file());
    fs.remove(&segment)?;
    crate::log::create_segment(fs, &segment, 0, store_id_bytes(&manifest.store_id))?;
    fs.sync_dir(&dir.join(LOG_DIR))?;
    fs.sync_dir(dir)?;
    write_manifest(fs, dir, &manifest).map_err(|failure| match failure {
        WriteFailure::BeforeRename(err) | WriteFailure::AfterRename(err) => err,
    })?;
    Ok(manifest)
}

/// Loads the ids of sealed events at or past `window_start` that the log still holds. A
/// damaged sealed segment only loses its ids (reported), not the open.
pub(crate) fn load_sealed_ids(
    dir: &Path,
    manifest: &Manifest,
    window_start: u64,
    dedupe: &mut Dedupe,
    problems: &mut Vec<String>,
) {
    for meta in &manifest.segments {
        let end = meta.end.unwrap_or(u64::MAX);
        if end <= window_start || meta.base >= manifest.sealed_through {
            continue;
        }
        let result = (|| {
            let mut cursor = segment::Cursor::open(&dir.join(meta.file()), meta.base)?;
            while let Some(event) = cursor.next_event()? {
                if event.offset >= manifest.sealed_through {
                    break;
                }
                if let (true, Some(id)) = (event.offset >= window_start, &event.id) {
                    dedupe.insert(id, event.offset);
                }
            }
            Ok::<(), Error>(())
        })();
        if let Err(err) = result {
            problems.push(format!("event ids of sealed segment {} not loaded: {err}", meta.file()));
        }
    }
}

/// The dedupe window after loading: ids of sealed events still in the log, then the tail's.
pub(crate) fn dedupe_window(dir: &Path, manifest: &Manifest, window: u64, loaded: &mut Loaded) -> Dedupe {
    let mut dedupe = Dedupe::new(window);
    let window_start = loaded.next_offset.saturating_sub(window);
    if window > 0 {
        load_sealed_ids(dir, manifest, window_start, &mut dedupe, &mut loaded.problems);
    }
    for (offset, id) in std::mem::take(&mut loaded.tail_ids).into_iter().filter(|(offset, _)| *offset >= window_start) {
        dedupe.insert(&id, offset);
    }
    dedupe.expire(loaded.next_offset);
    dedupe
}

/// Unsealed events of the tail as one list, for tests of the loader.
#[cfg(test)]
pub(crate) fn tail_events(loaded: &Loaded) -> Vec<crate::event::LogEvent> {
    loaded.tail.payloads(0, u64::MAX).into_iter().map(crate::tail::decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_resumes_from_every_state_it_can_leave() {
        let dir = tempfile::tempdir().unwrap();
        let fs = Fs::default();
        assert!(is_unfinished_creation(dir.path()).unwrap());
        fs::create_dir(dir.path().join(LOG_DIR)).unwrap();
        fs::write(dir.path().join("log/00000000000000000000.log"), b"\x89ESDB").unwrap();
        fs::write(dir.path().join(MANIFEST_TMP), b"{").unwrap();
        assert!(is_unfinished_creation(dir.path()).unwrap());
        let manifest = create(&fs, dir.path(), 10, None).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), Some(manifest.clone()));
        let loaded = load_log(dir.path(), &manifest, None, None, true).unwrap();
        assert!(tail_events(&loaded).is_empty());
        fs::write(dir.path().join("other"), b"x").unwrap();
        fs::remove_file(dir.path().join(MANIFEST)).unwrap();
        assert!(!is_unfinished_creation(dir.path()).unwrap());
    }
}
