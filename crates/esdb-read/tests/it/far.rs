//! A far source (`Distance::Far`): the reader opens from one read of the end, never reads the
//! header until `verify`, hints what it reads next, and answers exactly as it does near.

use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use esdb_read::{Db, Distance, Source, SUFFIX_READ_LEN};

use crate::common::{all_queries, collect, run_query};
use crate::golden::{goldens, goldens_of};

/// Bytes in memory that say they are far away, and remember what the reader asked.
#[derive(Debug)]
struct Far {
    bytes: Bytes,
    reads: Mutex<Vec<Range<u64>>>,
    hints: Mutex<Vec<Range<u64>>>,
}

impl Far {
    fn new(bytes: &[u8]) -> Arc<Far> {
        Arc::new(Far { bytes: Bytes::copy_from_slice(bytes), reads: Mutex::default(), hints: Mutex::default() })
    }
}

impl Source for Far {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read(&self, offset: u64, len: usize) -> std::io::Result<Bytes> {
        self.reads.lock().unwrap().push(offset..offset + len as u64);
        Source::read(&self.bytes, offset, len)
    }

    fn distance(&self) -> Distance {
        Distance::Far
    }

    fn hint(&self, range: Range<u64>) {
        self.hints.lock().unwrap().push(range);
    }
}

#[test]
fn every_golden_file_answers_the_same_far_and_near() {
    for golden in goldens_of(1).into_iter().chain(goldens()) {
        let far = Far::new(&golden.bytes);
        let db = Db::from_source(far.clone()).unwrap();
        let len = golden.bytes.len() as u64;
        // Open: a hint of the end, and no read of the header.
        let hints = far.hints.lock().unwrap().clone();
        assert_eq!(hints.first(), Some(&(len - len.min(SUFFIX_READ_LEN)..len)), "{}", golden.file);
        assert!(far.reads.lock().unwrap().iter().all(|read| read.start >= 24 || len <= 128), "{}", golden.file);
        let near = Db::from_bytes(golden.bytes.clone().into()).unwrap();
        for (name, space, kind, expected) in all_queries(&golden.events) {
            let far_space = db.space(&space).unwrap().unwrap();
            assert_eq!(collect(run_query(&far_space, &kind).unwrap()), expected, "{}: {name}", golden.file);
            let near_space = near.space(&space).unwrap().unwrap();
            assert_eq!(
                collect(run_query(&near_space, &kind).unwrap().rev()),
                collect(run_query(&far_space, &kind).unwrap().rev())
            );
        }
        assert!(db.verify().is_ok(), "{}", golden.file);
        // Every hint lies within the file.
        assert!(
            far.hints.lock().unwrap().iter().all(|hint| hint.start < hint.end && hint.end <= len),
            "{}",
            golden.file
        );
    }
}

#[test]
fn a_far_reader_finds_a_broken_header_when_it_verifies() {
    let golden = goldens().into_iter().find(|golden| golden.file == "many_blocks.esdb").unwrap();
    let mut bytes = golden.bytes.clone();
    bytes[9] ^= 0x40; // the header's major version; its checksum no longer matches
    assert!(Db::from_bytes(bytes.clone().into()).is_err(), "a near reader refuses it at open");
    let db = Db::from_source(Far::new(&bytes)).unwrap();
    let report = db.verify();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].to_string().contains("header"), "{}", report.problems[0]);
}

#[test]
fn every_invalid_file_fails_far_as_it_fails_near() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v2/invalid");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    for entry in manifest["files"].as_array().unwrap() {
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let near = Db::from_bytes(bytes.clone().into()).map(|_| ()).map_err(|err| err.to_string());
        let far = Db::from_source(Far::new(&bytes));
        match (&near, &far) {
            (Err(near), Err(far)) => assert_eq!(near, &far.to_string(), "{file}"),
            (Ok(()), Ok(db)) => assert!(!db.verify().is_ok(), "{file}: verify finds what a scan would"),
            _ => panic!("{file}: near {near:?}, far {:?}", far.as_ref().map(|_| ())),
        }
    }
}
