//! Recovery on open: torn ends are cut, corruption elsewhere is an error naming the segment and
//! position, orphans are removed, and a directory is never taken over by mistake.

use std::fs::{self, OpenOptions};
use std::io::Write;

use esdb_store::{Error, NewEvent, Store};

use crate::common::{buffered, small_options};

fn store_with_events(n: u64) -> (tempfile::TempDir, Vec<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    let offsets = (0..n).map(|i| store.append(NewEvent::new("s", i as i64, vec![b'x'; 40])).unwrap()).collect();
    store.close().unwrap();
    (dir, offsets)
}

fn active_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut segments: Vec<_> = fs::read_dir(dir.join("log")).unwrap().map(|e| e.unwrap().path()).collect();
    segments.sort();
    segments.pop().unwrap()
}

#[test]
fn a_torn_record_at_the_end_is_cut_and_everything_before_it_kept() {
    let (dir, _) = store_with_events(10);
    let segment = active_segment(dir.path());
    let len = fs::metadata(&segment).unwrap().len();
    // Cut the last record in half: a write the crash interrupted.
    OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - 20).unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    assert!(store.recovery().torn_bytes > 0);
    assert_eq!(store.next_offset(), 9);
    assert_eq!(store.append(NewEvent::new("s", 100, "after")).unwrap(), 9);
    let offsets: Vec<u64> = store.read_from(0).unwrap().map(|e| e.unwrap().offset).collect();
    assert_eq!(offsets, (0..10).collect::<Vec<_>>());
}

#[test]
fn garbage_after_the_last_record_is_cut() {
    let (dir, _) = store_with_events(3);
    let segment = active_segment(dir.path());
    OpenOptions::new().append(true).open(&segment).unwrap().write_all(&[0u8; 100]).unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    assert_eq!(store.recovery().torn_bytes, 100);
    assert_eq!(store.next_offset(), 3);
}

#[test]
fn damage_in_the_middle_of_a_segment_is_an_error_naming_segment_and_position() {
    let (dir, _) = store_with_events(5);
    let segment = active_segment(dir.path());
    let mut bytes = fs::read(&segment).unwrap();
    let position = 32 + 20; // inside the first record, which valid records follow
    bytes[position] ^= 0xff;
    fs::write(&segment, bytes).unwrap();
    match Store::open(dir.path(), small_options(buffered())) {
        Err(Error::CorruptSegment { path, position, .. }) => {
            assert_eq!(path, segment);
            assert_eq!(position, 32);
        }
        other => panic!("expected CorruptSegment, got {other:?}"),
    }
}

#[test]
fn orphans_of_interrupted_steps_are_removed() {
    let (dir, _) = store_with_events(3);
    fs::write(dir.path().join("partitions/0000000099-w0.esdb"), b"half-written partition").unwrap();
    fs::write(dir.path().join("log/00000000000000000777.log"), b"segment never referenced").unwrap();
    fs::write(dir.path().join("MANIFEST.tmp"), b"{").unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    let mut removed: Vec<String> = store.recovery().removed_orphans.iter().map(|p| p.display().to_string()).collect();
    removed.sort();
    assert_eq!(removed, ["MANIFEST.tmp", "log/00000000000000000777.log", "partitions/0000000099-w0.esdb"]);
    assert_eq!(store.next_offset(), 3);
}

#[test]
fn a_directory_with_other_files_is_not_taken_over_and_a_store_has_one_writer() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
    assert!(matches!(Store::open(dir.path(), small_options(buffered())), Err(Error::NotAStore { .. })));
    assert!(dir.path().join("notes.txt").exists());

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    store.append(NewEvent::new("s", 1, "one")).unwrap();
    assert!(matches!(Store::open(dir.path(), small_options(buffered())), Err(Error::Locked { .. })));
    let reader = Store::open_read_only(dir.path()).unwrap();
    assert!(matches!(reader.append(NewEvent::new("s", 2, "two")), Err(Error::ReadOnly { .. })));
    assert!(matches!(reader.seal(), Err(Error::ReadOnly { .. })));
}

#[test]
fn a_read_only_follower_sees_what_the_writer_appends_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    store.append(NewEvent::new("s", 1, "before")).unwrap();
    store.sync().unwrap();
    let reader = Store::open_read_only(dir.path()).unwrap();
    let mut follow = reader.follow(0).unwrap();
    assert_eq!(follow.next().unwrap().unwrap().data, "before");
    // Enough events to roll several 4 KiB segments.
    for i in 0..200 {
        store.append(NewEvent::new("s", i, format!("after-{i}"))).unwrap();
    }
    store.sync().unwrap();
    for i in 0..200 {
        let event = follow.next_timeout(std::time::Duration::from_secs(10)).unwrap().expect("written");
        assert_eq!(event.offset, i + 1);
        assert_eq!(event.data, format!("after-{i}"));
    }
}

#[test]
fn bad_fields_are_rejected_whole_batch_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    store.append(NewEvent::new("s", 1, "kept")).unwrap();
    let batch = [NewEvent::new("s", 2, "fine"), NewEvent::new("", 3, "no space")];
    match store.append_batch(&batch) {
        Err(Error::FieldLength { field: "space", event: 1, len: 0, .. }) => {}
        other => panic!("expected FieldLength, got {other:?}"),
    }
    assert_eq!(store.next_offset(), 1);
    assert_eq!(store.append(NewEvent::new("s", 4, "next")).unwrap(), 1);
}

#[test]
fn retention_makes_old_offsets_unreplayable_but_keeps_unsealed_ones() {
    let (dir, _) = store_with_events(300);
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    let unsealed_retention = esdb_store::Retention {
        log: esdb_store::LogRetention { max_bytes: Some(0), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(store.retain_with(&unsealed_retention).unwrap().segments, 0, "nothing is sealed yet");
    store.seal().unwrap();
    let report = store.retain_with(&unsealed_retention).unwrap();
    assert!(report.segments > 0);
    assert_eq!(store.log_start(), 300);
    assert!(matches!(store.read_from(0), Err(Error::OffsetOutOfRange { offset: 0, log_start: 300, .. })));
    assert_eq!(store.space("s").unwrap().unwrap().len(), 300, "sealed history stays queryable");
}
