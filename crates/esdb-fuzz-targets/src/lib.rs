//! What each fuzz target does with its input. `fuzz/fuzz_targets/*.rs` call these under
//! cargo-fuzz, and `tests/replay.rs` runs every file of `fuzz/corpus/` through them, so a corpus
//! entry that once crashed stays a regression test without a fuzzer.
//!
//! The invariant everywhere: no panic, no hang, no allocation beyond the largest legal block,
//! and no wrong data (the round trip compares with a model).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use arbitrary::{Arbitrary, Unstructured};
use esdb_format::cursor::Cursor;
use esdb_format::v1::{block_index, catalog, data_block, footer, frame, grouping_table, header, key, posting_block};
use esdb_read::{Db, Scan};

/// What a fuzz target runs on one input.
pub type Target = fn(&[u8]);

/// Every target by name, for the replay test.
pub const TARGETS: &[(&str, Target)] = &[
    ("read_any", read_any),
    ("roundtrip", roundtrip),
    ("decode_header", decode_header),
    ("decode_footer", decode_footer),
    ("decode_metadata", decode_metadata),
    ("decode_frame", decode_frame),
    ("decode_catalog_block", decode_catalog_block),
    ("decode_catalog_key", decode_catalog_key),
    ("decode_catalog_values", decode_catalog_values),
    ("decode_block_index", decode_block_index),
    ("decode_grouping_table", decode_grouping_table),
    ("decode_data_block", decode_data_block),
    ("decode_posting_block", decode_posting_block),
    ("decode_varints", decode_varints),
    ("store_segment", store_segment),
    ("store_manifest", store_manifest),
];

/// Drains a scan, forwards or backwards, stopping at the first error; bounded by `limit` items.
fn drain(scan: Scan, reverse: bool, limit: usize) {
    let events: Box<dyn Iterator<Item = esdb_read::Result<esdb_read::Event>>> =
        if reverse { Box::new(scan.rev()) } else { Box::new(scan) };
    for event in events.take(limit) {
        if event.is_err() {
            break;
        }
    }
}

fn bounds(seed: u64) -> (Bound<i64>, Bound<i64>) {
    let lo = (seed % 7) as i64 - 3;
    let hi = lo + (seed / 7 % 9) as i64;
    match seed % 4 {
        0 => (Bound::Unbounded, Bound::Unbounded),
        1 => (Bound::Included(lo), Bound::Excluded(hi)),
        2 => (Bound::Excluded(lo), Bound::Included(hi)),
        _ => (Bound::Included(i64::MIN), Bound::Included(i64::MAX)),
    }
}

/// Arbitrary bytes as a whole file: open, enumerate, run every query both ways with ranges, and
/// verify. The file is opened in memory or, for half of the inputs, through a plain `Source`
/// (the reader's two ways of getting at blocks).
pub fn read_any(data: &[u8]) {
    let seed = data.iter().fold(0u64, |acc, b| acc.wrapping_mul(31).wrapping_add(u64::from(*b)));
    let bytes = esdb_read::Bytes::copy_from_slice(data);
    let opened = if seed & 1 == 0 { Db::from_bytes(bytes) } else { Db::from_source(std::sync::Arc::new(bytes)) };
    let Ok(db) = opened else { return };
    let _ = db.verify();
    for space in db.spaces().take(64) {
        let Ok(space) = space else { break };
        let _ = space.records().map(|records| records.take(1000).count());
        for reverse in [false, true] {
            if let Ok(scan) = space.events() {
                drain(scan.range(bounds(seed)), reverse, 1000);
            }
            for grouping in space.groupings().take(16).flatten() {
                if let Ok(scan) = space.scan(&grouping.name) {
                    drain(scan.range(bounds(seed >> 3)), reverse, 1000);
                }
            }
            for name in space.index_names().take(8).flatten() {
                for value in space.index_values(&name).take(8).flatten() {
                    if let Ok(scan) = space.scan_index(&name, &value.value) {
                        drain(scan.range(bounds(seed >> 5)), reverse, 1000);
                    }
                }
            }
        }
        // Grouping scans as one of two parallel readers lists them.
        for grouping in space.grouping_scans_part((seed >> 1 & 1) as usize, 2).take(16) {
            let Ok((_, scan)) = grouping else { break };
            drain(scan, false, 1000);
        }
        // Mixed ends on one iterator.
        if let Ok(mut scan) = space.events() {
            for step in 0..64 {
                let item = if (seed >> (step % 64)) & 1 == 0 { scan.next() } else { scan.next_back() };
                if !matches!(item, Some(Ok(_))) {
                    break;
                }
            }
        }
    }
}

