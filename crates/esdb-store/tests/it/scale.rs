//! The store in operation (issue 13): memory bounded for any volume appended, appends that wait
//! for sealing instead of growing, recorded options, and time measured against the clock.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use esdb_store::io::{IoHook, IoOp};
use esdb_store::{Durability, Error, NewEvent, PartitionRetention, Retention, Store, StoreOptions, TimeUnit};

use crate::common::{buffered, collect, small_options};

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A 4 MiB budget (1 MiB of it for sealing) and seals by size only.
fn budgeted() -> StoreOptions {
    StoreOptions::default()
        .with_durability(buffered())
        .with_memory_budget(4 << 20)
        .with_seal_memory_budget(1 << 20)
        .with_seal_after_bytes(Some(1 << 20))
        .with_seal_after_age(None)
        .with_partition_window(Some(100))
}

fn batch(from: u64, n: u64) -> Vec<NewEvent> {
    (from..from + n).map(|i| NewEvent::new(format!("s{}", i % 50), (i % 1000) as i64, "x".repeat(200))).collect()
}

#[test]
fn the_unsealed_tail_stays_within_the_memory_budget_whatever_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let options = budgeted();
    let store = Store::open(dir.path(), options.clone()).unwrap();
    let limit = options.memory_budget - 2 * options.seal_memory_budget as u64;
    let (n, per_batch) = (100_000u64, 1_000u64);
    let mut peak = 0;
    for from in (0..n).step_by(per_batch as usize) {
        store.append_batch(&batch(from, per_batch)).unwrap();
        peak = peak.max(store.info().unwrap().tail_memory);
    }
    // About 24 MiB of log went through a 3 MiB tail: at most one batch past the limit.
    let one_batch = per_batch * 300;
    assert!(peak <= limit + one_batch, "tail peaked at {peak} bytes, limit {limit}");
    assert!(store.info().unwrap().manifest.partitions.len() > 4, "sealed on its own");
    store.sync().unwrap();
    let total: u64 = (0..50).map(|s| store.space(format!("s{s}")).unwrap().map_or(0, |space| space.len())).sum();
    assert_eq!(total, n, "nothing lost on the way");
    assert_eq!(store.read_from(0).unwrap().count() as u64, n);
}

/// Fails creating any partition while `fail` is set.
#[derive(Debug, Default)]
struct FailSeals {
    fail: AtomicBool,
}

impl IoHook for FailSeals {
    fn before(&self, op: IoOp, path: &Path) -> io::Result<()> {
        let partition = path.to_string_lossy().contains("partitions");
        if op == IoOp::Create && partition && self.fail.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected: disk full"));
        }
        Ok(())
    }
}

#[test]
fn appends_wait_for_a_seal_that_is_behind_and_fail_after_max_append_wait() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Arc::new(FailSeals::default());
    hook.fail.store(true, Ordering::SeqCst);
    let options = budgeted().with_max_append_wait(Duration::from_millis(300));
    let store = Store::open_with_io(dir.path(), options, hook.clone()).unwrap();
    let mut appended = 0;
    let err = loop {
        match store.append_batch(&batch(appended, 1_000)) {
            Ok(_) => appended += 1_000,
            Err(err) => break err,
        }
        assert!(appended < 100_000, "appends never waited");
    };
    match &err {
        Error::Stalled { tail_memory, limit, reason, .. } => {
            assert!(tail_memory >= limit);
            assert!(reason.as_deref().is_some_and(|r| r.contains("disk full")), "{err}");
        }
        other => panic!("expected Stalled, got {other}"),
    }
    // Nothing of the refused batch went in; once seals succeed again appends go on.
    assert_eq!(store.next_offset(), appended);
    hook.fail.store(false, Ordering::SeqCst);
    store.append_batch(&batch(appended, 1_000)).unwrap();
    assert_eq!(store.read_from(0).unwrap().count() as u64, appended + 1_000);
}

#[test]
fn recorded_options_are_kept_and_a_different_value_names_both() {
    let dir = tempfile::tempdir().unwrap();
    let options =
        StoreOptions::default().with_partition_window(Some(3_600)).with_time_unit(Some(TimeUnit::Milliseconds));
    drop(Store::open(dir.path(), options).unwrap());
    // Not given: the recorded values.
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(store.info().unwrap().manifest.partition_window, 3_600);
    assert_eq!(store.time_unit(), Some(TimeUnit::Milliseconds));
    drop(store);
    let window = StoreOptions::default().with_partition_window(Some(86_400));
    let err = Store::open(dir.path(), window).unwrap_err();
    assert!(matches!(err, Error::OptionMismatch { option: "partition_window", .. }), "{err}");
    assert_eq!(err.to_string(), "the store records partition_window 3600, but 86400 was given");
    let unit = StoreOptions::default().with_time_unit(Some(TimeUnit::Seconds));
    let err = Store::open(dir.path(), unit).unwrap_err();
    assert_eq!(err.to_string(), "the store records time_unit ms, but s was given");
    // A store that records no unit takes one once.
    let dir = tempfile::tempdir().unwrap();
    drop(Store::open(dir.path(), StoreOptions::default()).unwrap());
    assert_eq!(Store::open_read_only(dir.path()).unwrap().time_unit(), None);
    drop(Store::open(dir.path(), unit_options(TimeUnit::Seconds)).unwrap());
    assert_eq!(Store::open_read_only(dir.path()).unwrap().time_unit(), Some(TimeUnit::Seconds));
}

