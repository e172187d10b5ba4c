//! The benchmark harness, on generated `visits` data.
//!
//! ```text
//! cargo run --release -p esdb-bench -- [compare] [--events N]   # ESDB vs SQLite, markdown table
//! cargo run --release -p esdb-bench -- overhead  [--events N]
//! cargo run --release -p esdb-bench -- blocksize [--events N]
//! cargo run --release -p esdb-bench -- write     [--events N] [--memory MIB]
//! cargo run --release -p esdb-bench -- store     [--events N]   # the live store (esdb-store)
//! cargo run --release -p esdb-bench -- codecs    [--events N] [--dump DIR]   # LZ4 vs zstd
//! ```

mod codecs;
mod compare;
mod remote;
mod store;

use std::path::Path;
use std::time::Instant;

use esdb_bench::{Activities, Visit, Visits};
use esdb_read::Db;
use esdb_write::{Writer, WriterOptions};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn arg(args: &[String], name: &str, default: u64) -> AnyResult<u64> {
    match args.iter().position(|a| a == name) {
        Some(pos) => Ok(args.get(pos + 1).ok_or(format!("{name} needs a value"))?.parse()?),
        None => Ok(default),
    }
}

/// Layout L1: space `visit`, grouping host, indexes visitor and city.
fn write_l1(path: &Path, visits: impl Iterator<Item = Visit>, options: WriterOptions) -> AnyResult<()> {
    let mut writer = Writer::create_with(path, options)?;
    for v in visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    Ok(())
}

