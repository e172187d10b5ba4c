//! `esdb-bench remote`: reading in place from an S3 server on loopback (`.ci/s3-server start DIR`,
//! then `source DIR/env`), against the same files read locally and a plain ranged download.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esdb_bench::{Visit, Visits};
use esdb_object_store::object_store::aws::AmazonS3Builder;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ClientOptions, ObjectStore, ObjectStoreExt};
use esdb_object_store::{open_object, ObjectSourceOptions};
use esdb_read::Db;
use esdb_write::Writer;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn store_from_env() -> AnyResult<Arc<dyn ObjectStore>> {
    let var = |name: &str| {
        std::env::var(name)
            .map_err(|_| format!("{name} is not set: `.ci/s3-server start DIR` and `source DIR/env` first"))
    };
    let store = AmazonS3Builder::new()
        .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(60)))
        .with_endpoint(var("ESDB_TEST_S3_ENDPOINT")?)
        .with_access_key_id(var("ESDB_TEST_S3_ACCESS_KEY")?)
        .with_secret_access_key(var("ESDB_TEST_S3_SECRET_KEY")?)
        .with_bucket_name(var("ESDB_TEST_S3_BUCKET")?)
        .with_region("us-east-1")
        .with_allow_http(true)
        .build()?;
    Ok(Arc::new(store))
}

fn percentile(sorted: &[f64], pct: usize) -> f64 {
    sorted[(sorted.len() * pct / 100).min(sorted.len() - 1)]
}

/// Bytes of every event of every space, in storage order (grouping by grouping).
fn full_scan(db: &Db) -> (u64, usize) {
    let (mut events, mut bytes) = (0u64, 0usize);
    for space in db.spaces() {
        for grouping in space.unwrap().grouping_scans() {
            let mut scan = grouping.unwrap().1;
            while let Some(event) = scan.next_ref() {
                events += 1;
                bytes += event.unwrap().data().len();
            }
        }
    }
    (events, bytes)
}

