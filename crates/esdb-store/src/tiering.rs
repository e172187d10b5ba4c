//! [`Store::tier`]: copying sealed partitions to the remote tier, deleting local files past the
//! budget once their copies are named, and deleting remote copies nothing names any more. Each
//! step changes the MANIFEST only after what it relies on is done: a copy is named remote once it
//! was uploaded and read back equal; a local file is deleted once a MANIFEST naming its copy is
//! installed; a remote copy is deleted once a MANIFEST stopped naming it. A crash anywhere leaves
//! a MANIFEST whose every partition is readable, locally or remotely (`docs/STORE.md`, "Remote
//! tier").

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::partition::{Handle, Partition};
use crate::store::{lock, Shared, Store};
use crate::tier::Tier;
use crate::transition::Obsolete;

/// What [`Store::tier`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TierReport {
    /// Partitions copied to the tier (and read back equal).
    pub uploaded: u64,
    /// Bytes they hold.
    pub uploaded_bytes: u64,
    /// Partitions whose local files were deleted to keep within
    /// [`StoreOptions::local_partition_bytes`](crate::StoreOptions::local_partition_bytes); they
    /// are read in place from the tier from now on.
    pub evicted: u64,
    /// Bytes of the local files deleted.
    pub evicted_bytes: u64,
    /// Remote copies of partitions that compaction or retention replaced, deleted.
    pub deleted_remote: u64,
    /// Bytes of partitions in the store directory afterwards.
    pub local_bytes: u64,
    /// Partitions read from the tier only, afterwards.
    pub remote_only: u64,
}

impl Store {
    /// Copies every sealed partition not yet in the remote tier ([`StoreOptions::remote`]) to it,
    /// reading each copy back to compare it with the file, and records it as remote; then, with
    /// [`StoreOptions::local_partition_bytes`], deletes the local files of remote partitions,
    /// oldest windows first, until the rest fit; and deletes remote copies of partitions that
    /// compaction or retention no longer names. With a tier, the background thread runs this
    /// after every automatic seal.
    ///
    /// ```
    /// use esdb_store::{NewEvent, Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let bucket = tempfile::tempdir()?;
    /// let remote = format!("file://{}", bucket.path().display());
    /// let options = StoreOptions::default().with_remote(&remote).with_local_partition_bytes(Some(0));
    /// let store = Store::open(dir.path().join("store"), options)?;
    /// store.append(NewEvent::new("a", 5, "kept remotely"))?;
    /// store.seal()?;
    /// let report = store.tier()?;
    /// assert_eq!((report.uploaded, report.evicted, report.remote_only), (1, 1, 1));
    /// // Read in place from the tier.
    /// let events = store.space("a")?.expect("stored").events()?;
    /// assert_eq!(events.map(|e| e.map(|e| e.data().to_vec())).collect::<Result<Vec<_>, _>>()?, [b"kept remotely"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`StoreOptions::remote`]: crate::StoreOptions::remote
    /// [`StoreOptions::local_partition_bytes`]: crate::StoreOptions::local_partition_bytes
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if the store has no tier; [`Error::ReadOnly`]; [`Error::Remote`]
    /// when an upload, its check or a deletion fails (the copies checked before it are
    /// recorded; nothing local is deleted for a partition whose copy is not recorded);
    /// [`Error::Io`] / [`Error::Unsettled`] as for a seal.
    pub fn tier(&self) -> Result<TierReport> {
        self.shared.tier()
    }
}

