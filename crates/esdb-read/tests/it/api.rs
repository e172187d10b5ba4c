//! Behaviour of the public API around the edges: missing things, counts, threads, options.

use esdb_read::Db;
use esdb_write::{WriteError, Writer, WriterOptions};

use crate::common::{collect, open_bytes, write_file, TestEvent};

fn ev(space: &str, ts: i64, grouping: &str, indexes: &[(&str, &str)], data: &str) -> TestEvent {
    TestEvent {
        space: space.into(),
        ts,
        grouping: grouping.into(),
        indexes: indexes.iter().map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec())).collect(),
        data: data.into(),
    }
}

#[test]
fn empty_file_has_no_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let db = open_bytes(write_file(dir.path(), "empty.esdb", &[], WriterOptions::default()));
    assert!(db.is_empty());
    assert_eq!(db.time_range(), None);
    assert_eq!(db.spaces().count(), 0);
    assert!(db.space("x").unwrap().is_none());
    assert!(db.verify().is_ok());
}

#[test]
fn missing_grouping_and_index_value_are_empty_scans() {
    let dir = tempfile::tempdir().unwrap();
    let db =
        open_bytes(write_file(dir.path(), "f.esdb", &[ev("s", 1, "g", &[("t", "a")], "x")], WriterOptions::default()));
    let space = db.space("s").unwrap().unwrap();
    assert_eq!(space.scan("other").unwrap().count(), 0);
    assert_eq!(space.scan("").unwrap().count(), 0);
    assert_eq!(space.scan_index("t", "b").unwrap().count(), 0);
    assert_eq!(space.scan_index("u", "a").unwrap().count(), 0);
    assert_eq!(collect(space.scan("g").unwrap()), vec![(1, b"x".to_vec())]);
}

#[test]
fn duplicate_index_pairs_index_once_and_two_values_index_both() {
    let dir = tempfile::tempdir().unwrap();
    let events = [ev("s", 1, "", &[("t", "a"), ("t", "a"), ("t", "b")], "one")];
    let db = open_bytes(write_file(dir.path(), "f.esdb", &events, WriterOptions::default()));
    let space = db.space("s").unwrap().unwrap();
    assert_eq!(collect(space.scan_index("t", "a").unwrap()), vec![(1, b"one".to_vec())]);
    assert_eq!(collect(space.scan_index("t", "b").unwrap()), vec![(1, b"one".to_vec())]);
    assert_eq!(space.n_index_values(), 2);
}

#[test]
fn counts_and_time_bounds_without_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let events = [ev("s", 5, "a", &[("t", "x")], ""), ev("s", -2, "b", &[("t", "x")], ""), ev("s", 9, "a", &[], "")];
    let db = open_bytes(write_file(dir.path(), "f.esdb", &events, WriterOptions::default()));
    assert_eq!(db.time_range(), Some((-2, 9)));
    let space = db.space("s").unwrap().unwrap();
    assert_eq!((space.len(), space.counts().min_ts, space.counts().max_ts), (3, -2, 9));
    let a = space.grouping("a").unwrap().unwrap();
    assert_eq!((a.counts.n_events, a.counts.min_ts, a.counts.max_ts), (2, 5, 9));
    let x = space.index_value("t", "x").unwrap().unwrap();
    assert_eq!((x.counts.n_events, x.counts.min_ts, x.counts.max_ts), (2, -2, 5));
}

