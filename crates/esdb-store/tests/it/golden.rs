//! Store directories written by each layout version (`fixtures/store/v1`, by the release
//! before layout 2, `fixtures/store/v2` and `fixtures/store/v3`): the activity example, 8 events
//! sealed and 6 in the unsealed log. In v3 the store records its time unit, its windows are 2
//! seconds wide and the 8 sealed events were compacted from 3 windows into one partition
//! (`last_window`). v4 is v3 after `esdb store tier` to a remote tier (recorded as
//! `s3://esdb-fixtures/store-v4`, which no test reaches): its partition is named local and
//! remote. v5 is v4 after `esdb store seal --covering-index type --covering-timeline`: the
//! manifest records that layout, the 6 unsealed events went into covered partitions and the
//! log holds none unsealed. Every version stays readable; a writer upgrades older ones in place
//! without losing or repeating an event.

use std::path::{Path, PathBuf};

use esdb_store::{Durability, NewEvent, Store, StoreOptions};

fn fixture(version: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/store").join(version)
}

/// A copy of a fixture, to open for writing.
fn copy(version: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut stack = vec![fixture(version)];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            let target = dir.path().join(path.strip_prefix(fixture(version)).unwrap());
            if path.is_dir() {
                std::fs::create_dir_all(&target).unwrap();
                stack.push(path);
            } else {
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(&path, &target).unwrap();
            }
        }
    }
    dir
}