/// One event of the round trip.
#[derive(Debug, Clone, Arbitrary)]
pub struct FuzzEvent {
    space: u8,
    ts: i8,
    grouping: u8,
    indexes: Vec<(u8, u8)>,
    data: Vec<u8>,
}

/// Writer options of the round trip, kept small so that blocks, spills and catalog levels are many.
#[derive(Debug, Clone, Arbitrary)]
pub struct FuzzOptions {
    block_size: u8,
    postings_per_block: u8,
    catalog_block_size: u8,
    memory_budget: u16,
}

/// Arbitrary events: write them, read them back, compare every query with a model.
pub fn roundtrip(data: &[u8]) {
    let mut input = Unstructured::new(data);
    let Ok(options) = FuzzOptions::arbitrary(&mut input) else { return };
    let Ok(events) = Vec::<FuzzEvent>::arbitrary(&mut input) else { return };
    let events: Vec<FuzzEvent> = events.into_iter().take(300).collect();
    let options = esdb_write::WriterOptions::default()
        .with_block_size(1 + usize::from(options.block_size))
        .with_postings_per_block(1 + usize::from(options.postings_per_block % 16))
        .with_catalog_block_size(64 + usize::from(options.catalog_block_size))
        .with_memory_budget(1024 + usize::from(options.memory_budget));
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("f.esdb");
    let mut writer = esdb_write::Writer::create_with(&path, options).expect("valid options");
    let space_of = |e: &FuzzEvent| vec![b's', e.space % 4];
    let grouping_of = |e: &FuzzEvent| if e.grouping.is_multiple_of(3) { Vec::new() } else { vec![e.grouping % 3] };
    let pairs_of = |e: &FuzzEvent| -> BTreeSet<(Vec<u8>, Vec<u8>)> {
        e.indexes.iter().take(4).map(|(n, v)| (vec![b'n', n % 2], vec![v % 3])).collect()
    };
    for e in &events {
        writer.add(space_of(e), i64::from(e.ts), grouping_of(e), pairs_of(e), &e.data).expect("valid event");
    }
    writer.finish().expect("finish");
    let db = Db::open(&path).expect("a written file opens");
    assert!(db.verify().is_ok(), "{:?}", db.verify().problems);

    // The model: per space, events in (timestamp, insertion) order.
    let mut model: BTreeMap<Vec<u8>, Vec<(i64, usize, &FuzzEvent)>> = BTreeMap::new();
    for (seq, e) in events.iter().enumerate() {
        model.entry(space_of(e)).or_default().push((i64::from(e.ts), seq, e));
    }
    let ids: Vec<Vec<u8>> = db.spaces().map(|s| s.expect("space").id().to_vec()).collect();
    assert_eq!(ids, model.keys().cloned().collect::<Vec<_>>());
    for (space_id, mut events) in model {
        events.sort_by_key(|(ts, seq, _)| (*ts, *seq));
        let space = db.space(&space_id).expect("lookup").expect("space exists");
        let collect = |scan: Scan| -> Vec<(i64, Vec<u8>)> {
            scan.map(|e| e.map(|e| (e.timestamp(), e.data().to_vec())).expect("event")).collect()
        };
        let want = |keep: &dyn Fn(&FuzzEvent) -> bool| -> Vec<(i64, Vec<u8>)> {
            events.iter().filter(|(_, _, e)| keep(e)).map(|(ts, _, e)| (*ts, e.data.clone())).collect()
        };
        assert_eq!(collect(space.events().expect("events")), want(&|_| true));
        let mut reversed = want(&|_| true);
        reversed.reverse();
        assert_eq!(collect_rev(space.events().expect("events")), reversed);
        for g in 0..3u8 {
            let grouping = if g == 0 { Vec::new() } else { vec![g] };
            assert_eq!(collect(space.scan(&grouping).expect("scan")), want(&|e| grouping_of(e) == grouping));
        }
        for n in 0..2u8 {
            for v in 0..3u8 {
                let pair = (vec![b'n', n], vec![v]);
                assert_eq!(
                    collect(space.scan_index(&pair.0, &pair.1).expect("scan")),
                    want(&|e| pairs_of(e).contains(&pair))
                );
            }
        }
    }
}

fn collect_rev(scan: Scan) -> Vec<(i64, Vec<u8>)> {
    scan.rev().map(|e| e.map(|e| (e.timestamp(), e.data().to_vec())).expect("event")).collect()
}