fn unit_options(unit: TimeUnit) -> StoreOptions {
    StoreOptions::default().with_durability(Durability::Sync).with_time_unit(Some(unit))
}

#[test]
fn a_producer_clock_far_ahead_is_refused_and_cannot_make_history_look_old() {
    // See: issue 13, "one far-future timestamp wipes history".
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), unit_options(TimeUnit::Seconds)).unwrap();
    let now = now_secs();
    let year_2100 = 4_102_444_800;
    let err = store.append_batch(&[NewEvent::new("a", now, "fine"), NewEvent::new("a", year_2100, "bad")]).unwrap_err();
    match err {
        Error::FutureTimestamp { event, timestamp, max, unit, .. } => {
            assert_eq!((event, timestamp, max, unit), (1, year_2100, 86_400, TimeUnit::Seconds));
        }
        other => panic!("expected FutureTimestamp, got {other}"),
    }
    assert_eq!(store.next_offset(), 0, "no event of the batch went in");
    drop(store);

    // Even with the limit off, retention measures against the clock, not the newest event.
    let options = unit_options(TimeUnit::Seconds).with_max_future_skew(None);
    let store = Store::open(dir.path(), options).unwrap();
    let recent: Vec<NewEvent> = (0..3_000).map(|i| NewEvent::new("a", now - 3_600 - i, "recent")).collect();
    store.append_batch(&recent).unwrap();
    store.append(NewEvent::new("a", year_2100, "from a bad clock")).unwrap();
    store.seal().unwrap();
    // Every partition records the store's unit, so a copy read on its own knows it too.
    let partitions = store.info().unwrap().manifest.partitions;
    assert!(!partitions.is_empty());
    for partition in partitions {
        let db = esdb_read::Db::open(dir.path().join(&partition.file)).unwrap();
        assert_eq!(db.time_unit(), Some(TimeUnit::Seconds), "{}", partition.file);
    }
    let one_year = Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(31_536_000)));
    let report = store.retain_with(&one_year).unwrap();
    assert_eq!(report.partition_events, 0);
    assert_eq!(store.space("a").unwrap().unwrap().len(), 3_001);
    let two_days_later = now + 2 * 86_400;
    let one_day = Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(86_400)));
    assert_eq!(store.retain_at(&one_day, two_days_later).unwrap().partition_events, 3_000);
}

#[test]
fn retention_by_age_needs_a_time_unit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store.append(NewEvent::new("a", 5, "x")).unwrap();
    store.seal().unwrap();
    let age = Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(10)));
    let err = store.retain_with(&age).unwrap_err();
    assert!(matches!(err, Error::NoTimeUnit { .. }), "{err}");
    assert_eq!(store.retain_at(&age, 86_400 * 3).unwrap().partition_events, 1);
}

#[test]
fn metrics_count_the_work_and_reach_the_facade() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let dir = tempfile::tempdir().unwrap();
    // The store takes its handles on the facade when it opens.
    let store = metrics::with_local_recorder(&recorder, || Store::open(dir.path(), budgeted()).unwrap());
    let mut follower = store.follow(0).unwrap();
    for from in (0..20_000).step_by(1_000) {
        store.append_batch(&batch(from, 1_000)).unwrap();
    }
    store.sync().unwrap();
    store.seal().unwrap();
    store.compact().unwrap();
    for _ in 0..500 {
        follower.next().unwrap().unwrap();
    }
    let metrics = store.metrics();
    assert_eq!(metrics.appended_events, 20_000);
    assert!(metrics.appended_bytes > 20_000 * 200);
    assert!(metrics.fsyncs >= 1 && metrics.fsync_max <= metrics.fsync_time);
    assert_eq!((metrics.tail_events, metrics.durable_lag), (0, 0));
    assert!(metrics.seals >= 1 && metrics.partitions >= 1);
    assert_eq!((metrics.followers, metrics.follower_lag), (1, 19_500));
    drop(follower);
    assert_eq!(store.metrics().followers, 0);
    let text = handle.render();
    for line in ["esdb_store_appended_events_total{store=", "esdb_store_seals_total{store="] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(text.contains("esdb_store_appended_events_total") && text.contains("} 20000"), "{text}");
    assert!(text.contains("esdb_store_fsync_seconds"), "{text}");
}