/// What the fixture holds: `(offset, event id, customer)` from `examples/activity.jsonl`.
fn expected() -> Vec<(u64, String, String)> {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/activity.jsonl")).unwrap();
    text.lines()
        .enumerate()
        .map(|(offset, line)| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            (
                offset as u64,
                value["event_id"].as_str().unwrap().to_owned(),
                value["customer"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn check(store: &Store, context: &str) {
    let want = expected();
    let got: Vec<(u64, String)> = store
        .read_from(0)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.offset, String::from_utf8(e.id.unwrap().to_vec()).unwrap())
        })
        .collect();
    assert_eq!(got, want.iter().map(|(o, id, _)| (*o, id.clone())).collect::<Vec<_>>(), "{context}: replay");
    for customer in ["1", "2", "3"] {
        let n = want.iter().filter(|(_, _, c)| c == customer).count() as u64;
        assert_eq!(store.space(customer).unwrap().unwrap().len(), n, "{context}: customer {customer}");
    }
    let purchases = store.space("3").unwrap().unwrap().scan_index("type", "purchase").unwrap().count();
    assert_eq!(purchases, 1, "{context}: customer 3's purchases");
    let report = store.verify();
    assert!(report.is_ok(), "{context}: {:?}", report.problems);
}

#[test]
fn every_layout_version_stays_readable() {
    for version in ["v1", "v2", "v3", "v4", "v5"] {
        let reader = Store::open_read_only(fixture(version)).unwrap();
        let sealed = if version == "v5" { 14 } else { 8 };
        assert_eq!(reader.info().unwrap().manifest.sealed_through, sealed, "{version}");
        check(&reader, &format!("{version} read-only"));
        assert!(esdb_store::verify(fixture(version)).unwrap().is_ok(), "{version}");
    }
}

#[test]
fn a_writer_upgrades_a_version_1_store_in_place() {
    let dir = copy("v1");
    let options = StoreOptions::default().with_durability(Durability::Sync);
    let store = Store::open(dir.path(), options.clone()).unwrap();
    let manifest = store.info().unwrap().manifest;
    assert_eq!(manifest.version, 5);
    assert_eq!(manifest.store_id.len(), 32);
    check(&store, "upgraded");
    // The dedupe window came through: a retry of e3 is not stored again.
    assert_eq!(store.append(NewEvent::new("1", 1403534921, "retry").id("e3")).unwrap(), 2);
    assert_eq!(store.append(NewEvent::new("4", 1403534999, "new")).unwrap(), 14);
    store.seal().unwrap();
    drop(store);
    let store = Store::open(dir.path(), options).unwrap();
    assert_eq!(store.next_offset(), 15);
    assert!(store.verify().is_ok());
    // The version-1 segments and partition are still read beside the version-2 ones.
    assert!(dir.path().join("partitions/0000000000-w16244.esdb").exists());
}

#[test]
fn a_writer_upgrades_a_version_2_store_and_keeps_a_version_3_one() {
    let dir = copy("v2");
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let manifest = store.info().unwrap().manifest;
    assert_eq!((manifest.version, manifest.time_unit.as_deref()), (5, None));
    assert!(manifest.partitions.iter().all(|p| p.last_window() == p.window));
    check(&store, "upgraded from v2");
    drop(store);
    let dir = copy("v3");
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let manifest = store.info().unwrap().manifest;
    assert_eq!((manifest.partition_window, manifest.time_unit.as_deref()), (2, Some("s")));
    assert_eq!(manifest.partitions.len(), 1);
    assert!(manifest.partitions[0].last_window() > manifest.partitions[0].window);
    check(&store, "v3 written");
    assert_eq!(store.append(NewEvent::new("1", 1403534921, "retry").id("e3")).unwrap(), 2);
}

#[test]
fn a_version_4_store_records_its_remote_tier_and_where_partitions_are() {
    let reader = Store::open_read_only(fixture("v4")).unwrap();
    let manifest = reader.info().unwrap().manifest;
    assert_eq!((manifest.version, manifest.remote.as_deref()), (4, Some("s3://esdb-fixtures/store-v4")));
    assert!(manifest.partitions.iter().all(|p| p.remote && p.local));
    assert!(manifest.obsolete_remote.is_empty());
    // A writer opens it without reaching the tier: the partition is read from its local file.
    let dir = copy("v4");
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    check(&store, "v4 written");
    let err = Store::open(copy("v4").path(), StoreOptions::default().with_remote("s3://elsewhere/x")).unwrap_err();
    assert!(matches!(err, esdb_store::Error::OptionMismatch { option: "remote", .. }), "{err}");
}

#[test]
fn a_version_5_store_records_its_partitions_layout() {
    let reader = Store::open_read_only(fixture("v5")).unwrap();
    let manifest = reader.info().unwrap().manifest;
    assert_eq!(manifest.version, 5);
    assert_eq!((manifest.covering_indexes.as_slice(), manifest.covering_timeline), (&["type".to_owned()][..], true));
    let covered = |file: &str| {
        let db = esdb_read::Db::open(fixture("v5").join(file)).unwrap();
        (db.covering_index_names().iter().map(|name| name.to_vec()).collect::<Vec<_>>(), db.covers_timeline())
    };
    // The partition of layout 4 is as it was; those sealed after the upgrade cover the layout.
    let (old, new): (Vec<_>, Vec<_>) = manifest.partitions.iter().partition(|p| p.seq == 3);
    assert_eq!(covered(&old[0].file), (Vec::new(), false));
    assert!(!new.is_empty());
    for partition in new {
        assert_eq!(covered(&partition.file), (vec![b"type".to_vec()], true), "{}", partition.file);
    }
    // A writer that names no layout keeps the recorded one.
    let dir = copy("v5");
    let store = Store::open(dir.path(), StoreOptions::default().with_durability(Durability::Sync)).unwrap();
    check(&store, "v5 written");
    store.append(NewEvent::new("1", 1403534999, "new").index("type", "purchase")).unwrap();
    let sealed = store.seal().unwrap();
    assert_eq!(sealed.partitions.len(), 1);
    let info = store.info().unwrap();
    let file = &info.manifest.partitions.iter().max_by_key(|p| p.seq).unwrap().file;
    let db = esdb_read::Db::open(dir.path().join(file)).unwrap();
    assert_eq!((db.covering_index_names().len(), db.covers_timeline()), (1, true));
}