/// Arbitrary bytes as a file header.
pub fn decode_header(data: &[u8]) {
    let _ = header::Header::decode(data);
}

/// The input is the tail of a file; its last 80 bytes are a version 1 footer, its last 104 a
/// version 2 footer, and its first 24 a header for the version dispatch.
pub fn decode_footer(data: &[u8]) {
    if let Some(at) = data.len().checked_sub(footer::LEN) {
        let _ = footer::Footer::decode(&data[at..], data.len() as u64);
    }
    if let Some(at) = data.len().checked_sub(esdb_format::v2::footer::LEN) {
        let _ = esdb_format::v2::footer::Footer::decode(&data[at..], data.len() as u64);
    }
    let _ = esdb_format::ends::decode(data.get(..header::LEN).unwrap_or(data), data, data.len() as u64);
    let _ = esdb_format::ends::decode_footer(data, data.len() as u64);
}

/// A metadata block payload.
pub fn decode_metadata(data: &[u8]) {
    if let Ok(metadata) = esdb_format::v2::metadata::Metadata::decode(data, 0) {
        let _ = (metadata.time_unit(), metadata.index_names(), metadata.writer());
    }
}

/// A block frame; the first byte sets the largest raw length allowed (in KiB). The rest is also
/// an LZ4 payload whose prefix (of 64 times the first byte) must match a full decompression
/// wherever that succeeds.
pub fn decode_frame(data: &[u8]) {
    let limit = data.first().map_or(0, |b| u32::from(*b) << 10);
    let rest = data.get(1..).unwrap_or_default();
    let _ = frame::open(rest, 0, frame::FrameLimits::v2(limit), "fuzz");
    let mut out = vec![0u8; usize::from(data.first().copied().unwrap_or(0)) * 64];
    let _ = frame::decompress(frame::Codec::Zstd, rest, 0, &mut out);
    let mut prefix = vec![0u8; data.first().map_or(0, |b| usize::from(*b) * 64)];
    let prefix_ok = frame::decompress_prefix(rest, 0, &mut prefix).is_ok();
    let mut full = vec![0u8; 1 << 16];
    if let Ok(n) = lz4_flex::block::decompress_into(rest, &mut full) {
        if n >= prefix.len() {
            assert!(prefix_ok, "the prefix of a valid payload decodes");
            assert_eq!(prefix, full[..prefix.len()]);
        }
    }
}

/// A catalog block payload: tail, every entry, binary search and full validation.
pub fn decode_catalog_block(data: &[u8]) {
    let Ok(block) = catalog::CatalogBlock::decode(data, 0) else { return };
    let _ = block.validate();
    let _ = block.lower_bound(data.get(..data.len().min(8)).unwrap_or_default());
    for idx in 0..block.len().min(256) {
        let _ = block.entry(idx);
    }
}

/// A catalog key.
pub fn decode_catalog_key(data: &[u8]) {
    let _ = key::CatalogKey::decode(data, 0);
}

/// The same bytes as each kind of catalog value.
pub fn decode_catalog_values(data: &[u8]) {
    let _ = catalog::SpaceSummary::decode(data, 0);
    let _ = catalog::GroupingEntry::decode(data, 0);
    let _ = catalog::IndexValueEntry::decode(data, 0);
    let _ = catalog::decode_child(data, 0);
}

/// A block index payload and its searches.
pub fn decode_block_index(data: &[u8]) {
    let n_blocks = (data.len() / block_index::ENTRY_LEN) as u64;
    if let Ok(index) = block_index::BlockIndex::decode(data, 0, n_blocks) {
        let _ = index.count_first_ts_below(0);
        let _ = index.block_of_item(u64::from(data.first().copied().unwrap_or(0)));
    }
}

/// A grouping table payload, checked and unchecked.
pub fn decode_grouping_table(data: &[u8]) {
    let n = (data.len() / grouping_table::ENTRY_LEN) as u64;
    if let Ok(table) = grouping_table::GroupingTable::decode(data, 0, n, u64::MAX) {
        let _ = table.grouping_of(7);
    }
    let view = grouping_table::GroupingTable::view(data, 0);
    let _ = view.grouping_of(u64::from(data.first().copied().unwrap_or(0)));
}