/// Wakes by unparking the thread that polls, and counts wakes.
#[cfg(feature = "stream")]
struct Unpark(std::thread::Thread, std::sync::atomic::AtomicUsize);

#[cfg(feature = "stream")]
impl std::task::Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.unpark();
    }
}

/// Takes `n` events from `stream`, parking between polls: it gets on only when woken.
#[cfg(feature = "stream")]
fn take_woken(stream: esdb_store::LogStream, n: usize) -> Vec<u64> {
    use futures_core::Stream;
    let unpark = Arc::new(Unpark(std::thread::current(), std::sync::atomic::AtomicUsize::new(0)));
    let waker = std::task::Waker::from(unpark.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut stream = std::pin::pin!(stream);
    let mut offsets = Vec::new();
    while offsets.len() < n {
        // A wake from the moment the poll starts means "poll again".
        let before = unpark.1.load(Ordering::SeqCst);
        match stream.as_mut().poll_next(&mut cx) {
            std::task::Poll::Ready(Some(event)) => offsets.push(event.unwrap().offset),
            std::task::Poll::Ready(None) => panic!("the stream ended after {} events", offsets.len()),
            std::task::Poll::Pending => {
                // Parking may return early (an earlier unpark): wait for a wake.
                let deadline = std::time::Instant::now() + Duration::from_secs(10);
                while unpark.1.load(Ordering::SeqCst) == before {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "pending after {} events, and never woken",
                        offsets.len()
                    );
                    std::thread::park_timeout(Duration::from_millis(100));
                }
            }
        }
    }
    offsets
}

#[cfg(feature = "stream")]
#[test]
fn an_async_follower_is_woken_by_appends_in_this_process_and_in_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), unit_options(TimeUnit::Seconds)).unwrap());
    let producer = |store: Arc<Store>| {
        std::thread::spawn(move || {
            for i in 0..200 {
                store.append(NewEvent::new("a", now_secs(), format!("{i}"))).unwrap();
                if i % 20 == 0 {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        })
    };
    // In the writer's process: woken when an append publishes.
    let writer = producer(store.clone());
    assert_eq!(take_woken(store.follow(0).unwrap().into_stream(), 200), (0..200).collect::<Vec<_>>());
    writer.join().unwrap();
    // In another process (a read-only store on the files): woken by the directory watch.
    let reader = Store::open_read_only(dir.path()).unwrap();
    let stream = reader.follow(200).unwrap().into_stream();
    let writer = producer(store.clone());
    assert_eq!(take_woken(stream, 200), (200..400).collect::<Vec<_>>());
    writer.join().unwrap();
}

/// Event `i` of three spaces of five groupings each, timestamps out of order and repeating.
fn spread_event(i: u64) -> NewEvent {
    NewEvent::new(format!("s{}", i % 3), (i % 97) as i64 * 10 + (i / 97) as i64, format!("event {i}"))
        .grouping(format!("g{}", i % 5))
}

/// `covering_indexes`: sealed partitions cover the index, and index scans across partitions and
/// the tail answer exactly as a store without it.
#[test]
fn covering_indexes_reach_the_partitions_and_change_no_answer() {
    let events: Vec<NewEvent> =
        (0..600u64).map(|i| spread_event(i).index("type", ["a", "b", "c", "d"][(i % 4) as usize])).collect();
    let mut answers = Vec::new();
    for covering in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let options = small_options(Durability::Sync).with_covering_indexes(if covering {
            vec![b"type".to_vec()]
        } else {
            Vec::new()
        });
        let store = Store::open(dir.path(), options).unwrap();
        store.append_batch(&events[..450]).unwrap();
        store.seal().unwrap();
        // The rest stays in the tail, so that a query reads both.
        store.append_batch(&events[450..]).unwrap();
        let partitions = esdb_files(dir.path());
        assert!(!partitions.is_empty());
        for path in &partitions {
            let covered = esdb_read::Db::open(path).unwrap().covering_index_names();
            assert_eq!(
                covered.iter().map(|name| name.to_vec()).collect::<Vec<_>>(),
                options_names(covering),
                "{path:?}"
            );
        }
        let mut answer = Vec::new();
        for space in ["s0", "s1", "s2"] {
            let space = store.space(space).unwrap().unwrap();
            for value in ["a", "b", "c", "d"] {
                answer.push(collect(space.scan_index("type", value).unwrap()));
                answer.push(collect(space.scan_index("type", value).unwrap().rev()));
                answer.push(collect(space.scan_index("type", value).unwrap().range(100..500)));
            }
        }
        assert!(answer.iter().all(|events| !events.is_empty()));
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
}

/// `covering_timeline`: sealed partitions cover the timelines of their spaces of several
/// groupings, and merged-timeline reads across partitions and the tail answer exactly as a store
/// without it.
#[test]
fn covering_timeline_reaches_the_partitions_and_changes_no_answer() {
    let events: Vec<NewEvent> = (0..600u64).map(spread_event).collect();
    let mut answers = Vec::new();
    for covering in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), small_options(Durability::Sync).with_covering_timeline(covering)).unwrap();
        store.append_batch(&events[..450]).unwrap();
        store.seal().unwrap();
        store.append_batch(&events[450..]).unwrap();
        let partitions = esdb_files(dir.path());
        assert!(!partitions.is_empty());
        for path in &partitions {
            assert_eq!(esdb_read::Db::open(path).unwrap().covers_timeline(), covering, "{path:?}");
        }
        let mut answer = Vec::new();
        for space in ["s0", "s1", "s2"] {
            let space = store.space(space).unwrap().unwrap();
            answer.push(collect(space.events().unwrap()));
            answer.push(collect(space.events().unwrap().rev()));
            answer.push(collect(space.events().unwrap().range(100..500)));
            answer.push(collect(space.events().unwrap().range(100..500).rev()));
        }
        assert!(answer.iter().all(|events| !events.is_empty()));
        answers.push(answer);
    }
    assert_eq!(answers[0], answers[1]);
}