#[test]
fn rejected_add_names_the_field_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.esdb");
    let options = WriterOptions::default().with_max_data_len(4);
    let mut writer = Writer::create_with(&path, options).unwrap();
    writer.add("s", 1, "", [("t", "a")], "ok").unwrap();
    let too_long = vec![b'x'; 70_000];
    assert!(matches!(
        writer.add("", 2, "", [("t", "a")], "x"),
        Err(WriteError::FieldLength { field: "space", len: 0, .. })
    ));
    assert!(matches!(
        writer.add(&too_long, 2, "", [("t", "a")], "x"),
        Err(WriteError::FieldLength { field: "space", len: 70_000, .. })
    ));
    assert!(matches!(
        writer.add("s", 2, &too_long, [("t", "a")], "x"),
        Err(WriteError::FieldLength { field: "grouping", .. })
    ));
    assert!(matches!(
        writer.add("s", 2, "", [("t", "a"), ("", "b")], "x"),
        Err(WriteError::FieldLength { field: "index name", index_entry: Some(1), .. })
    ));
    assert!(matches!(
        writer.add("s", 2, "", [("t", &too_long[..])], "x"),
        Err(WriteError::FieldLength { field: "index value", index_entry: Some(0), .. })
    ));
    assert!(matches!(
        writer.add("s", 2, "", [("t", "a")], "too long"),
        Err(WriteError::FieldLength { field: "data", len: 8, max: 4, .. })
    ));
    let err = writer.add("s", 2, "", [("t", "a")], "too long").unwrap_err();
    assert_eq!(err.to_string(), "data is 8 bytes long, allowed are 0..=4");
    writer.add("s", 3, "", [("t", "a")], "ok2").unwrap();
    assert_eq!(writer.finish().unwrap().n_events, 2);
    let db = Db::open(&path).unwrap();
    assert_eq!(
        collect(db.space("s").unwrap().unwrap().events().unwrap()),
        vec![(1, b"ok".to_vec()), (3, b"ok2".to_vec())]
    );
}

#[test]
fn create_refuses_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.esdb");
    std::fs::write(&path, b"keep me").unwrap();
    assert!(matches!(Writer::create(&path), Err(WriteError::AlreadyExists { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[test]
fn finish_refuses_a_file_that_appeared_meanwhile_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.esdb");
    let mut writer = Writer::create(&path).unwrap();
    writer.add("s", 1, "", [("t", "a")], "x").unwrap();
    std::fs::write(&path, b"someone else").unwrap();
    assert!(matches!(writer.finish(), Err(WriteError::AlreadyExists { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), b"someone else");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "temporary files must be gone");
}

#[test]
fn dropped_writer_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.esdb");
    let options = WriterOptions::default().with_memory_budget(2048);
    let mut writer = Writer::create_with(&path, options).unwrap();
    for ts in 0..2000 {
        writer.add("s", ts, "", [("t", "a")], "some data to spill").unwrap();
    }
    // Spill files have no name, so nothing is visible even while they are in use (and a killed
    // process leaves none); they show as open descriptors into the directory.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let open_in_dir = || {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|fd| std::fs::read_link(fd.unwrap().path()).ok())
            .filter(|target| target.starts_with(dir.path()))
            .count()
    };
    assert!(open_in_dir() > 0, "the budget should have forced spills");
    drop(writer);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert_eq!(open_in_dir(), 0);
}

#[test]
fn same_input_gives_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<TestEvent> = (0..500)
        .map(|i| {
            ev(
                &format!("s{}", i % 7),
                (i * 37) % 101,
                &format!("g{}", i % 3),
                &[("t", if i % 2 == 0 { "a" } else { "b" })],
                &format!("data {i}"),
            )
        })
        .collect();
    let small = WriterOptions::default().with_memory_budget(4096).with_block_size(100);
    let first = write_file(dir.path(), "1.esdb", &events, small.clone());
    let second = write_file(dir.path(), "2.esdb", &events, small);
    assert_eq!(first, second);
    // The memory budget changes how the writer works, not what it writes.
    let roomy = write_file(dir.path(), "3.esdb", &events, WriterOptions::default().with_block_size(100));
    assert_eq!(first, roomy);
}

#[test]
fn db_is_send_and_sync_and_shared_by_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Db>();
    assert_send_sync::<esdb_read::Space>();
    assert_send_sync::<esdb_read::Event>();
    fn assert_send<T: Send>() {}
    assert_send::<esdb_read::Scan>();

    let dir = tempfile::tempdir().unwrap();
    let events: Vec<TestEvent> = (0..3000)
        .map(|i| ev(&format!("s{}", i % 5), i / 3, "", &[("t", &(i % 4).to_string())], &format!("event {i}")))
        .collect();
    let db = open_bytes(write_file(dir.path(), "f.esdb", &events, WriterOptions::default().with_block_size(256)));
    let expected: Vec<Vec<(i64, Vec<u8>)>> =
        (0..5).map(|s| collect(db.space(format!("s{s}")).unwrap().unwrap().scan_index("t", "1").unwrap())).collect();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let (db, expected) = (&db, &expected);
            scope.spawn(move || {
                for round in 0..20 {
                    let s = (thread + round) % 5;
                    let got = collect(db.space(format!("s{s}")).unwrap().unwrap().scan_index("t", "1").unwrap());
                    assert_eq!(got, expected[s]);
                }
            });
        }
    });
}

