//! Against a real S3 server (SeaweedFS, started by `.ci/run` through `.ci/s3-server`), behind a
//! proxy that counts every request and injects faults: the same answers as the local file, the
//! round trips the cost model promises, and faults that end in a clear error or, through retries,
//! in the right answer, never in wrong data.

use std::time::Duration;

use esdb_object_store::{open_object, Db, ObjectSourceOptions};

mod support;
use support::proxy::{Fault, Proxy};
use support::s3::{unique_prefix, S3};
use support::{answers, big_space, fixtures, many_spaces};

fn quick_retries() -> ObjectSourceOptions {
    ObjectSourceOptions::default().with_retries(3, Duration::from_millis(20))
}

#[test]
fn every_golden_file_answers_the_same_from_s3() {
    let Some(s3) = S3::from_env() else { return };
    let prefix = unique_prefix("golden");
    let proxy = Proxy::start(s3.addr());
    let store = s3.store(&proxy.endpoint());
    for file in fixtures() {
        let name = file.file_name().unwrap().to_str().unwrap();
        let version = file.parent().unwrap().file_name().unwrap().to_str().unwrap();
        let key = s3.upload(&format!("{prefix}/{version}/{name}"), std::fs::read(&file).unwrap());
        let url = format!("s3://{}/{key}", s3.bucket);
        let (db, source) = open_object(store.clone(), key, &url, quick_retries()).unwrap();
        assert_eq!(answers(&db), answers(&Db::open(&file).unwrap()), "{url}");
        assert!(db.verify().is_ok(), "{url}");
        // The proxy saw exactly the GETs the source counted.
        let gets = proxy.seen().iter().filter(|seen| seen.method == "GET").count() as u64;
        assert_eq!(gets, source.stats().requests, "{url}");
        proxy.clear();
    }
}

#[test]
fn a_cold_lookup_and_first_event_take_at_most_three_requests() {
    let Some(s3) = S3::from_env() else { return };
    let bytes = many_spaces(20_000, 6);
    let file_len = bytes.len() as u64;
    let key = s3.upload(&format!("{}/l2.esdb", unique_prefix("lookup")), bytes);
    let proxy = Proxy::start(s3.addr());
    let store = s3.store(&proxy.endpoint());
    for space in [0u32, 4_321, 19_999] {
        proxy.clear();
        let (db, _) = open_object(store.clone(), key.clone(), "s3://test/l2.esdb", quick_retries()).unwrap();
        let found = db.space(format!("visitor-{space:06}")).unwrap().unwrap();
        let first = found.events().unwrap().next().unwrap().unwrap();
        assert_eq!(first.timestamp(), i64::from(space));
        let seen = proxy.seen();
        assert!(seen.len() <= 3, "open, lookup and first event: {seen:#?}");
        let fetched: u64 = seen.iter().map(|seen| seen.body_bytes).sum();
        assert!(fetched * 4 < file_len, "{fetched} of {file_len} bytes");
        assert!(seen.iter().all(|seen| seen.method == "GET" && seen.range.is_some()), "{seen:#?}");
    }
}

#[test]
fn a_full_scan_reads_in_large_coalesced_requests() {
    let Some(s3) = S3::from_env() else { return };
    let (bytes, n) = big_space(300_000);
    let file_len = bytes.len() as u64;
    let key = s3.upload(&format!("{}/big.esdb", unique_prefix("scan")), bytes);
    let proxy = Proxy::start(s3.addr());
    let (db, _) = open_object(s3.store(&proxy.endpoint()), key, "s3://test/big.esdb", quick_retries()).unwrap();
    let space = db.space("space").unwrap().unwrap();
    let mut seen_events = 0;
    for (i, event) in space.scan("").unwrap().enumerate() {
        assert_eq!(event.unwrap().timestamp(), i as i64);
        seen_events += 1;
    }
    assert_eq!(seen_events, n);
    let seen = proxy.seen();
    let fetched: u64 = seen.iter().map(|seen| seen.body_bytes).sum();
    assert!(fetched <= file_len + (1 << 20), "{fetched} bytes for a file of {file_len}");
    let large = seen.iter().filter(|seen| seen.body_bytes >= 1 << 20).map(|seen| seen.body_bytes).sum::<u64>();
    assert!(large * 10 >= fetched * 7, "most bytes come in requests of 1 MiB or more: {seen:#?}");
}

