//! The remote tier: partitions copied to an object store (a `file://` location here; the CLI
//! tests run the same against a real S3 server), read in place once their local files are gone,
//! with the same answers as a store that keeps everything local.

use std::collections::BTreeSet;
use std::path::Path;

use esdb_store::{Durability, Error, NewEvent, PartitionRetention, Retention, Store, StoreOptions};

use crate::common::{collect, small_options};

fn remote_url(remote: &Path) -> String {
    format!("file://{}", remote.display())
}

fn tiered(remote: &Path, local_bytes: Option<u64>) -> StoreOptions {
    small_options(Durability::Sync).with_remote(remote_url(remote)).with_local_partition_bytes(local_bytes)
}

fn event(i: u64) -> NewEvent {
    NewEvent::new(format!("s{}", i % 4), (i as i64 * 13) % 95, format!("event-{i}"))
        .grouping(format!("g{}", i % 3))
        .index("k", format!("{}", i % 5))
}

/// Appends events `from..to`, sealing every `seal_every` events.
fn fill(store: &Store, from: u64, to: u64, seal_every: u64) {
    for i in from..to {
        store.append(event(i)).unwrap();
        if (i + 1) % seal_every == 0 {
            store.seal().unwrap();
        }
    }
}

/// Every answer the tests compare: per space, every event both ways, each grouping, each index
/// value; then the log replay.
fn answers(store: &Store) -> Vec<String> {
    let mut out = Vec::new();
    for space in (0..4).map(|s| format!("s{s}")) {
        let Some(space) = store.space(&space).unwrap() else { continue };
        out.push(format!("{:?}", collect(space.events().unwrap())));
        out.push(format!("{:?}", collect(space.events().unwrap().rev())));
        for grouping in 0..3 {
            out.push(format!("{:?}", collect(space.scan(format!("g{grouping}")).unwrap())));
        }
        for value in 0..5 {
            out.push(format!("{:?}", collect(space.scan_index("k", value.to_string()).unwrap())));
        }
    }
    let replay: Vec<u64> = store.read_from(0).unwrap().map(|e| e.unwrap().offset).collect();
    out.push(format!("{replay:?}"));
    out
}

