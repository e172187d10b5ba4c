//! Model-based test: random events written with tiny blocks and a tiny memory budget (many
//! blocks, several spills), then every query compared with an in-memory model.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use esdb_write::WriterOptions;
use proptest::prelude::*;

/// A space id and one of its groupings.
type GroupingPair = (Vec<u8>, Vec<u8>);

use crate::common::{collect, collect_mixed, collect_ref, model_query, open_via, write_file, TestEvent};

fn bytes_from(choices: &'static [&'static [u8]]) -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(choices).prop_map(|b| b.to_vec())
}

fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![8 => -3i64..6, 1 => Just(i64::MIN), 1 => Just(i64::MAX), 1 => any::<i64>()]
}

fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => Just(Vec::new()),
        1 => proptest::collection::vec(any::<u8>(), 200..700),
    ]
}

fn event() -> impl Strategy<Value = TestEvent> {
    let index = (bytes_from(&[b"t", b"u", b"\0n"]), bytes_from(&[b"x", b"y", b"", b"\0"]));
    (
        bytes_from(&[b"a", b"b", b"c", b"a\0", b"\xff"]),
        timestamp(),
        bytes_from(&[b"", b"g1", b"g2", b"\0"]),
        proptest::collection::vec(index, 0..4),
        data(),
    )
        .prop_map(|(space, ts, grouping, indexes, data)| TestEvent { space, ts, grouping, indexes, data })
}

fn options() -> impl Strategy<Value = WriterOptions> {
    // Every codec: LZ4, zstd, zstd with a (small) trained dictionary, raw.
    let compression = prop_oneof![
        4 => Just((esdb_write::Compression::Lz4, 0usize)),
        1 => Just((esdb_write::Compression::ZSTD, 0)),
        1 => Just((esdb_write::Compression::ZSTD, 256)),
        1 => Just((esdb_write::Compression::None, 0)),
    ];
    // Some files cover some indexes (names the events use, or not).
    let covering = proptest::collection::vec(bytes_from(&[b"t", b"u", b"\0n", b"unused"]), 0..3);
    // and some cover their timelines.
    (1usize..300, 1024usize..6000, 1usize..6, 64usize..400, compression, (covering, any::<bool>())).prop_map(
        |(
            block_size,
            memory_budget,
            postings_per_block,
            catalog_block_size,
            (compression, zstd_dictionary),
            (covering_indexes, covering_timeline),
        )| {
            WriterOptions::default()
                .with_covering_indexes(covering_indexes)
                .with_covering_timeline(covering_timeline)
                .with_block_size(block_size)
                .with_memory_budget(memory_budget)
                .with_postings_per_block(postings_per_block)
                .with_catalog_block_size(catalog_block_size)
                .with_compression(compression)
                .with_zstd_dictionary(zstd_dictionary)
        },
    )
}

type Bounds = (Bound<i64>, Bound<i64>);

/// Timestamp, grouping, index pairs and data of one event.
type ModelRecord = (i64, Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>);

/// A label, a factory for the scan under test, and the model's answer.
type Query = (String, Box<dyn Fn() -> esdb_read::Scan>, Vec<(i64, Vec<u8>)>);

fn bound() -> impl Strategy<Value = Bound<i64>> {
    prop_oneof![Just(Bound::Unbounded), timestamp().prop_map(Bound::Included), timestamp().prop_map(Bound::Excluded)]
}

fn in_bounds(ts: i64, (lo, hi): &Bounds) -> bool {
    let above = match lo {
        Bound::Included(lo) => ts >= *lo,
        Bound::Excluded(lo) => ts > *lo,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(hi) => ts <= *hi,
        Bound::Excluded(hi) => ts < *hi,
        Bound::Unbounded => true,
    };
    above && below
}

fn filter_bounds(events: Vec<(i64, Vec<u8>)>, bounds: &Bounds) -> Vec<(i64, Vec<u8>)> {
    events.into_iter().filter(|(ts, _)| in_bounds(*ts, bounds)).collect()
}