/// Layout L2: space visitor, default grouping, index city.
fn write_l2(path: &Path, visits: impl Iterator<Item = Visit>, options: WriterOptions) -> AnyResult<()> {
    let mut writer = Writer::create_with(path, options)?;
    for v in visits {
        writer.add(&v.visitor, v.ts, "", [("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    Ok(())
}

fn report_overhead(label: &str, path: &Path) -> AnyResult<()> {
    let db = Db::open(path)?;
    let report = db.verify();
    assert!(report.is_ok(), "{:?}", report.problems);
    let data = report.sections.get("data block").copied().unwrap_or_default();
    let postings = report.sections.get("posting block").copied().unwrap_or_default();
    let per_event = (data.raw_bytes - report.data_bytes) as f64 / report.n_events as f64;
    let per_event_framed = (data.raw_bytes + data.n_blocks * 13 - report.data_bytes) as f64 / report.n_events as f64;
    let per_posting = if report.n_postings > 0 { postings.raw_bytes as f64 / report.n_postings as f64 } else { 0.0 };
    println!(
        "| {label} | {} | {:.1} MB | {:.2} | {:.2} | {:.2} | {:.2} |",
        report.n_events,
        db.file_len() as f64 / 1e6,
        per_event,
        per_event_framed,
        per_posting,
        data.raw_bytes as f64 / data.stored_bytes as f64,
    );
    Ok(())
}

fn overhead(n: usize) -> AnyResult<()> {
    let dir = tempfile::tempdir()?;
    println!("| file | events | size | data-block bytes/event (raw, before compression) | same incl. block trailers | posting bytes/posting (raw) | data compression ratio |");
    println!("|---|---|---|---|---|---|---|");
    let l1 = dir.path().join("l1.esdb");
    write_l1(&l1, Visits::new(20_000, 1).take(n), WriterOptions::default())?;
    report_overhead("visits L1 (space visit, grouping host, index visitor+city)", &l1)?;
    let l2 = dir.path().join("l2.esdb");
    write_l2(&l2, Visits::new(20_000, 1).take(n), WriterOptions::default())?;
    report_overhead("visits L2 (space visitor, index city)", &l2)?;
    // A dense index: every event of one space carries the same value.
    let dense = dir.path().join("dense.esdb");
    let mut writer = Writer::create(&dense)?;
    for (seq, v) in Visits::new(20_000, 1).take(n).enumerate() {
        writer.add("all", 1_700_000_000 + seq as i64, "", [("type", "visit")], &v.data)?;
    }
    writer.finish()?;
    report_overhead("one space, sequential seconds, dense index type=visit", &dense)?;
    // Small spaces: the `activity` dataset of `cargo xtask gen activity --events 20000` (8,295
    // customers, 2.4 events each), as `esdb import --space customer --index type` stores it.
    let activity = dir.path().join("activity.esdb");
    let mut writer = Writer::create(&activity)?;
    for a in Activities::new(20_000, 1).take(20_000) {
        writer.add(&a.customer, a.ts, "", [("type", a.kind)], a.data.as_bytes())?;
    }
    writer.finish()?;
    report_overhead("activity, 20,000 events (8,295 spaces of 2.4 events, index type)", &activity)?;
    Ok(())
}

fn time_it<T>(f: impl FnMut() -> T) -> f64 {
    let mut f = f;
    let mut best = f64::MAX;
    let mut samples = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        std::hint::black_box(f());
        let secs = start.elapsed().as_secs_f64();
        samples.push(secs);
        best = best.min(secs);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn blocksize(n: usize) -> AnyResult<()> {
    let dir = tempfile::tempdir()?;
    let visits: Vec<Visit> = Visits::new(20_000, 1).take(n).collect();
    println!("| block size | L1 file | L2 file | L1 scan all groupings (M events/s) | L2 scan all spaces (M events/s) | L2 lookup + first event (µs) |");
    println!("|---|---|---|---|---|---|");
    for kib in [4usize, 8, 16, 32, 64, 128] {
        let options = WriterOptions::default().with_block_size(kib * 1024);
        let l1 = dir.path().join(format!("l1-{kib}.esdb"));
        let l2 = dir.path().join(format!("l2-{kib}.esdb"));
        write_l1(&l1, visits.iter().cloned(), options.clone())?;
        write_l2(&l2, visits.iter().cloned(), options)?;
        let db1 = Db::open(&l1)?;
        let space = db1.space("visit")?.ok_or("missing space")?;
        let names: Vec<_> = space.groupings().map(|g| g.map(|g| g.name)).collect::<Result<_, _>>()?;
        let scan_l1 = time_it(|| {
            names.iter().map(|g| space.scan(g).unwrap().map(|e| e.unwrap().data().len()).sum::<usize>()).sum::<usize>()
        });
        let db2 = Db::open(&l2)?;
        let scan_l2 = time_it(|| {
            db2.spaces()
                .map(|s| s.unwrap().scan("").unwrap().map(|e| e.unwrap().data().len()).sum::<usize>())
                .sum::<usize>()
        });
        let ids: Vec<String> = (0..1000).map(|i| format!("visitor{}", i * 7)).collect();
        let lookup = time_it(|| {
            ids.iter()
                .filter_map(|id| db2.space(id).unwrap())
                .map(|s| s.scan("").unwrap().next().unwrap().unwrap().timestamp())
                .sum::<i64>()
        });
        let found = ids.iter().filter(|id| db2.space(id).unwrap().is_some()).count();
        println!(
            "| {kib} KiB | {:.1} MB | {:.1} MB | {:.1} | {:.1} | {:.2} |",
            db1.file_len() as f64 / 1e6,
            db2.file_len() as f64 / 1e6,
            n as f64 / scan_l1 / 1e6,
            n as f64 / scan_l2 / 1e6,
            lookup / found as f64 * 1e6,
        );
    }
    Ok(())
}

fn write(n: usize, memory_mib: usize) -> AnyResult<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.esdb");
    let options = WriterOptions::default().with_memory_budget(memory_mib << 20);
    let start = Instant::now();
    write_l1(&path, Visits::new(20_000, 1).take(n), options)?;
    let secs = start.elapsed().as_secs_f64();
    let len = std::fs::metadata(&path)?.len();
    println!("wrote {n} events (layout L1) under a {memory_mib} MiB budget in {secs:.1} s ({:.0} events/s, generation included): {:.1} MB", n as f64 / secs, len as f64 / 1e6);
    let db = Db::open(&path)?;
    assert_eq!(db.len(), n as u64);
    Ok(())
}

/// Runs one operation many times, for `perf` or `valgrind --tool=callgrind`, and prints its rate:
/// `scan`, `scan-ref`, `lookup`, `index`, `list` (making the grouping scans), `parallel`,
/// `lz4-threads`, or `write` (1M L1 events; `write:MIB` sets the memory budget).
///
/// With `--files DIR` the two files are kept in `DIR` and reused by later runs, so a profiler
/// records only the operation. With `--covering-timeline` the L1 file covers its timeline
/// (`WriterOptions::covering_timeline`), so `events` reads the space's own copy in time order.
fn profile(what: &str, n: usize, files: Option<&str>, covering_timeline: bool) -> AnyResult<()> {
    let temp = tempfile::tempdir()?;
    let dir = files.map_or(temp.path(), Path::new);
    let l1 = dir.join(if covering_timeline { format!("l1-timeline-{n}.esdb") } else { format!("l1-{n}.esdb") });
    let l2 = dir.join(format!("l2-{n}.esdb"));
    if !l1.exists() {
        let options = WriterOptions::default().with_covering_timeline(covering_timeline);
        write_l1(&l1, Visits::new(20_000, 1).take(n), options)?;
    }
    if !l2.exists() {
        write_l2(&l2, Visits::new(20_000, 1).take(n), WriterOptions::default())?;
    }
    run_profile(what, &l1, &l2)
}

/// The measured part of [`profile`]; callgrind can collect only this with
/// `--toggle-collect='*run_profile*'`.
#[inline(never)]
fn run_profile(what: &str, l1: &Path, l2: &Path) -> AnyResult<()> {
    if let Some(memory_budget) = what.strip_prefix("write") {
        // Events are generated before the clock starts, as in the comparison.
        let visits = esdb_bench::visits(1_000_000, 20_000, 1);
        let options = match memory_budget.strip_prefix(':') {
            Some(mib) => WriterOptions::default().with_memory_budget(mib.parse::<usize>()? << 20),
            None => WriterOptions::default(),
        };
        let dir = tempfile::tempdir()?;
        let start = std::time::Instant::now();
        let mut writer = Writer::create_with(dir.path().join("w.esdb"), options)?;
        for v in &visits {
            writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
        }
        writer.finish()?;
        println!("write: {:.2} M events/s", visits.len() as f64 / start.elapsed().as_secs_f64() / 1e6);
        return Ok(());
    }
    let db = Db::open(l1)?;
    let space = db.space("visit")?.ok_or("missing space")?;
    let mut total = 0usize;
    match what {
        "scan" => {
            let start = std::time::Instant::now();
            for _ in 0..10 {
                for grouping in space.grouping_scans() {
                    total += grouping?.1.map(|e| e.map(|e| e.data().len())).sum::<esdb_read::Result<usize>>()?;
                }
            }
            println!("scan: {:.2} M events/s", 10.0 * space.len() as f64 / start.elapsed().as_secs_f64() / 1e6);
        }
        "scan-ref" => {
            let start = std::time::Instant::now();
            for _ in 0..10 {
                for grouping in space.grouping_scans() {
                    let mut scan = grouping?.1;
                    while let Some(event) = scan.next_ref() {
                        total += event?.data().len();
                    }
                }
            }
            println!("scan-ref: {:.2} M events/s", 10.0 * space.len() as f64 / start.elapsed().as_secs_f64() / 1e6);
        }
        "parallel" => {
            // The groupings read by 1 and 2 threads, each listing and draining its part
            // (`Space::grouping_scans_part`) with borrowed events. THREADS=n runs only n threads,
            // 30 times, for perf.
            let only: Option<usize> = std::env::var("THREADS").ok().map(|v| v.parse().unwrap());
            for threads in [1usize, 2].into_iter().filter(|t| only.is_none_or(|o| o == *t)) {
                let mut best = f64::MAX;
                for _ in 0..if only.is_some() { 30 } else { 5 } {
                    let start = std::time::Instant::now();
                    total += esdb_bench::read_in_parts(&space, threads);
                    best = best.min(start.elapsed().as_secs_f64());
                }
                println!("parallel: {threads} threads read the groupings in {:.1} ms", best * 1e3);
            }
        }
        "lz4-threads" => {
            // What the machine gives two threads on the scan's main work: plain LZ4 decompression
            // of the same JSON in 32 KiB blocks, each thread taking every other block, five times.
            let json: Vec<u8> = esdb_bench::visits(1_000_000, 20_000, 1).iter().flat_map(|v| v.data.bytes()).collect();
            let blocks: Vec<Vec<u8>> = json.chunks(32 * 1024).map(lz4_flex::block::compress).collect();
            for threads in [1usize, 2] {
                let start = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for first in 0..threads {
                        let blocks = &blocks;
                        scope.spawn(move || {
                            let mut out = vec![0u8; 32 * 1024];
                            for _ in 0..5 {
                                for block in blocks.iter().skip(first).step_by(threads) {
                                    lz4_flex::block::decompress_into(block, &mut out).expect("compressed above");
                                }
                            }
                        });
                    }
                });
                println!("lz4-threads: {threads} threads in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
            }
        }
        "list" => {
            let start = std::time::Instant::now();
            for _ in 0..10 {
                total += space.grouping_scans().count();
            }
            println!("list: {:.2} ms per listing of {} groupings", start.elapsed().as_secs_f64() * 100.0, total / 10);
        }
        "lookup" => {
            let db2 = Db::open(l2)?;
            let ids: Vec<String> = (0..5000).map(|i| format!("visitor{i}")).collect();
            let start = std::time::Instant::now();
            for i in 0..100_000 {
                if let Some(space) = db2.space(&ids[i % ids.len()])? {
                    total += space.scan("")?.next().transpose()?.map_or(0, |e| e.data().len());
                }
            }
            println!("lookup + first event: {:.2} µs mean", start.elapsed().as_secs_f64() * 1e6 / 100_000.0);
            // The same lookups stopped after each phase.
            let phase = |name: &str, f: &dyn Fn(&str) -> esdb_read::Result<usize>| -> AnyResult<usize> {
                let start = std::time::Instant::now();
                let mut total = 0;
                for i in 0..100_000 {
                    total += f(&ids[i % ids.len()])?;
                }
                println!("  {name}: {:.2} µs mean", start.elapsed().as_secs_f64() * 1e6 / 100_000.0);
                Ok(total)
            };
            total += phase("space", &|id| Ok(db2.space(id)?.map_or(0, |s| s.len() as usize)))?;
            total += phase("space + scan", &|id| {
                Ok(db2.space(id)?.map(|s| s.scan("")).transpose()?.map_or(0, |s| s.size_hint().0))
            })?;
        }
        "index" => {
            let (start, mut n) = (std::time::Instant::now(), 0usize);
            for _ in 0..3 {
                for event in space.scan_index("city", "Paris")? {
                    total += event?.data().len();
                    n += 1;
                }
            }
            println!("index: {:.2} M events/s", n as f64 / start.elapsed().as_secs_f64() / 1e6);
        }
        "events" | "events-rev" => {
            // The merged timeline of all groupings (`Space::events`, what `esdb scan` reads).
            let (start, mut n) = (std::time::Instant::now(), 0usize);
            for _ in 0..3 {
                let mut scan = space.events()?;
                loop {
                    let event = if what == "events" { scan.next_ref() } else { scan.next_back_ref() };
                    let Some(event) = event else { break };
                    total += event?.data().len();
                    n += 1;
                }
            }
            println!("{what}: {:.2} M events/s", n as f64 / start.elapsed().as_secs_f64() / 1e6);
        }
        other => {
            return Err(format!(
                "unknown profile {other:?}: scan, scan-ref, events, events-rev, lookup, index, list, parallel, lz4-threads or write[:MIB]"
            )
            .into())
        }
    }
    println!("{total}");
    Ok(())
}

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events = arg(&args, "--events", 1_000_000)? as usize;
    match args.first().map(String::as_str) {
        Some("overhead") => overhead(events),
        Some("blocksize") => blocksize(events),
        Some("write") => write(events, arg(&args, "--memory", 64)? as usize),
        Some("compare") | Some("--events") | None => compare::run(events),
        Some("store") => store::run(events),
        Some("remote") => remote::run(events),
        Some("codecs") => {
            let dump = args.iter().position(|a| a == "--dump").and_then(|pos| args.get(pos + 1));
            codecs::run(events, dump.map(String::as_str))
        }
        Some("profile") => {
            let files = args.iter().position(|a| a == "--files").and_then(|pos| args.get(pos + 1));
            let covering_timeline = args.iter().any(|a| a == "--covering-timeline");
            profile(
                args.get(1).map(String::as_str).unwrap_or("scan"),
                events,
                files.map(String::as_str),
                covering_timeline,
            )
        }
        _ => {
            Err("usage: esdb-bench [compare|overhead|blocksize|write|store|codecs|remote] [--events N] [--memory MIB]"
                .into())
        }
    }
}