impl Shared {
    pub(crate) fn tier(&self) -> Result<TierReport> {
        self.writable("tier")?;
        self.check_settled()?;
        let tier = self.cache.tier().cloned().ok_or_else(|| Error::InvalidOption {
            option: "remote",
            reason: "the store has no remote tier; open it with StoreOptions::remote".into(),
        })?;
        let _maintenance = lock(&self.maintenance);
        let _span = tracing::info_span!("esdb_store::tier", dir = %self.dir.display()).entered();
        let mut report = TierReport::default();

        let obsolete_remote = lock(&self.manifest).obsolete_remote.clone();
        let mut deleted = Vec::new();
        let mut failure = None;
        for file in obsolete_remote {
            match tier.delete(&file) {
                Ok(()) => deleted.push(file),
                Err(err) => {
                    failure = Some(err);
                    break;
                }
            }
        }
        report.deleted_remote = deleted.len() as u64;

        let partitions = self.read_view().partitions.clone();
        let uploaded = if failure.is_none() {
            self.upload_all(&tier, &partitions, &mut report, &mut failure)
        } else {
            HashSet::new()
        };
        let evicted = self.choose_evictions(&partitions, &uploaded, &mut report);

        if !(uploaded.is_empty() && evicted.is_empty() && deleted.is_empty()) {
            let mut manifest = lock(&self.manifest);
            let mut next = manifest.clone();
            next.obsolete_remote.retain(|file| !deleted.contains(file));
            for meta in &mut next.partitions {
                meta.remote |= uploaded.contains(&meta.seq);
                meta.local &= !evicted.contains(&meta.seq);
            }
            let dropped =
                partitions.iter().filter(|p| evicted.contains(&p.meta.seq)).map(Obsolete::partition).collect();
            self.install(&mut manifest, next.clone(), &[], dropped)?;
            let mut view = self.write_view();
            let all: Vec<Handle> = view
                .partitions
                .iter()
                .map(|handle| match next.partitions.iter().find(|meta| meta.seq == handle.meta.seq) {
                    Some(meta) if *meta != handle.meta => Arc::new(Partition::new(&self.dir, meta.clone())),
                    _ => handle.clone(),
                })
                .collect();
            view.partitions = Arc::new(all);
        }
        drop(partitions);
        self.delete_obsolete();
        let view = self.read_view().partitions.clone();
        report.local_bytes = view.iter().filter(|p| p.meta.local).map(|p| p.meta.file_len.unwrap_or(0)).sum();
        report.remote_only = view.iter().filter(|p| !p.meta.local).count() as u64;
        tracing::info!(
            uploaded = report.uploaded,
            evicted = report.evicted,
            deleted_remote = report.deleted_remote,
            local_bytes = report.local_bytes,
            "tiered"
        );
        match failure {
            Some(err) => Err(err),
            None => Ok(report),
        }
    }

    /// Uploads every local partition not yet remote, oldest first, stopping at the first
    /// failure (kept in `failure`). The sequence numbers of the copies checked.
    fn upload_all(
        &self,
        tier: &Tier,
        partitions: &[Handle],
        report: &mut TierReport,
        failure: &mut Option<Error>,
    ) -> HashSet<u64> {
        let mut uploaded = HashSet::new();
        for partition in partitions.iter().filter(|p| p.meta.local && !p.meta.remote) {
            match tier.upload(&partition.path, &partition.meta.file) {
                Ok(bytes) => {
                    uploaded.insert(partition.meta.seq);
                    report.uploaded += 1;
                    report.uploaded_bytes += bytes;
                }
                Err(err) => {
                    *failure = Some(err);
                    break;
                }
            }
        }
        uploaded
    }

    /// The local files to delete to keep within the budget: of partitions that are (or now
    /// become) remote, those of the oldest windows first.
    fn choose_evictions(
        &self,
        partitions: &[Handle],
        uploaded: &HashSet<u64>,
        report: &mut TierReport,
    ) -> HashSet<u64> {
        let mut evicted = HashSet::new();
        let Some(budget) = self.options.local_partition_bytes else { return evicted };
        let local = partitions.iter().filter(|p| p.meta.local);
        let mut local_bytes: u64 = local.clone().map(|p| p.meta.file_len.unwrap_or(0)).sum();
        let mut candidates: Vec<&Handle> = local.filter(|p| p.meta.remote || uploaded.contains(&p.meta.seq)).collect();
        candidates.sort_by_key(|p| (p.meta.last_window(), p.meta.seq));
        for partition in candidates {
            if local_bytes <= budget {
                break;
            }
            let len = partition.meta.file_len.unwrap_or(0);
            local_bytes -= len;
            evicted.insert(partition.meta.seq);
            report.evicted += 1;
            report.evicted_bytes += len;
        }
        evicted
    }
}