/// A data block payload; the first byte picks the first timestamp and the event count.
pub fn decode_data_block(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let mut spans = Vec::new();
    let (first_ts, n) = (i64::from(first as i8) << 56, u64::from(first % 8) + 1);
    let _ = data_block::decode_for(2, rest, 0, first_ts, n, &mut spans);
    // The first span alone: within the block whenever it is given, and the full decode's first.
    let first_span = data_block::decode_first_for(1, rest, rest.len() as u64, 0, first_ts, n);
    if let Ok(span) = first_span {
        assert!(span.start <= span.end && span.end as usize <= rest.len());
    }
    match data_block::decode(rest, 0, first_ts, n, &mut spans) {
        Ok(()) => {
            assert_eq!(first_span.ok(), Some(spans[0]));
            // The spans tile the data region exactly, in order.
            for pair in spans.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
                assert!(pair[0].ts <= pair[1].ts);
            }
            assert!(spans.iter().all(|s| s.start <= s.end && s.end as usize <= rest.len()));
            assert_eq!(spans.last().map(|s| s.end as usize), Some(rest.len()));
        }
        Err(_) => assert!(spans.is_empty()),
    }
}

/// A posting block payload; the first byte picks the count and the space size.
pub fn decode_posting_block(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let mut postings = Vec::new();
    let n_space_events = 1u64 << (first % 40);
    match posting_block::decode(rest, 0, u64::from(first % 16) + 1, n_space_events, &mut postings) {
        Ok(()) => assert!(postings.iter().all(|&p| p < n_space_events)),
        Err(_) => assert!(postings.is_empty()),
    }
}

/// Varints until one fails, then a bit-packed run whose width is the first byte.
pub fn decode_varints(data: &[u8]) {
    let mut cur = Cursor::new(data, 0);
    while cur.uvarint("fuzz").is_ok() {}
    let mut cur = Cursor::new(data, 0);
    let width = data.first().copied().unwrap_or(0) % 66;
    let _ = esdb_format::bitpack::unpack(&mut cur, data.len() as u64, width, "fuzz", |_| {});
}

/// Runs `name` on `data`; panics if there is no such target.
pub fn run(name: &str, data: &[u8]) {
    let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no fuzz target {name}"));
    target(data);
}

/// A store whose active segment holds `data` after a valid header: opened read-only (replay,
/// queries), verified, opened for writing (one append, replay, close) and repaired. Whatever the
/// bytes, nothing may panic or hang; a writer that opens must serve every record it holds.
pub fn store_segment(data: &[u8]) {
    use esdb_store::{NewEvent, Store, StoreOptions};
    // On tmpfs where there is one: fsync costs nothing there, and the store fsyncs a lot.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() { tempfile::tempdir_in(shm) } else { tempfile::tempdir() };
    let Ok(dir) = dir else { return };
    let options = StoreOptions::default()
        .with_seal_after_bytes(None)
        .with_seal_after_age(None)
        .with_dedupe_window(4)
        .with_partition_window(Some(10));
    let Ok(store) = Store::open(dir.path(), options.clone()) else { return };
    let _ = store.close();
    let segment = dir.path().join("log/00000000000000000000.log");
    let Ok(mut bytes) = std::fs::read(&segment) else { return };
    bytes.extend_from_slice(data);
    if std::fs::write(&segment, &bytes).is_err() {
        return;
    }
    if let Ok(reader) = Store::open_read_only(dir.path()) {
        if let Ok(replay) = reader.read_from(0) {
            for event in replay.take(10_000) {
                if event.is_err() {
                    break;
                }
            }
        }
        if let Ok(Some(space)) = reader.space("s") {
            if let Ok(scan) = space.events() {
                scan.take(10_000).for_each(drop);
            }
        }
    }
    let _ = esdb_store::verify(dir.path());
    if let Ok(store) = Store::open(dir.path(), options.clone()) {
        let next = store.next_offset();
        let appended = store.append(NewEvent::new("s", 1, "after")).ok();
        if let Ok(replay) = store.read_from(0) {
            let served = replay.take(100_000).take_while(Result::is_ok).count() as u64;
            assert!(appended.is_none() || served == next + 1, "the store served {served} of {} records", next + 1);
        }
        let _ = store.seal();
        let _ = store.close();
    }
    let _ = esdb_store::repair(dir.path());
    let _ = Store::open(dir.path(), options);
}

/// A MANIFEST's bytes: parsed and checked, and when accepted, written again unchanged.
pub fn store_manifest(data: &[u8]) {
    if let Ok(manifest) = esdb_store::Manifest::parse(data) {
        let again = esdb_store::Manifest::parse(&manifest.to_bytes()).expect("a checked manifest reads back");
        assert_eq!(again, manifest);
    }
}
