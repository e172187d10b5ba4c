//! Model-based test: random interleavings of appends (with repeated ids), seals, compactions,
//! retention, reopenings, failing fsyncs, read-only opens and repairs, every query and every
//! replay checked against an in-memory model.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use esdb_store::io::{IoHook, IoOp};
use esdb_store::{Durability, LogRetention, NewEvent, PartitionRetention, Retention, Store, StoreOptions};
use proptest::prelude::*;

use crate::common::{buffered, collect, small_options};

const WINDOW: i64 = 10;

/// What a query should yield: (timestamp, data) in order.
type Expected = Vec<(i64, Vec<u8>)>;
const DEDUPE_WINDOW: u64 = 5;

#[derive(Debug, Clone)]
struct Spec {
    space: u8,
    ts: i64,
    grouping: u8,
    indexes: Vec<(u8, u8)>,
    data_len: usize,
    id: Option<u8>,
}

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<Spec>),
    Seal,
    Compact,
    RetainLog {
        max_bytes: u64,
    },
    /// Retention by partition age as of time `now`.
    RetainPartitions {
        max_age: i64,
        now: i64,
    },
    Reopen,
    Check {
        seed: u64,
    },
    /// The batch is appended while every fsync of the log fails; then the store is reopened.
    FailingFsync(Vec<Spec>),
    /// A read-only store opened beside the writer answers as the model does.
    ReadOnly {
        seed: u64,
    },
    /// The store is closed and repaired (after losing its MANIFEST when `lose_manifest`).
    Repair {
        lose_manifest: bool,
    },
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0u8..4,
        -25i64..60,
        0u8..3,
        proptest::collection::vec((0u8..2, 0u8..3), 0..3),
        0usize..300,
        proptest::option::weighted(0.4, 0u8..12),
    )
        .prop_map(|(space, ts, grouping, indexes, data_len, id)| Spec {
            space,
            ts,
            grouping,
            indexes,
            data_len,
            id,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => proptest::collection::vec(spec(), 1..8).prop_map(Op::Append),
        2 => Just(Op::Seal),
        1 => Just(Op::Compact),
        1 => (0u64..20_000).prop_map(|max_bytes| Op::RetainLog { max_bytes }),
        1 => (0i64..40, -25i64..100).prop_map(|(max_age, now)| Op::RetainPartitions { max_age, now }),
        1 => Just(Op::Reopen),
        2 => any::<u64>().prop_map(|seed| Op::Check { seed }),
        1 => proptest::collection::vec(spec(), 1..4).prop_map(Op::FailingFsync),
        1 => any::<u64>().prop_map(|seed| Op::ReadOnly { seed }),
        1 => any::<bool>().prop_map(|lose_manifest| Op::Repair { lose_manifest }),
    ]
}

/// `(window, offset)` of every event in a partition file, read with `esdb-read` (an event's data
/// starts with its offset).
fn contents(dir: &std::path::Path, partition: &esdb_store::PartitionMeta) -> Vec<(i64, u64)> {
    let db = esdb_read::Db::open(dir.join(&partition.file)).unwrap();
    let mut out = Vec::new();
    for space in db.spaces() {
        for event in space.unwrap().events().unwrap() {
            let event = event.unwrap();
            let data = event.data();
            let digits = &data[..data.iter().position(|&b| b == b':').unwrap()];
            out.push((event.timestamp().div_euclid(WINDOW), std::str::from_utf8(digits).unwrap().parse().unwrap()));
        }
    }
    out
}

/// One accepted event as the model keeps it.
#[derive(Debug, Clone)]
struct Stored {
    offset: u64,
    spec: Spec,
    data: Vec<u8>,
    sealed: bool,
    dropped: bool,
}

#[derive(Debug, Default)]
struct Model {
    events: Vec<Stored>,
    ids: HashMap<u8, u64>,
}