#[test]
fn mmap_and_bytes_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<TestEvent> = (0..100).map(|i| ev("s", i, "", &[], &format!("{i}"))).collect();
    let bytes = write_file(dir.path(), "f.esdb", &events, WriterOptions::default());
    let mapped = Db::open(dir.path().join("f.esdb")).unwrap();
    let in_memory = open_bytes(bytes);
    assert_eq!(
        collect(mapped.space("s").unwrap().unwrap().events().unwrap()),
        collect(in_memory.space("s").unwrap().unwrap().events().unwrap())
    );
}

#[test]
fn eight_threads_running_random_queries_agree_with_one() {
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<TestEvent> = (0..4000)
        .map(|i| {
            ev(
                &format!("s{}", i % 7),
                (i * 7919) % 500,
                &format!("g{}", i % 5),
                &[("t", &(i % 6).to_string()), ("u", &(i % 3).to_string())],
                &format!("event {i}"),
            )
        })
        .collect();
    let db = open_bytes(write_file(
        dir.path(),
        "f.esdb",
        &events,
        WriterOptions::default().with_block_size(200).with_postings_per_block(16),
    ));

    // A deterministic mix of queries, answered once on this thread.
    let mut state = 42u64;
    let mut next = move |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    #[derive(Debug, Clone)]
    enum Query {
        Events,
        Grouping(String),
        Index(&'static str, String),
    }
    /// Space, query, time bounds, newest first.
    type Planned = (String, Query, (Bound<i64>, Bound<i64>), bool);
    let queries: Vec<Planned> = (0..150)
        .map(|_| {
            let space = format!("s{}", next(8));
            let query = match next(3) {
                0 => Query::Events,
                1 => Query::Grouping(format!("g{}", next(6))),
                _ => Query::Index(if next(2) == 0 { "t" } else { "u" }, next(7).to_string()),
            };
            let lo = next(600) as i64 - 50;
            let bounds = (Bound::Included(lo), Bound::Excluded(lo + next(300) as i64));
            (space, query, bounds, next(2) == 0)
        })
        .collect();
    let run = |(space, query, bounds, reverse): &Planned| -> Option<Vec<(i64, Vec<u8>)>> {
        let space = db.space(space).unwrap()?;
        let scan = match query {
            Query::Events => space.events(),
            Query::Grouping(g) => space.scan(g),
            Query::Index(n, v) => space.scan_index(n, v),
        }
        .unwrap()
        .range(*bounds);
        Some(if *reverse { collect(scan.rev()) } else { collect(scan) })
    };
    let expected: Vec<_> = queries.iter().map(run).collect();
    assert!(expected.iter().flatten().any(|r| !r.is_empty()));
    std::thread::scope(|scope| {
        for thread in 0..8usize {
            let (queries, expected, run) = (&queries, &expected, &run);
            scope.spawn(move || {
                for round in 0..queries.len() {
                    let idx = (round * 7 + thread * 13) % queries.len();
                    assert_eq!(run(&queries[idx]), expected[idx], "thread {thread}, query {:?}", queries[idx]);
                }
            });
        }
    });
}
