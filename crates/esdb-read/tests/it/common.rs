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

/// `(timestamp, data)` of every event of a scan, failing on error.
pub fn collect(scan: impl Iterator<Item = esdb_read::Result<esdb_read::Event>>) -> Vec<(i64, Vec<u8>)> {
    scan.map(|event| event.map(|e| (e.timestamp(), e.data().to_vec()))).collect::<Result<_, _>>().unwrap()
}

/// Takes events alternately from both ends of `scan` following `from_front`, then the rest from
/// the front; returns them in scan order (front items, then back items reversed).
pub fn collect_mixed(mut scan: Scan, from_front: &[bool]) -> Vec<(i64, Vec<u8>)> {
    let (mut front, mut back) = (Vec::new(), Vec::new());
    for &take_front in from_front {
        let next = if take_front { scan.next() } else { scan.next_back() };
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
