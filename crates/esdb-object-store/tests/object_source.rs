//! The object-store source against the same files read locally: every answer the same, and the
//! requests a query costs counted.

use std::sync::Arc;

use esdb_object_store::object_store::memory::InMemory;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use esdb_object_store::{open_object, Db, Error, FetchError, ObjectSourceOptions};
use esdb_read::Source;

mod support;
use support::{answers, big_space, fixtures, in_memory, many_spaces, runtime};

#[test]
fn every_golden_file_reads_the_same_through_an_object_store() {
    // Pages of 4 KiB and a cache of 16 KiB, so that reads span pages and pages are evicted and
    // fetched again; and the default options.
    let small =
        ObjectSourceOptions::default().with_page_size(4096).with_cache_bytes(16 * 1024).with_read_ahead(4096, 16384);
    for path in fixtures() {
        let local = Db::open(&path).unwrap();
        let expected = answers(&local);
        for options in [small.clone(), ObjectSourceOptions::default()] {
            let (store, key) = in_memory(std::fs::read(&path).unwrap());
            let (db, source) = open_object(store, key, "memory:///files/test.esdb", options).unwrap();
            assert_eq!(answers(&db), expected, "{}", path.display());
            let problems = |db: &Db| db.verify().problems.iter().map(ToString::to_string).collect::<Vec<_>>();
            assert_eq!(problems(&db), problems(&local), "{}", path.display());
            assert!(source.stats().requests >= 1);
        }
    }
}

#[test]
fn open_lookup_and_first_event_take_three_requests() {
    let bytes = many_spaces(20_000, 6);
    let file_len = bytes.len() as u64;
    let (store, key) = in_memory(bytes);
    for space in [0u32, 1, 7_777, 13_001, 19_999] {
        let (db, source) =
            open_object(store.clone(), key.clone(), "memory:///l2.esdb", ObjectSourceOptions::default()).unwrap();
        assert_eq!(source.stats().requests, 1, "open is one request");
        let space = db.space(format!("visitor-{space:06}")).unwrap().unwrap();
        let first = space.events().unwrap().next().unwrap().unwrap();
        assert_eq!(
            first.timestamp(),
            i64::from(space.id()[8..].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
        );
        let stats = source.stats();
        eprintln!("lookup: {stats:?} of {file_len}");
        assert!(stats.requests <= 3, "open, lookup and first event took {} requests", stats.requests);
        assert!(stats.bytes * 4 < file_len, "{} of {file_len} bytes fetched", stats.bytes);
        // Another grouping of the same space is one request at most.
        let _ = space.scan("host-1").unwrap().next().unwrap().unwrap();
        assert!(source.stats().requests <= 4);
    }
}

#[test]
fn a_full_scan_fetches_ahead_in_large_requests() {
    let (bytes, expected) = big_space(300_000);
    let file_len = bytes.len() as u64;
    assert!(file_len > 6 << 20, "the file is large enough for the read-ahead to grow: {file_len}");
    let (store, key) = in_memory(bytes);
    let (db, source) = open_object(store, key, "memory:///big.esdb", ObjectSourceOptions::default()).unwrap();
    let space = db.space("space").unwrap().unwrap();
    let mut seen = 0u64;
    for event in space.scan("").unwrap() {
        assert_eq!(event.unwrap().timestamp(), seen as i64);
        seen += 1;
    }
    assert_eq!(seen, expected);
    let stats = source.stats();
    assert!(stats.bytes <= file_len + (1 << 20), "{} bytes fetched for a file of {file_len}", stats.bytes);
    eprintln!("full scan: {stats:?} for {file_len} bytes");
    assert!(stats.bytes / stats.requests >= 1 << 20, "{} requests for {} bytes", stats.requests, stats.bytes);
}

#[test]
fn a_missing_object_is_not_found_and_names_the_url() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let err = open_object(store, Path::from("nothing.esdb"), "memory:///nothing.esdb", ObjectSourceOptions::default())
        .unwrap_err();
    let Error::Fetch(fetch @ FetchError::Open { .. }) = &err else { panic!("{err:?}") };
    let io: std::io::Error = fetch.clone().into();
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().starts_with("memory:///nothing.esdb: GET"), "{err}");
}