#[test]
fn throttling_and_server_errors_pass_through_retries() {
    let Some(s3) = S3::from_env() else { return };
    // Larger than the first read, so that reads after the open go to the server.
    let bytes = many_spaces(2_000, 6);
    let expected = answers(&Db::from_bytes(bytes.clone().into()).unwrap());
    let key = s3.upload(&format!("{}/f.esdb", unique_prefix("retry")), bytes);
    let proxy = Proxy::start(s3.addr());
    let store = s3.store(&proxy.endpoint());
    for fault in [Fault::Status(503, "SlowDown"), Fault::Status(500, "InternalError"), Fault::Truncate] {
        proxy.clear();
        proxy.queue(fault.clone());
        proxy.queue(fault.clone());
        let (db, source) = open_object(store.clone(), key.clone(), "s3://test/f.esdb", quick_retries())
            .unwrap_or_else(|err| panic!("{fault:?}: {err}"));
        assert!(source.stats().requests >= 3, "{fault:?}: the two faults were retried");
        // And on a read after the open.
        proxy.queue(fault.clone());
        proxy.queue(fault.clone());
        assert_eq!(answers(&db), expected, "{fault:?}");
        assert!(source.stats().requests >= 6, "{fault:?}: {:?}", source.stats());
    }
}

#[test]
fn a_read_that_keeps_failing_names_the_url_and_the_range() {
    let Some(s3) = S3::from_env() else { return };
    let bytes = many_spaces(20_000, 6);
    let key = s3.upload(&format!("{}/l2.esdb", unique_prefix("fail")), bytes.clone());
    let proxy = Proxy::start(s3.addr());
    let (db, _) = open_object(s3.store(&proxy.endpoint()), key, "s3://test/l2.esdb", quick_retries()).unwrap();
    for _ in 0..4 {
        proxy.queue(Fault::Status(500, "InternalError"));
    }
    let err = db.space("visitor-012345").unwrap_err();
    let text = std::iter::successors(Some(&err as &dyn std::error::Error), |err| err.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(text.contains("s3://test/l2.esdb: GET bytes "), "{text}");
    assert!(text.contains("failed after 4 attempt(s)"), "{text}");
    // Nothing was cached from the failures: the next read succeeds.
    let space = db.space("visitor-012345").unwrap().unwrap();
    assert_eq!(space.len(), 6);
}

#[test]
fn a_timeout_is_retried_and_then_reported() {
    let Some(s3) = S3::from_env() else { return };
    let file = &fixtures()[0];
    let key = s3.upload(&format!("{}/t.esdb", unique_prefix("timeout")), std::fs::read(file).unwrap());
    let proxy = Proxy::start(s3.addr());
    // The client gives up on a request after 2 s.
    proxy.queue(Fault::Delay(Duration::from_secs(3)));
    let (db, source) =
        open_object(s3.store(&proxy.endpoint()), key.clone(), "s3://test/t.esdb", quick_retries()).unwrap();
    assert_eq!(answers(&db), answers(&Db::open(file).unwrap()));
    assert!(source.stats().requests >= 2);
    for _ in 0..4 {
        proxy.queue(Fault::Delay(Duration::from_secs(3)));
    }
    let err = open_object(s3.store(&proxy.endpoint()), key, "s3://test/t.esdb", quick_retries()).unwrap_err();
    assert!(err.to_string().contains("s3://test/t.esdb: GET of the last"), "{err}");
}
