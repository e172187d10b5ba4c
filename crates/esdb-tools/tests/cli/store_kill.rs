//! Crash tests of the store: `esdb store append --durability sync`, `store seal` and `store
//! compact` are killed with SIGKILL at varied moments (a bounded number of kills). After each
//! kill the store opens, every offset the child reported durable is present exactly once and in
//! order, nothing else is corrupt, and queries return exactly the events in the log.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use esdb_store::{Store, StoreOptions};

use crate::common::Scratch;

const SPACES: u64 = 5;

fn line(n: u64) -> String {
    format!(
        "{{\"s\":\"s{}\",\"t\":{},\"k\":\"v{}\",\"id\":\"e{n}\",\"n\":{n}}}\n",
        n % SPACES,
        (n * 7919) % 1000,
        n % 3
    )
}

fn esdb() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("esdb"))
}

/// Opens the store (recovering it), checks it and returns the next offset.
fn check_store(dir: &std::path::Path, acked_through: Option<u64>, context: &str) -> u64 {
    let options =
        StoreOptions::default().with_seal_after_bytes(None).with_seal_after_age(None).with_partition_window(Some(100));
    let store = Store::open(dir, options).unwrap_or_else(|err| panic!("{context}: reopening failed: {err}"));
    let next = store.next_offset();
    if let Some(acked) = acked_through {
        assert!(next > acked, "{context}: offset {acked} was acknowledged durable, the log ends at {next}");
    }
    // Offsets in order, each event once: event n is at offset n.
    let mut per_space: Vec<Vec<(i64, Vec<u8>)>> = vec![Vec::new(); SPACES as usize];
    for (expected, event) in store.read_from(0).unwrap().enumerate() {
        let event = event.unwrap_or_else(|err| panic!("{context}: replay: {err}"));
        assert_eq!(event.offset, expected as u64, "{context}");
        let value: serde_json::Value = serde_json::from_slice(&event.data).unwrap();
        assert_eq!(value["n"], expected as u64, "{context}: offset {expected} holds another event");
        per_space[(expected as u64 % SPACES) as usize].push((event.timestamp, event.data.to_vec()));
    }
    // Queries across partitions and tail return exactly the logged events.
    for (space, mut expected) in per_space.into_iter().enumerate() {
        expected.sort_by_key(|(ts, _)| *ts);
        let got: Vec<(i64, Vec<u8>)> = match store.space(format!("s{space}")).unwrap() {
            None => Vec::new(),
            Some(found) => found
                .events()
                .unwrap()
                .map(|e| e.map(|e| (e.timestamp(), e.data().to_vec())))
                .collect::<Result<_, _>>()
                .unwrap(),
        };
        let mut got_sorted = got.clone();
        got_sorted.sort_by_key(|(ts, _)| *ts);
        assert_eq!(got, got_sorted, "{context}: space s{space} out of order");
        let (mut got, mut expected) = (got, expected);
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{context}: space s{space}");
    }
    let report = store.verify();
    assert!(report.is_ok(), "{context}: {report:?}");
    store.close().unwrap();
    next
}

#[test]
fn sigkill_during_sync_appends_keeps_every_acknowledged_event_once_in_order() {
    let s = Scratch::new();
    let dir = s.path("store");
    let mut acked: Option<u64> = None;
    let kills = 8u32;
    for round in 0..kills {
        let start = check_store(&dir, acked, &format!("before round {round}"));
        // Lines not in the log were never acknowledged; the producer sends them again.
        let next_line = start;
        let mut child = esdb()
            .args(["store", "append"])
            .arg(&dir)
            .args(["--durability", "sync", "--space", "s", "--timestamp", "t", "--index", "k", "--id", "id"])
            .args(["--partition-window", "100"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let mut stdin = child.stdin.take().unwrap();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = next_line;
                while !stop.load(Ordering::Relaxed) {
                    let chunk: String = (n..n + 50).map(line).collect();
                    if stdin.write_all(chunk.as_bytes()).is_err() {
                        break;
                    }
                    n += 50;
                    std::thread::sleep(Duration::from_micros(300));
                }
            })
        };
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut durable = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value: serde_json::Value = serde_json::from_str(&line).expect("one JSON object per line");
                durable = Some(value["durable_through"].as_u64().expect("durable_through"));
            }
            durable
        });
        std::thread::sleep(Duration::from_millis(40 + 37 * u64::from(round)));
        child.kill().unwrap();
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap();
        if let Some(durable) = reader.join().unwrap() {
            assert!(acked.is_none_or(|a| durable >= a), "durable_through went backwards");
            acked = Some(durable);
        }
    }
    let end = check_store(&dir, acked, "after the last kill");
    assert!(acked.is_some() && end > 0, "the children acknowledged nothing");
}

#[test]
fn sigkill_during_seal_and_compact_leaves_a_store_that_answers_exactly() {
    let s = Scratch::new();
    let dir = s.path("store");
    let mut fed = 0u64;
    let kills = 6u32;
    for round in 0..kills {
        // Events for the round, through a complete (unkilled) append.
        let input: String = (fed..fed + 15_000).map(line).collect();
        let mut child = esdb()
            .args(["store", "append"])
            .arg(&dir)
            .args(["--durability", "buffered", "--space", "s", "--timestamp", "t", "--index", "k"])
            .args(["--partition-window", "100"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        fed += 15_000;

        let command = if round % 2 == 0 { "seal" } else { "compact" };
        let started = Instant::now();
        let mut child = esdb().args(["store", command]).arg(&dir).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(5 + 23 * u64::from(round)));
        child.kill().unwrap();
        child.wait().unwrap();
        let context = format!("{command} killed after {:?}", started.elapsed());
        assert_eq!(check_store(&dir, Some(fed - 1), &context), fed, "{context}");
    }
}