/// The covering layout is recorded: a reopen that names none keeps sealing covered partitions,
/// one that names another layout records it for the partitions after it, and the manifest
/// says which.
#[test]
fn the_covering_layout_is_recorded_until_an_open_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let events: Vec<NewEvent> =
        (0..300u64).map(|i| spread_event(i).index("type", ["a", "b"][(i % 2) as usize])).collect();
    let covered_open = small_options(Durability::Sync).with_covering_indexes(["type"]).with_covering_timeline(true);
    let seal = |options: esdb_store::StoreOptions, batch: &[NewEvent]| {
        let store = Store::open(dir.path(), options).unwrap();
        store.append_batch(batch).unwrap();
        store.seal().unwrap();
        let mut files = esdb_files(dir.path());
        files.sort();
        files
    };
    let manifest = || esdb_store::Manifest::load(dir.path()).unwrap().unwrap();
    let layout_of = |path: &Path| {
        let db = esdb_read::Db::open(path).unwrap();
        (db.covering_index_names().iter().map(|name| name.to_vec()).collect::<Vec<_>>(), db.covers_timeline())
    };

    let first = seal(covered_open, &events[..100]);
    assert_eq!((manifest().covering_indexes, manifest().covering_timeline), (vec!["type".to_owned()], true));
    // Reopened with the defaults: the recorded layout goes on.
    let second = seal(small_options(Durability::Sync), &events[100..200]);
    let new: Vec<_> = second.iter().filter(|path| !first.contains(path)).collect();
    assert!(!new.is_empty());
    for path in new {
        assert_eq!(layout_of(path), (vec![b"type".to_vec()], true), "{path:?}");
    }
    // Reopened asking for no covering: recorded, and the next partitions are plain.
    let uncovered =
        small_options(Durability::Sync).with_covering_indexes(Vec::<Vec<u8>>::new()).with_covering_timeline(false);
    let third = seal(uncovered, &events[200..]);
    assert_eq!((manifest().covering_indexes, manifest().covering_timeline), (Vec::<String>::new(), false));
    let new: Vec<_> = third.iter().filter(|path| !second.contains(path)).collect();
    assert!(!new.is_empty());
    for path in new {
        assert_eq!(layout_of(path), (Vec::new(), false), "{path:?}");
    }
    // Names are kept sorted and once; a name that is not UTF-8 is refused before anything changes.
    let store =
        Store::open(dir.path(), small_options(Durability::Sync).with_covering_indexes(["z", "a", "z"])).unwrap();
    drop(store);
    assert_eq!(manifest().covering_indexes, vec!["a".to_owned(), "z".to_owned()]);
    let bad = small_options(Durability::Sync).with_covering_indexes([vec![0xff_u8]]);
    assert!(matches!(
        Store::open(dir.path(), bad),
        Err(esdb_store::Error::InvalidOption { option: "covering_indexes", .. })
    ));
    assert_eq!(manifest().covering_indexes, vec!["a".to_owned(), "z".to_owned()]);
}

/// Every `.esdb` file under `dir`.
fn esdb_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(esdb_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "esdb") {
            found.push(path);
        }
    }
    found
}

fn options_names(covering: bool) -> Vec<Vec<u8>> {
    if covering {
        vec![b"type".to_vec()]
    } else {
        Vec::new()
    }
}
