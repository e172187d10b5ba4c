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

/// The bytes of the record `NewEvent::new("s", ts, data)` would get at `offset`.
fn record_bytes(offset: u64, ts: i64, data: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let event = esdb_store::record::log_event(&NewEvent::new("s", ts, data.to_owned()), offset, 0);
    esdb_store::record::encode_record(&event, &mut out);
    out
}

#[test]
fn a_torn_record_at_the_end_is_cut_and_everything_before_it_kept() {
    let (dir, _) = store_with_events(10);
    let segment = active_segment(dir.path());
    // Half of a record past the durable end: a write the crash interrupted.
    let record = record_bytes(10, 10, "never acknowledged");
    OpenOptions::new().append(true).open(&segment).unwrap().write_all(&record[..record.len() - 20]).unwrap();
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    assert_eq!(store.recovery().torn_bytes, record.len() as u64 - 20);
    assert_eq!(store.next_offset(), 10);
    assert_eq!(store.append(NewEvent::new("s", 100, "after")).unwrap(), 10);
    let offsets: Vec<u64> = store.read_from(0).unwrap().map(|e| e.unwrap().offset).collect();
    assert_eq!(offsets, (0..11).collect::<Vec<_>>());
}

#[test]
fn an_acknowledged_record_cut_off_is_damage_not_a_torn_write() {
    // See: issue 12, measured item 11 (acknowledged records cut off at a record boundary).
    let (dir, _) = store_with_events(10);
    let segment = active_segment(dir.path());
    let len = fs::metadata(&segment).unwrap().len();
    let record_len = record_bytes(9, 9, &"x".repeat(40)).len() as u64;
    for cut in [20, record_len] {
        OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - cut).unwrap();
        let report = esdb_store::verify(dir.path()).unwrap();
        assert!(!report.is_ok(), "verify must report the cut of {cut} bytes");
        if cut == record_len {
            assert!(report.problems[0].contains("acknowledged durable"), "{:?}", report.problems);
        }
        // The writer refuses to go on as if nothing happened (it would publish the shorter log
        // as durable); a reader still reads what is there.
        match Store::open(dir.path(), small_options(buffered())) {
            Err(Error::CorruptSegment { path, .. }) => assert_eq!(path, segment),
            other => panic!("cut {cut}: {other:?}"),
        }
        let reader = Store::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.recovery().problems.len(), 1);
        assert_eq!(reader.read_from(0).unwrap().count(), 9);
    }
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
            assert_eq!(position, esdb_store::record::SEGMENT_HEADER_LEN as u64);
        }
        other => panic!("expected CorruptSegment, got {other:?}"),
    }
}

#[test]
fn temporary_files_are_removed_and_unnamed_files_quarantined_never_deleted() {
    let (dir, _) = store_with_events(3);
    fs::write(dir.path().join("partitions/0000000099-w0.esdb"), b"half-written partition").unwrap();
    fs::write(dir.path().join("partitions/.esdb-spill-x.tmp"), b"spill").unwrap();
    fs::write(dir.path().join("log/00000000000000000777.log"), b"segment never referenced").unwrap();
    fs::write(dir.path().join("MANIFEST.tmp"), b"{").unwrap();
    let report = esdb_store::verify(dir.path()).unwrap();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    let store = Store::open(dir.path(), small_options(buffered())).unwrap();
    let mut removed: Vec<String> = store.recovery().removed_orphans.iter().map(|p| p.display().to_string()).collect();
    removed.sort();
    assert_eq!(removed, ["MANIFEST.tmp", "partitions/.esdb-spill-x.tmp"]);
    let quarantined: Vec<String> = store.recovery().quarantined.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(quarantined, ["quarantine/log-00000000000000000777.log", "quarantine/partitions-0000000099-w0.esdb"]);
    assert_eq!(fs::read(dir.path().join(&quarantined[1])).unwrap(), b"half-written partition");
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
    let unsealed_retention =
        esdb_store::Retention::default().with_log(esdb_store::LogRetention::default().with_max_bytes(Some(0)));
    assert_eq!(store.retain_with(&unsealed_retention).unwrap().segments, 0, "nothing is sealed yet");
    store.seal().unwrap();
    let report = store.retain_with(&unsealed_retention).unwrap();
    assert!(report.segments > 0);
    assert_eq!(store.log_start(), 300);
    assert!(matches!(store.read_from(0), Err(Error::OffsetOutOfRange { offset: 0, log_start: 300, .. })));
    assert_eq!(store.space("s").unwrap().unwrap().len(), 300, "sealed history stays queryable");
}
