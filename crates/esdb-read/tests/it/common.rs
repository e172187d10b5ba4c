//! Helpers shared by the tests: writing events and collecting scans.

use esdb_read::{Db, Scan};
use esdb_write::{Writer, WriterOptions};

/// One event as the tests describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEvent {
    pub space: Vec<u8>,
    pub ts: i64,
    pub grouping: Vec<u8>,
    pub indexes: Vec<(Vec<u8>, Vec<u8>)>,
    pub data: Vec<u8>,
}

/// Writes `events` with `options` to a new file in `dir` and returns its bytes.
pub fn write_file(dir: &std::path::Path, name: &str, events: &[TestEvent], options: WriterOptions) -> Vec<u8> {
    let path = dir.join(name);
    let mut writer = Writer::create_with(&path, options).unwrap();
    for event in events {
        writer
            .add(&event.space, event.ts, &event.grouping, event.indexes.iter().map(|(n, v)| (n, v)), &event.data)
            .unwrap();
    }
    writer.finish().unwrap();
    std::fs::read(&path).unwrap()
}

/// Opens bytes as a `Db`.
pub fn open_bytes(bytes: Vec<u8>) -> Db {
    Db::from_bytes(bytes.into()).unwrap()
}

/// Opens `bytes` as a file in memory (`Db::from_bytes`: blocks are borrowed from it) or, with
/// `through_source`, as a `Source` the reader knows nothing about (every block is read as
/// `Bytes`, as from a remote store).
pub fn open_via(bytes: &[u8], through_source: bool) -> esdb_read::Result<Db> {
    let bytes = bytes::Bytes::copy_from_slice(bytes);
    if through_source {
        Db::from_source(std::sync::Arc::new(bytes))
    } else {
        Db::from_bytes(bytes)
    }
}

/// `(timestamp, data)` of every event of a scan, failing on error.
pub fn collect(scan: impl Iterator<Item = esdb_read::Result<esdb_read::Event>>) -> Vec<(i64, Vec<u8>)> {
    scan.map(|event| event.map(|e| (e.timestamp(), e.data().to_vec()))).collect::<Result<_, _>>().unwrap()
}

/// `(timestamp, data)` of every event of a scan read with the borrowing `next_ref`.
pub fn collect_ref(mut scan: Scan) -> Vec<(i64, Vec<u8>)> {
    let mut events = Vec::new();
    while let Some(event) = scan.next_ref() {
        let event = event.unwrap();
        events.push((event.timestamp(), event.data().to_vec()));
    }
    events
}

/// Takes events alternately from both ends of `scan` following `from_front`, then the rest from
/// the front; returns them in scan order (front items, then back items reversed). Every other
/// step borrows (`next_ref`, `next_back_ref`) instead of taking an owned event.
pub fn collect_mixed(mut scan: Scan, from_front: &[bool]) -> Vec<(i64, Vec<u8>)> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    for (step, &take_front) in from_front.iter().enumerate() {
        let next = match (take_front, step % 2 == 0) {
            (true, true) => scan.next(),
            (false, true) => scan.next_back(),
            (true, false) => scan.next_ref().map(|event| event.map(|e| e.to_event())),
            (false, false) => scan.next_back_ref().map(|event| event.map(|e| e.to_event())),
        };
        match next {
            Some(event) => {
                let event = event.unwrap();
                let item = (event.timestamp(), event.data().to_vec());
                if take_front {
                    front.push(item)
                } else {
                    back.push(item)
                }
            }
            None => break,
        }
    }
    front.extend(collect(scan));
    back.reverse();
    front.extend(back);
    front
}

/// Cases per proptest: `PROPTEST_CASES` from the environment, else `default`.
pub fn proptest_cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(default)
}

/// The events of `space` that `keep` selects, as a query returns them: ordered by (timestamp,
/// insertion order).
pub fn model_query(events: &[TestEvent], space: &[u8], keep: impl Fn(&TestEvent) -> bool) -> Vec<(i64, Vec<u8>)> {
    let mut selected: Vec<(i64, usize, Vec<u8>)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.space == space && keep(e))
        .map(|(seq, e)| (e.ts, seq, e.data.clone()))
        .collect();
    selected.sort_by_key(|(ts, seq, _)| (*ts, *seq));
    selected.into_iter().map(|(ts, _, data)| (ts, data)).collect()
}

/// A query's label, space, kind, and the model's answer.
pub type ModelQuery = (String, Vec<u8>, QueryKind, Vec<(i64, Vec<u8>)>);

/// Every query of every space of `events` that a file must answer.
pub fn all_queries(events: &[TestEvent]) -> Vec<ModelQuery> {
    use std::collections::BTreeSet;
    let spaces: BTreeSet<&Vec<u8>> = events.iter().map(|e| &e.space).collect();
    let mut out = Vec::new();
    for space in spaces {
        out.push((format!("{space:?} events"), space.clone(), QueryKind::Events, model_query(events, space, |_| true)));
        let groupings: BTreeSet<&Vec<u8>> = events.iter().filter(|e| &e.space == space).map(|e| &e.grouping).collect();
        for g in groupings {
            out.push((
                format!("{space:?} scan {g:?}"),
                space.clone(),
                QueryKind::Grouping(g.clone()),
                model_query(events, space, |e| &e.grouping == g),
            ));
        }
        let pairs: BTreeSet<&(Vec<u8>, Vec<u8>)> =
            events.iter().filter(|e| &e.space == space).flat_map(|e| &e.indexes).collect();
        for (n, v) in pairs {
            let want = model_query(events, space, |e| e.indexes.iter().any(|(n2, v2)| n2 == n && v2 == v));
            out.push((
                format!("{space:?} index {n:?}={v:?}"),
                space.clone(),
                QueryKind::Index(n.clone(), v.clone()),
                want,
            ));
        }
    }
    out
}

/// Which query [`all_queries`] describes.
#[derive(Debug, Clone)]
pub enum QueryKind {
    Events,
    Grouping(Vec<u8>),
    Index(Vec<u8>, Vec<u8>),
}

/// Runs `kind` on `space`.
pub fn run_query(space: &esdb_read::Space, kind: &QueryKind) -> esdb_read::Result<Scan> {
    match kind {
        QueryKind::Events => space.events(),
        QueryKind::Grouping(g) => space.scan(g),
        QueryKind::Index(n, v) => space.scan_index(n, v),
    }
}