pub fn run(n: usize) -> AnyResult<()> {
    let store = store_from_env()?;
    eprintln!("generating {n} visits ...");
    let visits: Vec<Visit> = Visits::new(20_000, 1).take(n).collect();
    let dir = tempfile::tempdir()?;
    let (l1, l2) = (dir.path().join("l1.esdb"), dir.path().join("l2.esdb"));
    let mut writer = Writer::create(&l1)?;
    for v in &visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    let mut writer = Writer::create(&l2)?;
    for v in &visits {
        writer.add(&v.visitor, v.ts, "", [("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    let prefix = format!("bench-{}", std::process::id());
    let (key1, key2) = (Path::from(format!("{prefix}/l1.esdb")), Path::from(format!("{prefix}/l2.esdb")));
    eprintln!("uploading ...");
    esdb_object_store::upload_to(store.clone(), key1.clone(), &l1, "s3://bench/l1.esdb")?;
    esdb_object_store::upload_to(store.clone(), key2.clone(), &l2, "s3://bench/l2.esdb")?;
    let l2_len = std::fs::metadata(&l2)?.len();
    let mut visitors: Vec<&str> = visits.iter().map(|v| v.visitor.as_str()).collect();
    visitors.sort_unstable();
    visitors.dedup();

    eprintln!("cold lookups ...");
    let (mut cold_us, mut cold_requests, mut cold_bytes) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..200 {
        let visitor = visitors[(i * 7919) % visitors.len()];
        let start = Instant::now();
        let (db, source) =
            open_object(store.clone(), key2.clone(), "s3://bench/l2.esdb", ObjectSourceOptions::default())?;
        let event = db.space(visitor)?.ok_or("missing visitor")?.events()?.next().ok_or("empty space")??;
        std::hint::black_box(event);
        cold_us.push(start.elapsed().as_secs_f64() * 1e6);
        cold_requests.push(source.stats().requests as f64);
        cold_bytes.push(source.stats().bytes as f64);
    }
    cold_us.sort_by(f64::total_cmp);
    cold_requests.sort_by(f64::total_cmp);
    cold_bytes.sort_by(f64::total_cmp);

    eprintln!("warm lookups ...");
    let (db, source) = open_object(store.clone(), key2.clone(), "s3://bench/l2.esdb", ObjectSourceOptions::default())?;
    let mut warm_us = Vec::new();
    for i in 0..5_000 {
        let visitor = visitors[(i * 104_729) % visitors.len()];
        let start = Instant::now();
        let event = db.space(visitor)?.ok_or("missing visitor")?.events()?.next().ok_or("empty space")??;
        std::hint::black_box(event);
        warm_us.push(start.elapsed().as_secs_f64() * 1e6);
    }
    warm_us.sort_by(f64::total_cmp);
    let warm = source.stats();

    eprintln!("full scans ...");
    let l1_len = std::fs::metadata(&l1)?.len();
    let mut remote_secs = Vec::new();
    let mut remote_stats = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let (db, source) =
            open_object(store.clone(), key1.clone(), "s3://bench/l1.esdb", ObjectSourceOptions::default())?;
        let (events, _) = full_scan(&db);
        assert_eq!(events, n as u64);
        remote_secs.push(start.elapsed().as_secs_f64());
        remote_stats.push(source.stats());
    }
    let local = Db::open(&l1)?;
    let mut local_secs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        std::hint::black_box(full_scan(&local));
        local_secs.push(start.elapsed().as_secs_f64());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut plain_secs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let store = store.clone();
        let key = key1.clone();
        runtime.block_on(async move {
            let chunk = 8u64 << 20;
            let mut at = 0;
            while at < l1_len {
                let end = (at + chunk).min(l1_len);
                std::hint::black_box(store.get_range(&key, at..end).await.unwrap());
                at = end;
            }
        });
        plain_secs.push(start.elapsed().as_secs_f64());
    }
    let mut raw_secs = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        let source = esdb_object_store::ObjectSource::open(
            store.clone(),
            key1.clone(),
            "s3://bench/l1.esdb",
            ObjectSourceOptions::default(),
        )?;
        let mut at = 0;
        while at < l1_len {
            let len = (32 * 1024).min(l1_len - at);
            std::hint::black_box(esdb_read::Source::read(&source, at, len as usize)?);
            at += len;
        }
        raw_secs.push(start.elapsed().as_secs_f64());
    }
    for times in [&mut remote_secs, &mut local_secs, &mut plain_secs, &mut raw_secs] {
        times.sort_by(f64::total_cmp);
    }
    let (remote, local, plain) = (remote_secs[1], local_secs[1], plain_secs[1]);
    let scan_stats = remote_stats[1];
    let mb = |bytes: u64, secs: f64| bytes as f64 / secs / 1e6;

    println!("{n} `visits` events; S3 server on loopback (SeaweedFS); medians.\n");
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| cold open + lookup + first event, L2 ({:.1} MB, 20,000 spaces): requests p50 / max | {} / {} |",
        l2_len as f64 / 1e6,
        percentile(&cold_requests, 50),
        cold_requests[cold_requests.len() - 1]
    );
    println!(
        "| same: bytes fetched p50 (of the file) | {:.0} KB ({:.1}%) |",
        percentile(&cold_bytes, 50) / 1e3,
        percentile(&cold_bytes, 50) * 100.0 / l2_len as f64
    );
    println!(
        "| same: latency p50 / p99 | {:.2} ms / {:.2} ms |",
        percentile(&cold_us, 50) / 1e3,
        percentile(&cold_us, 99) / 1e3
    );
    println!(
        "| warm lookup + first event (one source, 5,000 lookups): p50 / p99 | {:.1} µs / {:.1} µs |",
        percentile(&warm_us, 50),
        percentile(&warm_us, 99)
    );
    println!(
        "| same: reads served by the cache | {:.1}% ({} requests, {:.1} MB) |",
        warm.hits as f64 * 100.0 / (warm.hits + warm.misses) as f64,
        warm.requests,
        warm.bytes as f64 / 1e6
    );
    println!(
        "| full scan of L1 ({:.1} MB) from S3: throughput | {:.0} MB/s ({:.2} M events/s) |",
        l1_len as f64 / 1e6,
        mb(l1_len, remote),
        n as f64 / remote / 1e6
    );
    println!(
        "| same: requests, mean request size | {} requests, {:.2} MiB |",
        scan_stats.requests,
        scan_stats.bytes as f64 / scan_stats.requests as f64 / (1 << 20) as f64
    );
    println!("| plain ranged download of the same bytes (8 MiB GETs, one at a time) | {:.0} MB/s |", mb(l1_len, plain));
    println!("| full scan from S3 / plain download | {:.0}% |", plain / remote * 100.0);
    println!(
        "| the source alone: 32 KiB reads from start to end, nothing decoded | {:.0} MB/s ({:.0}% of the plain download) |",
        mb(l1_len, raw_secs[1]),
        plain / raw_secs[1] * 100.0
    );
    println!(
        "| full scan of the local file | {:.0} MB/s ({:.2} M events/s) |",
        mb(l1_len, local),
        n as f64 / local / 1e6
    );
    Ok(())
}
