//! Sealed partitions: the handle a version holds for each (its manifest entry, no open file),
//! and a bounded cache of open ones, so that a store of any number of partitions holds at most
//! [`StoreOptions::max_open_partitions`](crate::StoreOptions::max_open_partitions) memory maps.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use esdb_read::Db;

use crate::error::{Error, Result};
use crate::manifest::{PartitionMeta, END_CHECKSUM_LEN, MANIFEST};
use crate::store::lock;
use crate::tier::Tier;

/// A sealed partition as a version names it. Holding an `Arc` of it pins its file: the store
/// deletes an obsolete partition only once nothing else holds its handle.
#[derive(Debug)]
pub(crate) struct Partition {
    pub meta: PartitionMeta,
    pub path: PathBuf,
}

impl Partition {
    pub fn new(dir: &Path, meta: PartitionMeta) -> Partition {
        Partition { path: dir.join(&meta.file), meta }
    }
}

/// `(file_len, end_checksum)` of the file at `path`, as the manifest records them.
pub(crate) fn identity(path: &Path) -> Result<(u64, u64)> {
    let file = File::open(path).map_err(Error::io("open partition", path))?;
    let len = file.metadata().map_err(Error::io("stat partition", path))?.len();
    let tail_len = len.min(END_CHECKSUM_LEN);
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact_at(&mut tail, len - tail_len).map_err(Error::io("read partition", path))?;
    Ok((len, esdb_format::checksum::xxh3(&tail)))
}

/// Opens a partition, from its file or, once it is only remote, in place from `tier`, checking
/// it is the file the manifest names: its length, the checksum of its end and its event count.
pub(crate) fn open(dir: &Path, meta: &PartitionMeta, tier: Option<&Tier>) -> Result<Db> {
    if !meta.local {
        let Some(tier) = tier else {
            return Err(Error::Manifest {
                path: dir.join(MANIFEST),
                reason: format!("partition {} is only remote, and the store has no remote tier", meta.file),
            });
        };
        return tier.open(dir, meta);
    }
    let path = dir.join(&meta.file);
    check_identity(meta, &path, || identity(&path))?;
    let db = Db::open(&path).map_err(|source| Error::Partition { path: path.clone(), source })?;
    check_events(dir, meta, db)
}

/// Fails with [`Error::ForeignFile`] naming `location` unless the file's `(length, end
/// checksum)`, which `identity` reads, are those `meta` records (where it records them).
pub(crate) fn check_identity(
    meta: &PartitionMeta,
    location: &Path,
    identity: impl FnOnce() -> Result<(u64, u64)>,
) -> Result<()> {
    let (Some(want_len), Some(want_sum)) = (meta.file_len, meta.end_checksum) else { return Ok(()) };
    let mismatch = |reason: String| Err(Error::ForeignFile { path: location.to_path_buf(), reason });
    let (len, sum) = identity()?;
    if len != want_len {
        return mismatch(format!("it is {len} bytes long, the manifest says {want_len}"));
    }
    if sum != want_sum {
        return mismatch(format!("the checksum of its end is {sum:016x}, the manifest says {want_sum:016x}"));
    }
    Ok(())
}

/// `db`, once it holds as many events as `meta` says.
pub(crate) fn check_events(dir: &Path, meta: &PartitionMeta, db: Db) -> Result<Db> {
    if db.len() != meta.events {
        return Err(Error::Manifest {
            path: dir.join(MANIFEST),
            reason: format!("partition {} holds {} events, the manifest says {}", meta.file, db.len(), meta.events),
        });
    }
    Ok(db)
}

/// The most recently used open partitions, by sequence number.
#[derive(Debug)]
pub(crate) struct Cache {
    capacity: usize,
    /// Where partitions that are only remote are read from.
    tier: Option<Tier>,
    inner: Mutex<CacheInner>,
}

#[derive(Debug, Default)]
struct CacheInner {
    clock: u64,
    open: HashMap<u64, (Db, u64)>,
}

impl Cache {
    pub fn new(capacity: usize, tier: Option<Tier>) -> Cache {
        Cache { capacity: capacity.max(1), tier, inner: Mutex::new(CacheInner::default()) }
    }

    /// The store's remote tier, if it has one.
    pub fn tier(&self) -> Option<&Tier> {
        self.tier.as_ref()
    }

    /// The open partition, opening it (outside the cache's lock) when it is not cached.
    pub fn get(&self, dir: &Path, partition: &Partition) -> Result<Db> {
        let seq = partition.meta.seq;
        {
            let mut inner = lock(&self.inner);
            inner.clock += 1;
            let clock = inner.clock;
            if let Some((db, used)) = inner.open.get_mut(&seq) {
                *used = clock;
                return Ok(db.clone());
            }
        }
        let db = open(dir, &partition.meta, self.tier.as_ref())?;
        let mut inner = lock(&self.inner);
        if inner.open.len() >= self.capacity {
            // Linear in the capacity, which is small next to the work of opening a file.
            if let Some(oldest) = inner.open.iter().min_by_key(|(_, (_, used))| *used).map(|(seq, _)| *seq) {
                inner.open.remove(&oldest);
            }
        }
        let clock = inner.clock;
        inner.open.insert(seq, (db.clone(), clock));
        Ok(db)
    }

    /// Forgets a partition (it became obsolete).
    pub fn forget(&self, seq: u64) {
        lock(&self.inner).open.remove(&seq);
    }

    /// Number of partitions held open.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.inner).open.len()
    }
}

/// A partition handle shared by versions.
pub(crate) type Handle = Arc<Partition>;

#[cfg(test)]
mod tests {
    use super::*;

    fn partition(dir: &Path, seq: u64) -> Partition {
        let file = crate::manifest::partition_file(seq, 0, 1);
        std::fs::create_dir_all(dir.join("partitions")).unwrap();
        let mut writer = esdb_write::Writer::create(dir.join(&file)).unwrap();
        writer.add("s", 0, "", std::iter::empty::<(&[u8], &[u8])>(), "x").unwrap();
        let summary = writer.finish().unwrap();
        let (file_len, end_checksum) = identity(&dir.join(&file)).unwrap();
        let meta = PartitionMeta {
            seq,
            window: 0,
            file,
            events: summary.n_events,
            min_ts: 0,
            max_ts: 0,
            first_offset: 0,
            last_offset: 0,
            last_window: None,
            file_len: Some(file_len),
            end_checksum: Some(end_checksum),
            remote: false,
            local: true,
        };
        Partition::new(dir, meta)
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_checks_identity() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(2, None);
        let parts: Vec<Partition> = (0..3).map(|seq| partition(dir.path(), seq)).collect();
        for part in &parts {
            assert_eq!(cache.get(dir.path(), part).unwrap().len(), 1);
        }
        assert_eq!(cache.len(), 2);
        cache.forget(2);
        assert_eq!(cache.len(), 1);
        let mut wrong = parts[0].meta.clone();
        wrong.end_checksum = wrong.end_checksum.map(|sum| sum ^ 1);
        assert!(matches!(open(dir.path(), &wrong, None), Err(Error::ForeignFile { .. })));
    }
}