/// The partition files in the store directory.
fn local_partitions(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("partitions"))
        .map(|entries| entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// The objects under the remote location, relative to the store's prefix in it.
fn remote_objects(remote: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for store in std::fs::read_dir(remote).unwrap() {
        let partitions = store.unwrap().path().join("partitions");
        for entry in std::fs::read_dir(partitions).into_iter().flatten() {
            out.insert(entry.unwrap().file_name().to_string_lossy().into_owned());
        }
    }
    out
}

#[test]
fn a_store_read_from_its_remote_tier_answers_as_a_local_one() {
    let (local_dir, tiered_dir, remote) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local = Store::open(local_dir.path(), small_options(Durability::Sync)).unwrap();
    let store = Store::open(tiered_dir.path(), tiered(remote.path(), Some(0))).unwrap();
    fill(&local, 0, 300, 70);
    fill(&store, 0, 300, 70);
    let partitions = store.info().unwrap().manifest.partitions.len() as u64;
    assert!(partitions >= 10, "{partitions} partitions");

    let report = store.tier().unwrap();
    assert_eq!(
        (report.uploaded, report.evicted, report.remote_only, report.local_bytes),
        (partitions, partitions, partitions, 0)
    );
    assert!(local_partitions(tiered_dir.path()).is_empty(), "{:?}", local_partitions(tiered_dir.path()));
    assert_eq!(remote_objects(remote.path()).len() as u64, partitions);
    let manifest = store.info().unwrap().manifest;
    assert!(manifest.partitions.iter().all(|p| p.remote && !p.local));
    assert_eq!(manifest.remote.as_deref(), Some(remote_url(remote.path()).as_str()));
    let expected = answers(&local);
    assert_eq!(answers(&store), expected);
    assert!(store.verify().is_ok(), "{:?}", store.verify().problems);

    // Nothing more to do: a second run changes nothing.
    let again = store.tier().unwrap();
    assert_eq!((again.uploaded, again.evicted, again.deleted_remote), (0, 0, 0));
    drop(store);

    // Reopened, with the recorded tier and without naming it; and read-only.
    let store = Store::open(tiered_dir.path(), small_options(Durability::Sync)).unwrap();
    assert_eq!(answers(&store), expected);
    drop(store);
    let reader = Store::open_read_only(tiered_dir.path()).unwrap();
    assert_eq!(answers(&reader), expected);
    assert!(esdb_store::verify(tiered_dir.path()).unwrap().is_ok());
}

#[test]
fn local_copies_stay_within_the_budget_and_the_oldest_windows_leave_first() {
    let (dir, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Store::open(dir.path(), tiered(remote.path(), None)).unwrap();
    fill(&store, 0, 200, 50);
    // Without a budget every file stays.
    let report = store.tier().unwrap();
    let partitions = store.info().unwrap().manifest.partitions;
    assert_eq!((report.uploaded, report.evicted), (partitions.len() as u64, 0));
    assert_eq!(local_partitions(dir.path()).len(), partitions.len());
    drop(store);

    let mut by_age = partitions.clone();
    by_age.sort_by_key(|p| (p.last_window(), p.seq));
    let newest: u64 = by_age.iter().rev().take(3).map(|p| p.file_len.unwrap()).sum();
    let store = Store::open(dir.path(), tiered(remote.path(), Some(newest))).unwrap();
    let report = store.tier().unwrap();
    assert_eq!(report.uploaded, 0);
    assert_eq!(report.local_bytes, newest);
    assert_eq!(report.evicted as usize, partitions.len() - 3);
    let kept: BTreeSet<String> =
        by_age.iter().rev().take(3).map(|p| p.file.strip_prefix("partitions/").unwrap().to_owned()).collect();
    assert_eq!(local_partitions(dir.path()), kept);
    assert_eq!(store.info().unwrap().partition_bytes, newest);
}

#[test]
fn a_failed_upload_records_nothing_and_deletes_nothing() {
    let (dir, parent) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let remote = parent.path().join("bucket");
    std::fs::create_dir(&remote).unwrap();
    let store = Store::open(dir.path(), tiered(&remote, Some(0))).unwrap();
    fill(&store, 0, 100, 40);
    let before = answers(&store);
    let files = local_partitions(dir.path());
    // The location becomes a file: every upload fails.
    std::fs::remove_dir(&remote).unwrap();
    std::fs::write(&remote, b"not a directory").unwrap();
    let err = store.tier().unwrap_err();
    assert!(matches!(err, Error::Remote { action: "upload", .. }), "{err}");
    let manifest = store.info().unwrap().manifest;
    assert!(manifest.partitions.iter().all(|p| p.local && !p.remote));
    assert_eq!(local_partitions(dir.path()), files);
    assert_eq!(answers(&store), before);

    std::fs::remove_file(&remote).unwrap();
    std::fs::create_dir(&remote).unwrap();
    let report = store.tier().unwrap();
    assert_eq!(report.evicted as usize, files.len());
    assert_eq!(answers(&store), before);
}

#[test]
fn copies_of_replaced_partitions_leave_the_remote_tier() {
    let (dir, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Store::open(dir.path(), tiered(remote.path(), Some(0)).with_compact_target_bytes(1 << 30)).unwrap();
    fill(&store, 0, 120, 30);
    store.tier().unwrap();
    let before = answers(&store);
    let uploaded = remote_objects(remote.path());

    // Compaction reads the remote partitions in place and writes a local one.
    let compacted = store.compact().unwrap();
    assert!(compacted.merged > 1);
    assert_eq!(answers(&store), before);
    let manifest = store.info().unwrap().manifest;
    assert!(!manifest.obsolete_remote.is_empty());
    assert_eq!(remote_objects(remote.path()), uploaded, "copies stay until the next tiering");

    let report = store.tier().unwrap();
    assert_eq!(report.deleted_remote as usize, manifest.obsolete_remote.len());
    let manifest = store.info().unwrap().manifest;
    let named: BTreeSet<String> =
        manifest.partitions.iter().map(|p| p.file.strip_prefix("partitions/").unwrap().to_owned()).collect();
    assert!(manifest.obsolete_remote.is_empty());
    assert_eq!(remote_objects(remote.path()), named);
    assert_eq!(answers(&store), before);

    // Retention deletes partitions; their copies go at the next tiering.
    let retention = Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(0)));
    let retained = store.retain_at(&retention, 1_000).unwrap();
    assert_eq!(retained.partitions as usize, named.len());
    store.tier().unwrap();
    assert!(remote_objects(remote.path()).is_empty());
}

#[test]
fn a_remote_copy_that_changed_is_refused_not_read() {
    let (dir, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Store::open(dir.path(), tiered(remote.path(), Some(0))).unwrap();
    fill(&store, 0, 40, 40);
    store.tier().unwrap();
    drop(store);
    let manifest = esdb_store::Manifest::load(dir.path()).unwrap().unwrap();
    let object = remote.path().join(&manifest.store_id).join(&manifest.partitions[0].file);
    let mut bytes = std::fs::read(&object).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 1;
    std::fs::write(&object, &bytes).unwrap();

    let store = Store::open(dir.path(), small_options(Durability::Sync)).unwrap();
    let err = store.space("s0").map(|_| ()).unwrap_err();
    assert!(matches!(err, Error::ForeignFile { .. }), "{err}");
    let report = store.verify();
    assert!(
        !report.is_ok() && report.problems.iter().any(|p| p.contains(&manifest.partitions[0].file)),
        "{:?}",
        report.problems
    );
}

#[test]
fn repair_keeps_partitions_that_are_only_remote() {
    let (dir, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let store = Store::open(dir.path(), tiered(remote.path(), Some(0))).unwrap();
    fill(&store, 0, 90, 30);
    store.tier().unwrap();
    let before = answers(&store);
    drop(store);
    let report = esdb_store::repair(dir.path()).unwrap();
    assert!(report.actions.iter().any(|a| a.contains("kept as remote")), "{:?}", report.actions);
    let store = Store::open(dir.path(), small_options(Durability::Sync)).unwrap();
    assert_eq!(answers(&store), before);
    assert!(store.verify().is_ok());
}

#[test]
fn the_remote_tier_is_recorded_and_another_is_refused() {
    let (dir, remote, other) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(Store::open(dir.path(), tiered(remote.path(), None)).unwrap());
    let err = Store::open(dir.path(), tiered(other.path(), None)).unwrap_err();
    assert!(matches!(err, Error::OptionMismatch { option: "remote", .. }), "{err}");
    // A trailing slash names the same location.
    let same = small_options(Durability::Sync).with_remote(format!("{}/", remote_url(remote.path())));
    drop(Store::open(dir.path(), same).unwrap());
    let err = Store::open(dir.path(), small_options(Durability::Sync).with_remote("/not/a/url")).unwrap_err();
    assert!(matches!(err, Error::InvalidOption { option: "remote", .. }), "{err}");

    // Without a tier, tiering says so.
    let plain = tempfile::tempdir().unwrap();
    let store = Store::open(plain.path(), small_options(Durability::Sync)).unwrap();
    assert!(matches!(store.tier(), Err(Error::InvalidOption { option: "remote", .. })));
}
