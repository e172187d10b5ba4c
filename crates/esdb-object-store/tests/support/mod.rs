//! What the object-store tests share: files to read, and everything a file answers.
#![allow(dead_code)]

pub mod proxy;
pub mod s3;

use std::sync::Arc;

use esdb_object_store::object_store::memory::InMemory;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use esdb_object_store::Db;

/// Everything a file answers, in order: spaces, their groupings and index values with counts,
/// every scan forwards and backwards.
pub fn answers(db: &Db) -> Vec<String> {
    let mut out = vec![format!("{} events, {} spaces, {:?}", db.len(), db.n_spaces(), db.time_range())];
    for space in db.spaces() {
        let space = space.unwrap();
        out.push(format!("space {:?}: {:?}", space.id(), space.counts()));
        out.extend(events(space.events().unwrap()));
        out.extend(events(space.events().unwrap().rev()));
        for grouping in space.groupings() {
            let grouping = grouping.unwrap();
            out.push(format!("grouping {:?} {:?}", grouping.name, grouping.counts));
            out.extend(events(space.scan(&grouping.name).unwrap()));
            out.extend(events(space.scan(&grouping.name).unwrap().rev()));
        }
        for name in space.index_names() {
            let name = name.unwrap();
            for value in space.index_values(&name) {
                let value = value.unwrap();
                out.push(format!("index {:?}={:?} {:?}", value.name, value.value, value.counts));
                out.extend(events(space.scan_index(&name, &value.value).unwrap()));
                out.extend(events(space.scan_index(&name, &value.value).unwrap().rev()));
            }
        }
    }
    out
}

pub fn events(scan: impl Iterator<Item = esdb_read::Result<esdb_read::Event>>) -> Vec<String> {
    scan.map(|event| {
        let event = event.unwrap();
        format!("{} {} {:?}", event.timestamp(), event.ordinal(), event.data())
    })
    .collect()
}

pub fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let mut files = Vec::new();
    for version in ["v1", "v2"] {
        for entry in std::fs::read_dir(dir.join(version)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "esdb") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 15, "the golden files are found: {files:?}");
    files
}

pub fn in_memory(bytes: Vec<u8>) -> (Arc<dyn ObjectStore>, Path) {
    let store = InMemory::new();
    let path = Path::from("files/test.esdb");
    runtime().block_on(store.put(&path, PutPayload::from(bytes))).unwrap();
    (Arc::new(store), path)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A file like the comparison's L2 layout: many small spaces, each with an index.
pub fn many_spaces(n_spaces: u32, per_space: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l2.esdb");
    let mut writer = esdb_write::Writer::create(&path).unwrap();
    for space in 0..n_spaces {
        for i in 0..per_space {
            let id = format!("visitor-{space:06}");
            let host = format!("host-{}", i % 3);
            let city = format!("city-{}", (space + i) % 40);
            let data =
                format!(r#"{{"visitor":{space},"n":{i},"path":"/page/{}","padding":"{}"}}"#, i * 7, "x".repeat(40));
            writer
                .add(&id, i64::from(i) * 1000 + i64::from(space), &host, [("city", city.as_str())], data.as_bytes())
                .unwrap();
        }
    }
    writer.finish().unwrap();
    std::fs::read(&path).unwrap()
}

/// One space of `n` events in the default grouping, large enough for a scan's read-ahead to grow;
/// also returns `n`.
pub fn big_space(n: i64) -> (Vec<u8>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.esdb");
    let mut writer = esdb_write::Writer::create(&path).unwrap();
    for i in 0..n {
        let data = format!(
            r#"{{"n":{i},"payload":"{:016x}{:016x}"}}"#,
            (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            i ^ 0x5555
        );
        writer.add("space", i, "", [] as [(&str, &str); 0], data.as_bytes()).unwrap();
    }
    writer.finish().unwrap();
    (std::fs::read(&path).unwrap(), n as u64)
}
