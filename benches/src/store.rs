//! `esdb-bench store`: the live store's append, group commit, follow latency and seal figures.

use std::sync::Arc;
use std::time::{Duration, Instant};

use esdb_bench::Visits;
use esdb_store::{Durability, NewEvent, Store, StoreOptions};
use esdb_write::Writer;

use crate::AnyResult;

/// No automatic seals: the whole run stays in the tail (a budget large enough for it).
fn options(durability: Durability) -> StoreOptions {
    StoreOptions::default()
        .with_durability(durability)
        .with_seal_after_bytes(None)
        .with_seal_after_age(None)
        .with_memory_budget(4 << 30)
}

/// `visits` events in layout L2 (space = visitor, index city), pre-built.
fn events(n: usize) -> Vec<NewEvent> {
    Visits::new(20_000, 1).take(n).map(|v| NewEvent::new(v.visitor, v.ts, v.data).index("city", v.city)).collect()
}

fn rate(n: usize, elapsed: Duration) -> String {
    format!("{:.2} M events/s", n as f64 / elapsed.as_secs_f64() / 1e6)
}

pub fn run(n: usize) -> AnyResult<()> {
    let events = events(n);
    let bytes: usize = events.iter().map(|e| e.data.len()).sum();
    println!("store benchmark: {n} visits events ({} bytes of data each on average)\n", bytes / n.max(1));
    println!("| measure | figure | target |");
    println!("|---|---|---|");

    // Buffered, one producer, one append call per event.
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), options(Durability::Buffered { interval: Duration::from_millis(100) }))?;
    // The producer owns its events: cloning them is not the store's work.
    let owned = events.clone();
    let start = Instant::now();
    for event in owned {
        store.append(event)?;
    }
    store.sync()?;
    let buffered = start.elapsed();
    println!(
        "| buffered appends, 1 producer, one call per event (incl. final fsync) | {} | ≥ 1 M/s |",
        rate(n, buffered)
    );

    // The same with the default options: seals and compactions run on their own meanwhile.
    let auto_dir = tempfile::tempdir()?;
    let auto = Store::open(auto_dir.path(), StoreOptions::default())?;
    let owned = events.clone();
    let start = Instant::now();
    for event in owned {
        auto.append(event)?;
    }
    auto.sync()?;
    let with_seals = start.elapsed();
    let info = auto.info()?;
    println!(
        "| buffered appends, default options (sealed {} events into {} partitions meanwhile) | {} | ≥ 1 M/s |",
        info.manifest.sealed_through,
        info.manifest.partitions.len(),
        rate(n, with_seals)
    );
    drop(auto);

    // Seal of those events versus the plain writer on the same events.
    let start = Instant::now();
    let report = store.seal()?;
    let seal = start.elapsed();
    assert_eq!(report.events as usize, n);
    drop(store);
    let plain_dir = tempfile::tempdir()?;
    let start = Instant::now();
    let mut writer = Writer::create(plain_dir.path().join("plain.esdb"))?;
    for event in &events {
        writer.add(&event.space, event.timestamp, &event.grouping, event.indexes.iter().cloned(), &event.data)?;
    }
    writer.finish()?;
    let plain = start.elapsed();
    println!(
        "| seal ({} partitions) vs plain writer | {} vs {} ({:.0}%) | ≥ 50% |",
        report.partitions.len(),
        rate(n, seal),
        rate(n, plain),
        100.0 * plain.as_secs_f64() / seal.as_secs_f64()
    );

    // Sync appends with group commit: 8 producers, batches of 100 and single events.
    for (batch, total) in [(100usize, n.min(400_000)), (1, 8 * 500)] {
        let dir = tempfile::tempdir()?;
        let store = Arc::new(Store::open(dir.path(), options(Durability::Sync))?);
        let per_producer = total / 8;
        let chunks: Vec<Vec<NewEvent>> =
            (0..8).map(|p| events[p * per_producer..(p + 1) * per_producer].to_vec()).collect();
        let start = Instant::now();
        let threads: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let store = store.clone();
                std::thread::spawn(move || -> Result<(), esdb_store::Error> {
                    for slice in chunk.chunks(batch) {
                        store.append_batch(slice)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("producer")?;
        }
        let elapsed = start.elapsed();
        let target = if batch > 1 { "≥ 200 k/s" } else { "(fsync-bound)" };
        println!("| sync appends, 8 producers, batches of {batch} | {} | {target} |", rate(8 * per_producer, elapsed));
    }

    // Follow latency, buffered: appends spaced 100 µs apart, each carrying its send time.
    let dir = tempfile::tempdir()?;
    let store =
        Arc::new(Store::open(dir.path(), options(Durability::Buffered { interval: Duration::from_millis(100) }))?);
    let latencies = follow_latency(&store, store.follow(0)?, 20_000, Duration::from_micros(100))?;
    println!("| follower sees a buffered append: p50 / p99 / max | {} | p99 ≤ 10 ms |", quantiles(latencies));
    drop(store);

    // A follower in another process (a read-only store: it reads the files) sees a sync append.
    let dir = tempfile::tempdir()?;
    let store = Arc::new(Store::open(dir.path(), options(Durability::Sync))?);
    let reader = Store::open_read_only(dir.path())?;
    let latencies = follow_latency(&store, reader.follow(0)?, 2_000, Duration::from_millis(2))?;
    println!(
        "| follower in another process (read-only store) sees a sync append, fsync included: p50 / p99 / max | {} | p99 ≤ 10 ms |",
        quantiles(latencies)
    );
    drop(store);

    // Replay and catch-up over many partitions, and opening beside a large retained log.
    for partitions in [0usize, 50, 500] {
        let dir = tempfile::tempdir()?;
        let window = if partitions == 0 { i64::MAX / 4 } else { (n as i64 / partitions as i64).max(1) };
        let sealed_events: Vec<NewEvent> =
            events.iter().enumerate().map(|(i, e)| NewEvent { timestamp: i as i64, ..e.clone() }).collect();
        let store = Store::open(
            dir.path(),
            // Room for the whole log unsealed: the 0-partition case keeps it all in the tail.
            options(Durability::Buffered { interval: Duration::from_millis(100) })
                .with_partition_window(Some(window))
                .with_auto_compact(false)
                .with_memory_budget(4 << 30),
        )?;
        for chunk in sealed_events.chunks(10_000) {
            store.append_batch(chunk)?;
        }
        if partitions > 0 {
            store.seal()?;
        }
        store.close()?;
        let start = Instant::now();
        let reader = Store::open_read_only(dir.path())?;
        let opened = start.elapsed();
        let start = Instant::now();
        let replayed = reader.read_from(0)?.try_fold(0usize, |n, e| e.map(|_| n + 1))?;
        let replay = start.elapsed();
        let mut follower = reader.follow(0)?;
        let start = Instant::now();
        let mut followed = 0usize;
        while followed < n {
            follower.next_timeout(Duration::from_secs(10))?.expect("the whole log is there");
            followed += 1;
        }
        let follow = start.elapsed();
        assert_eq!(replayed, n);
        let kept = reader.info()?.manifest.partitions.len();
        println!(
            "| {kept} partitions: read-only open / replay from 0 / cross-process follower catching up | {:.1} ms / {} / {} | replay ≥ 1 M/s |",
            opened.as_secs_f64() * 1e3,
            rate(n, replay),
            rate(n, follow)
        );
    }
    Ok(())
}

/// Appends `samples` events to `store`, one every `spacing`, each carrying its send time, and
/// returns how long each took to reach `follower`, in nanoseconds.
fn follow_latency(
    store: &Store,
    mut follower: esdb_store::LogReader,
    samples: usize,
    spacing: Duration,
) -> AnyResult<Vec<u64>> {
    let base = Instant::now();
    let receiver = std::thread::spawn(move || -> Result<Vec<u64>, esdb_store::Error> {
        let mut latencies = Vec::with_capacity(samples);
        while latencies.len() < samples {
            let event = follower.next_timeout(Duration::from_secs(10))?.expect("events keep coming");
            let sent = u64::from_le_bytes(event.data[..8].try_into().expect("8 bytes"));
            latencies.push(base.elapsed().as_nanos() as u64 - sent);
        }
        Ok(latencies)
    });
    for i in 0..samples {
        let sent = base.elapsed().as_nanos() as u64;
        let mut data = sent.to_le_bytes().to_vec();
        data.resize(130, b'x');
        store.append(NewEvent::new("s", i as i64, data))?;
        if let Some(wait) = (spacing * (i as u32 + 1)).checked_sub(base.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    Ok(receiver.join().expect("follower")?)
}

/// `p50 / p99 / max` of latencies in nanoseconds.
fn quantiles(mut latencies: Vec<u64>) -> String {
    latencies.sort_unstable();
    let at = |q: f64| Duration::from_nanos(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    format!("{:?} / {:?} / {:?}", at(0.5), at(0.99), at(1.0))
}