fn reversed(mut events: Vec<(i64, Vec<u8>)>) -> Vec<(i64, Vec<u8>)> {
    events.reverse();
    events
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::common::proptest_cases(48), ..ProptestConfig::default() })]

    #[test]
    fn every_query_matches_the_model(
        events in proptest::collection::vec(event(), 0..250),
        options in options(),
        ranges in proptest::collection::vec((bound(), bound()), 3),
        mixes in proptest::collection::vec(proptest::collection::vec(any::<bool>(), 0..40), 3),
        through_source in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = open_via(&write_file(dir.path(), "model.esdb", &events, options), through_source).unwrap();

        let spaces: BTreeSet<Vec<u8>> = events.iter().map(|e| e.space.clone()).collect();
        let listed: Vec<Vec<u8>> = db.spaces().map(|s| s.map(|s| s.id().to_vec())).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(listed, spaces.iter().cloned().collect::<Vec<_>>());
        prop_assert_eq!(db.len(), events.len() as u64);
        prop_assert_eq!(db.n_spaces(), spaces.len() as u64);
        prop_assert!(db.space(b"missing").unwrap().is_none());
        prop_assert!(db.verify().is_ok(), "verify: {:?}", db.verify().problems);

        // Db::groupings(): every (space, grouping) in that order, with its count, in one walk.
        let mut want_pairs: BTreeMap<GroupingPair, u64> = BTreeMap::new();
        for e in &events {
            *want_pairs.entry((e.space.clone(), e.grouping.clone())).or_default() += 1;
        }
        let got_pairs: Vec<(GroupingPair, u64)> = db
            .groupings()
            .map(|g| g.map(|(space, info)| ((space.to_vec(), info.name.to_vec()), info.counts.n_events)))
            .collect::<Result<_, _>>()
            .unwrap();
        prop_assert_eq!(got_pairs, want_pairs.into_iter().collect::<Vec<_>>());

        for space_id in &spaces {
            let space = db.space(space_id).unwrap().expect("space exists");
            let all = model_query(&events, space_id, |_| true);
            prop_assert_eq!(space.len(), all.len() as u64);
            prop_assert_eq!(space.counts().min_ts, all.iter().map(|e| e.0).min().unwrap());
            prop_assert_eq!(space.counts().max_ts, all.iter().map(|e| e.0).max().unwrap());

            // records(): every event with its grouping and sorted, deduplicated index pairs.
            let mut want_records: Vec<(i64, usize, ModelRecord)> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| &e.space == space_id)
                .map(|(seq, e)| {
                    let pairs: BTreeSet<(Vec<u8>, Vec<u8>)> = e.indexes.iter().cloned().collect();
                    (e.ts, seq, (e.ts, e.grouping.clone(), pairs.into_iter().collect(), e.data.clone()))
                })
                .collect();
            want_records.sort_by_key(|r| (r.0, r.1));
            let got_records: Vec<ModelRecord> = space
                .records()
                .unwrap()
                .map(|r| {
                    let r = r.unwrap();
                    (r.event.timestamp(), r.grouping.to_vec(), r.indexes.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(), r.event.data().to_vec())
                })
                .collect();
            prop_assert_eq!(got_records, want_records.into_iter().map(|(_, _, record)| record).collect::<Vec<_>>());

            let groupings: BTreeSet<Vec<u8>> = events.iter().filter(|e| &e.space == space_id).map(|e| e.grouping.clone()).collect();
            let listed: Vec<Vec<u8>> = space.groupings().map(|g| g.map(|g| g.name.to_vec())).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(&listed, &groupings.iter().cloned().collect::<Vec<_>>());

            // grouping_scans(): every grouping in name order, each in (timestamp, insertion) order.
            let mut storage_names = Vec::new();
            let mut storage = Vec::new();
            for grouping in space.grouping_scans() {
                let (info, scan) = grouping.unwrap();
                storage_names.push(info.name.to_vec());
                storage.extend(collect(scan));
            }
            prop_assert_eq!(&storage_names, &groupings.iter().cloned().collect::<Vec<_>>());
            let want_storage: Vec<(i64, Vec<u8>)> = groupings.iter().flat_map(|g| model_query(&events, space_id, |e| &e.grouping == g)).collect();
            prop_assert_eq!(storage, want_storage);

            // grouping_scans_from(): the groupings from a name on, whether the space has it or not.
            for from in groupings.iter().cloned().chain([Vec::new(), vec![0], vec![0xff, 0xff]]) {
                let names: Vec<Vec<u8>> = space.grouping_scans_from(&from).map(|g| g.map(|(info, _)| info.name.to_vec())).collect::<Result<_, _>>().unwrap();
                prop_assert_eq!(names, groupings.range(from.clone()..).cloned().collect::<Vec<_>>());
            }

            // grouping_scans_part(): the parts deal out the groupings round-robin in name order.
            for parts in 1..=3 {
                for part in 0..parts {
                    let names: Vec<Vec<u8>> = space
                        .grouping_scans_part(part, parts)
                        .map(|g| g.unwrap())
                        .map(|(info, scan)| {
                            let got = collect(scan);
                            let want = model_query(&events, space_id, |e| e.grouping[..] == info.name[..]);
                            assert_eq!(got, want, "grouping {:?}", info.name);
                            info.name.to_vec()
                        })
                        .collect();
                    let want: Vec<Vec<u8>> = groupings.iter().skip(part).step_by(parts).cloned().collect();
                    prop_assert_eq!(names, want, "part {} of {}", part, parts);
                }
            }

            let mut pairs: BTreeMap<Vec<u8>, BTreeSet<Vec<u8>>> = BTreeMap::new();
            for e in events.iter().filter(|e| &e.space == space_id) {
                for (name, value) in &e.indexes {
                    pairs.entry(name.clone()).or_default().insert(value.clone());
                }
            }
            let names: Vec<Vec<u8>> = space.index_names().map(|n| n.map(|n| n.to_vec())).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(names, pairs.keys().cloned().collect::<Vec<_>>());

            // Every query: (label, scan factory, model result).
            let mut queries: Vec<Query> = Vec::new();
            let s = space.clone();
            queries.push(("events".into(), Box::new(move || s.events().unwrap()), all.clone()));
            for grouping in groupings.iter().cloned().chain([b"nope".to_vec()]) {
                let want = model_query(&events, space_id, |e| e.grouping == grouping);
                let info = space.grouping(&grouping).unwrap();
                prop_assert_eq!(info.map(|i| i.counts.n_events), (!want.is_empty()).then_some(want.len() as u64));
                let s = space.clone();
                let g = grouping.clone();
                queries.push((format!("scan {grouping:?}"), Box::new(move || s.scan(&g).unwrap()), want));
            }
            for (name, values) in &pairs {
                let listed: Vec<(Vec<u8>, u64)> = space.index_values(name).map(|v| v.map(|v| (v.value.to_vec(), v.counts.n_events))).collect::<Result<_, _>>().unwrap();
                let expected: Vec<(Vec<u8>, u64)> = values.iter().map(|v| {
                    let n = events.iter().filter(|e| &e.space == space_id && e.indexes.iter().any(|(n2, v2)| n2 == name && v2 == v)).count();
                    (v.clone(), n as u64)
                }).collect();
                prop_assert_eq!(listed, expected);
                for value in values.iter().cloned().chain([b"nope".to_vec()]) {
                    let want = model_query(&events, space_id, |e| e.indexes.iter().any(|(n, v)| n == name && *v == value));
                    let s = space.clone();
                    let (n, v) = (name.clone(), value.clone());
                    queries.push((format!("index {name:?}={value:?}"), Box::new(move || s.scan_index(&n, &v).unwrap()), want));
                }
            }
            // Every index scan gives each event its ordinal in the space, covered or not.
            let by_ordinal: BTreeMap<u64, (i64, Vec<u8>)> = space.events().unwrap().map(|e| {
                let e = e.unwrap();
                (e.ordinal(), (e.timestamp(), e.data().to_vec()))
            }).collect();
            for (name, values) in &pairs {
                for value in values {
                    for event in space.scan_index(name, value).unwrap() {
                        let event = event.unwrap();
                        prop_assert_eq!(by_ordinal.get(&event.ordinal()), Some(&(event.timestamp(), event.data().to_vec())), "ordinal of {:?}={:?}", name, value);
                    }
                }
            }
            queries.push(("missing index".into(), Box::new({ let s = space.clone(); move || s.scan_index(b"zz", b"x").unwrap() }), Vec::new()));

            for (label, scan, want) in &queries {
                prop_assert_eq!(&collect(scan()), want, "{} forwards", label);
                prop_assert_eq!(&collect_ref(scan()), want, "{} forwards, borrowed", label);
                prop_assert_eq!(collect(scan().rev()), reversed(want.clone()), "{} backwards", label);
                for (bounds, mix) in ranges.iter().zip(&mixes) {
                    let want_in_range = filter_bounds(want.clone(), bounds);
                    prop_assert_eq!(&collect(scan().range(*bounds)), &want_in_range, "{} range {:?}", label, bounds);
                    prop_assert_eq!(collect(scan().range(*bounds).rev()), reversed(want_in_range.clone()), "{} range {:?} rev", label, bounds);
                    prop_assert_eq!(collect_mixed(scan().range(*bounds), mix), want_in_range.clone(), "{} range {:?} mixed {:?}", label, bounds, mix);
                    // count, last, nth and nth_back answer from the window, as iterating would.
                    prop_assert_eq!(scan().range(*bounds).count(), want_in_range.len(), "{} count", label);
                    let pair = |e: Option<esdb_read::Result<esdb_read::Event>>| e.map(|e| { let e = e.unwrap(); (e.timestamp(), e.data().to_vec()) });
                    prop_assert_eq!(pair(scan().range(*bounds).last()), want_in_range.last().cloned(), "{} last", label);
                    let n = mix.len() / 2;
                    let mut skipping = scan().range(*bounds);
                    prop_assert_eq!(pair(skipping.nth(n)), want_in_range.get(n).cloned(), "{} nth({})", label, n);
                    prop_assert_eq!(pair(skipping.nth_back(1)), want_in_range.len().checked_sub(2).filter(|at| *at > n).and_then(|at| want_in_range.get(at)).cloned(), "{} nth_back(1)", label);
                }
            }
        }
    }
}