#[test]
fn a_replaced_object_is_an_error_not_a_mix_of_two_files() {
    let bytes = many_spaces(2_000, 4);
    let (store, key) = in_memory(bytes.clone());
    let (db, _) = open_object(store.clone(), key.clone(), "memory:///l2.esdb", ObjectSourceOptions::default()).unwrap();
    runtime().block_on(store.put(&key, PutPayload::from(many_spaces(2_000, 5)))).unwrap();
    let err = db.space("visitor-000042").and_then(|space| space.unwrap().events()?.next().unwrap()).unwrap_err();
    let text = format!("{err}: {}", std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default());
    assert!(text.contains("the object changed since it was opened"), "{text}");
}

#[test]
fn reads_past_the_end_are_refused() {
    let (store, key) = in_memory(many_spaces(10, 2));
    let source =
        esdb_object_store::ObjectSource::open(store, key, "memory:///x", ObjectSourceOptions::default()).unwrap();
    let len = source.len();
    assert_eq!(source.read(len - 4, 4).unwrap().len(), 4);
    assert_eq!(source.read(len - 4, 5).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    assert_eq!(source.read(u64::MAX, 1).unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_reader_answers_as_the_blocking_one() {
    let bytes = many_spaces(500, 5);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.esdb");
    std::fs::write(&path, &bytes).unwrap();
    let expected = answers(&Db::open(&path).unwrap());
    let store = InMemory::new();
    let key = Path::from("f.esdb");
    store.put(&key, PutPayload::from(bytes)).await.unwrap();
    let db = esdb_object_store::AsyncDb::open(Arc::new(store), key, "memory:///f.esdb", ObjectSourceOptions::default())
        .await
        .unwrap();
    assert_eq!(db.run(answers).await, expected);
    assert!(db.source().stats().requests >= 2);
}

#[test]
fn an_upload_is_checked_byte_for_byte_and_deletes_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("f.esdb");
    // Above one part, so that the multipart path is checked too.
    let bytes: Vec<u8> = (0..(17u32 << 20)).map(|i| (i % 251) as u8).collect();
    std::fs::write(&local, &bytes).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let key = Path::from("t/f.esdb");
    let url = "memory:///t/f.esdb";
    assert_eq!(esdb_object_store::upload_to(store.clone(), key.clone(), &local, url).unwrap(), bytes.len() as u64);
    assert_eq!(esdb_object_store::check_upload(store.clone(), key.clone(), &local, url).unwrap(), bytes.len() as u64);

    let put = |content: Vec<u8>| runtime().block_on(store.put(&key, PutPayload::from(content))).unwrap();
    let mut changed = bytes.clone();
    changed[9_000_001] ^= 1;
    put(changed);
    let err = esdb_object_store::check_upload(store.clone(), key.clone(), &local, url).unwrap_err().to_string();
    assert!(err.contains("differs from the file at byte 9000001"), "{err}");
    put(bytes[..bytes.len() - 1].to_vec());
    let err = esdb_object_store::check_upload(store.clone(), key.clone(), &local, url).unwrap_err().to_string();
    assert!(err.contains(&format!("the copy is {} bytes, the file {}", bytes.len() - 1, bytes.len())), "{err}");
    let mut longer = bytes.clone();
    longer.push(0);
    put(longer);
    let err = esdb_object_store::check_upload(store.clone(), key.clone(), &local, url).unwrap_err().to_string();
    assert!(err.contains("longer than the file"), "{err}");

    esdb_object_store::delete(store.clone(), key.clone(), url).unwrap();
    esdb_object_store::delete(store.clone(), key.clone(), url).unwrap();
    let err = esdb_object_store::check_upload(store.clone(), key, &local, url).unwrap_err().to_string();
    assert!(err.contains("reading the copy back"), "{err}");
}