fn to_event(spec: &Spec, data: &[u8]) -> NewEvent {
    let mut event = NewEvent::new(format!("space-{}", spec.space), spec.ts, data.to_vec())
        .grouping(if spec.grouping == 0 { String::new() } else { format!("g{}", spec.grouping) });
    for (name, value) in &spec.indexes {
        event = event.index(format!("n{name}"), format!("v{value}"));
    }
    if let Some(id) = spec.id {
        event = event.id(format!("id-{id}"));
    }
    event
}

impl Model {
    fn append(&mut self, specs: &[Spec]) -> Vec<u64> {
        let mut offsets = Vec::new();
        for spec in specs {
            let next = self.events.len() as u64;
            if let Some(original) = spec.id.and_then(|id| self.ids.get(&id)).filter(|o| *o + DEDUPE_WINDOW >= next) {
                offsets.push(*original);
                continue;
            }
            let data: Vec<u8> =
                format!("{next}:").into_bytes().into_iter().chain((0..spec.data_len).map(|i| i as u8)).collect();
            if let Some(id) = spec.id {
                self.ids.insert(id, next);
            }
            self.events.push(Stored { offset: next, spec: spec.clone(), data, sealed: false, dropped: false });
            offsets.push(next);
        }
        offsets
    }

    /// The live events of `space` accepted by `keep`, in (timestamp, offset) order.
    fn query(&self, space: u8, keep: impl Fn(&Spec) -> bool) -> Vec<(i64, Vec<u8>)> {
        let mut found: Vec<&Stored> =
            self.events.iter().filter(|e| !e.dropped && e.spec.space == space && keep(&e.spec)).collect();
        found.sort_by_key(|e| (e.spec.ts, e.offset));
        found.into_iter().map(|e| (e.spec.ts, e.data.clone())).collect()
    }
}

fn check(store: &Store, model: &Model, seed: u64) {
    let mut rng = seed;
    let mut next_random = move |n: i64| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((rng >> 33) as i64).rem_euclid(n.max(1))
    };
    for space in 0u8..4 {
        let id = format!("space-{space}");
        let all = model.query(space, |_| true);
        let Some(found) = store.space(&id).expect("space") else {
            assert!(all.is_empty(), "space {space} missing");
            continue;
        };
        assert_eq!(found.len(), all.len() as u64);
        let mut queries: Vec<(esdb_store::Scan, Expected)> = vec![(found.events().unwrap(), all)];
        for grouping in 0u8..3 {
            let name = if grouping == 0 { String::new() } else { format!("g{grouping}") };
            queries.push((found.scan(&name).unwrap(), model.query(space, |s| s.grouping == grouping)));
        }
        for (n, v) in [(0u8, 0u8), (0, 1), (1, 2)] {
            let expected = model.query(space, |s| s.indexes.contains(&(n, v)));
            queries.push((found.scan_index(format!("n{n}"), format!("v{v}")).unwrap(), expected));
        }
        for (scan, expected) in queries {
            let (lo, hi) = (next_random(90) - 30, next_random(90) - 30);
            let in_range: Vec<_> = expected.iter().filter(|(ts, _)| (lo..hi).contains(ts)).cloned().collect();
            match next_random(3) {
                0 => assert_eq!(collect(scan), expected, "forwards, space {space}"),
                1 => {
                    let mut reversed = expected.clone();
                    reversed.reverse();
                    assert_eq!(collect(scan.rev()), reversed, "reverse, space {space}");
                }
                _ => {
                    // Both ends at once, meeting in the middle.
                    let mut scan = scan.range(lo..hi);
                    let (mut front, mut back) = (Vec::new(), Vec::new());
                    loop {
                        let forwards = next_random(2) == 0;
                        let next = if forwards { scan.next() } else { scan.next_back() };
                        let Some(event) = next else { break };
                        let event = event.unwrap();
                        let item = (event.timestamp(), event.data().to_vec());
                        if forwards {
                            front.push(item)
                        } else {
                            back.push(item)
                        }
                    }
                    back.reverse();
                    let got: Vec<(i64, Vec<u8>)> = front.into_iter().chain(back).collect();
                    let want = in_range;
                    assert_eq!(got, want, "range {lo}..{hi} from both ends, space {space}");
                }
            }
        }
    }
    // Replay from a random retained offset.
    let start = store.log_start();
    let next = store.next_offset();
    assert_eq!(next, model.events.len() as u64);
    let from = start + next_random((next - start + 1) as i64) as u64;
    let replayed: Vec<(u64, Vec<u8>)> = store
        .read_from(from)
        .unwrap()
        .map(|e| e.map(|e| (e.offset, e.data.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(u64, Vec<u8>)> =
        model.events[from as usize..].iter().map(|e| (e.offset, e.data.clone())).collect();
    assert_eq!(replayed, expected, "replay from {from}");
}

/// Fails every fsync of a log segment while armed.
#[derive(Debug, Default)]
struct FsyncSwitch(AtomicBool);

impl IoHook for FsyncSwitch {
    fn before(&self, op: IoOp, path: &Path) -> std::io::Result<()> {
        if self.0.load(Ordering::SeqCst) && op == IoOp::Sync && path.extension().is_some_and(|e| e == "log") {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        Ok(())
    }
}

/// The events the store gets for `specs`, with the data the model will give them.
fn events_for(model: &Model, specs: &[Spec]) -> Vec<NewEvent> {
    // Data must be known before the model assigns offsets: rebuild per spec.
    let mut preview = Model { events: model.events.clone(), ids: model.ids.clone() };
    let offsets = preview.append(specs);
    specs
        .iter()
        .zip(&offsets)
        .map(|(spec, offset)| {
            let data = preview.events[*offset as usize].data.clone();
            to_event(spec, &data)
        })
        .collect()
}

fn reopen(dir: &Path, options: &StoreOptions, switch: &Arc<FsyncSwitch>, model: &mut Model) -> Store {
    switch.0.store(false, Ordering::SeqCst);
    let store = Store::open_with_io(dir, options.clone(), switch.clone()).unwrap();
    let log_start = store.log_start();
    model.ids.retain(|_, offset| *offset >= log_start);
    store
}

fn run(ops: Vec<Op>, durability: Durability) {
    let dir = tempfile::tempdir().unwrap();
    // A target of a few small files: some partitions count as large and are never merged again.
    let options = small_options(durability).with_compact_target_bytes(6_000);
    let switch = Arc::new(FsyncSwitch::default());
    let mut store = Store::open_with_io(dir.path(), options.clone(), switch.clone()).unwrap();
    let mut model = Model::default();
    let mut partitions_dropped = false;
    for op in ops {
        match op {
            Op::Append(specs) => {
                let events = events_for(&model, &specs);
                let expected = model.append(&specs);
                assert_eq!(store.append_batch(&events).unwrap(), expected);
            }
            Op::FailingFsync(specs) => {
                let events = events_for(&model, &specs);
                let before = (model.events.clone(), model.ids.clone());
                model.append(&specs);
                switch.0.store(true, Ordering::SeqCst);
                let appended = store.append_batch(&events);
                let synced = store.sync();
                if model.events.len() > before.0.len() {
                    assert!(appended.is_err() || synced.is_err(), "an fsync failed and nobody was told");
                    let refused = NewEvent::new("space-0", 0, "refused");
                    assert!(store.append(refused).is_err(), "a failed log takes no more appends");
                }
                drop(store);
                store = reopen(dir.path(), &options, &switch, &mut model);
                // The records were written, not fsynced: recovery finds all of the batch or none.
                if store.next_offset() == before.0.len() as u64 {
                    (model.events, model.ids) = before;
                }
                assert_eq!(store.next_offset(), model.events.len() as u64);
            }
            Op::ReadOnly { seed } => {
                store.sync().unwrap();
                let reader = Store::open_read_only(dir.path()).unwrap();
                assert!(reader.recovery().problems.is_empty(), "{:?}", reader.recovery());
                check(&reader, &model, seed);
            }
            Op::Repair { lose_manifest } => {
                drop(store);
                // Without the MANIFEST, sealed_through is rebuilt from the partitions' names,
                // which retention of the newest partitions can make too low: not modelled.
                if lose_manifest && !partitions_dropped {
                    std::fs::remove_file(dir.path().join("MANIFEST")).unwrap();
                }
                esdb_store::repair_with(dir.path(), Some(WINDOW)).unwrap();
                store = reopen(dir.path(), &options, &switch, &mut model);
                assert!(store.verify().is_ok(), "{:?}", store.verify());
            }
            Op::Seal => {
                let report = store.seal().unwrap();
                let newly: u64 = model.events.iter().filter(|e| !e.sealed).count() as u64;
                assert_eq!(report.events, newly);
                model.events.iter_mut().for_each(|e| e.sealed = true);
            }
            Op::Compact => {
                store.compact().unwrap();
                // What queries rely on: within a window, a partition with a higher sequence
                // number holds only later offsets than one with a lower.
                let partitions = store.info().unwrap().manifest.partitions;
                let contents: Vec<Vec<(i64, u64)>> = partitions.iter().map(|p| contents(dir.path(), p)).collect();
                for (a, a_events) in partitions.iter().zip(&contents) {
                    for (b, b_events) in partitions.iter().zip(&contents).filter(|(b, _)| b.seq > a.seq) {
                        for &(window, offset) in a_events {
                            let later = b_events.iter().filter(|(w, _)| *w == window).map(|(_, o)| *o).min();
                            assert!(
                                later.is_none_or(|later| offset < later),
                                "{a:?} and {b:?} interleave in window {window}"
                            );
                        }
                    }
                }
            }
            Op::RetainLog { max_bytes } => {
                let retention = Retention::default().with_log(LogRetention::default().with_max_bytes(Some(max_bytes)));
                let report = store.retain_with(&retention).unwrap();
                let info = store.info().unwrap();
                assert!(report.log_start <= info.manifest.sealed_through);
                let oldest = &info.manifest.segments[0];
                let oldest_kept_for_a_reason = oldest.end.is_none_or(|end| end > info.manifest.sealed_through);
                assert!(info.log_bytes <= max_bytes || oldest_kept_for_a_reason, "{info:?}");
            }
            Op::RetainPartitions { max_age, now } => {
                let retention =
                    Retention::default().with_partitions(PartitionRetention::default().with_max_age(Some(max_age)));
                // A partition goes once its last window ended `max_age` before `now`, and with
                // it the events it holds (read from its file: each event's data starts with its
                // offset).
                let before = store.info().unwrap().manifest.partitions;
                let homes: HashMap<u64, usize> = before
                    .iter()
                    .enumerate()
                    .flat_map(|(idx, p)| contents(dir.path(), p).into_iter().map(move |(_, offset)| (offset, idx)))
                    .collect();
                let report = store.retain_at(&retention, now).unwrap();
                partitions_dropped |= report.partitions > 0;
                let mut dropped_events = 0;
                for event in model.events.iter_mut().filter(|e| e.sealed && !e.dropped) {
                    let home = &before[homes[&event.offset]];
                    if (home.last_window() + 1) * WINDOW <= now - max_age {
                        event.dropped = true;
                        dropped_events += 1;
                    }
                }
                assert_eq!(report.partition_events, dropped_events);
            }
            Op::Reopen => {
                drop(store);
                store = reopen(dir.path(), &options, &switch, &mut model);
                assert_eq!(store.recovery().torn_bytes, 0);
                assert!(store.recovery().quarantined.is_empty(), "{:?}", store.recovery());
            }
            Op::Check { seed } => check(&store, &model, seed),
        }
    }
    check(&store, &model, 7);
    let report = store.verify();
    assert!(report.is_ok(), "{report:?}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn buffered_store_matches_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops, buffered());
    }

    #[test]
    fn sync_store_matches_the_model(ops in proptest::collection::vec(op(), 1..25)) {
        run(ops, Durability::Sync);
    }
}
