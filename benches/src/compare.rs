//! The comparison harness: ESDB and SQLite on the same generated `visits`, in one process run,
//! printed as a markdown table with ESDB's ratio to SQLite, plus ESDB's scan throughput as a
//! fraction of plain LZ4 decompression of the same data bytes (the practical ceiling).

use std::path::Path;
use std::time::Instant;

use esdb_bench::{Rng, Visit, Visits};
use esdb_read::Db;
use esdb_write::{Writer, WriterOptions};
use rusqlite::{params, Connection};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Median wall time of `runs` calls, in seconds.
pub(crate) fn median(runs: usize, mut f: impl FnMut() -> usize) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64()
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// p50 and p99 of `f` over `samples` calls, in microseconds.
fn latency(mut f: impl FnMut(usize) -> usize, samples: usize) -> (f64, f64) {
    let mut times: Vec<f64> = (0..samples)
        .map(|idx| {
            let start = Instant::now();
            std::hint::black_box(f(idx));
            start.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[samples / 2], times[samples * 99 / 100])
}

struct Figures {
    write_eps: f64,
    file_bytes: u64,
    full_scan_eps: f64,
    full_scan_rev_eps: f64,
    /// ESDB only: the full scans through the borrowing `Scan::next_ref` / `next_back_ref`.
    full_scan_ref_eps: f64,
    full_scan_ref_rev_eps: f64,
    grouping_scan_eps: f64,
    index_scan_eps: f64,
    /// The five most frequent cities, one index scan each.
    five_cities_secs: f64,
    /// ESDB only: L1 written with `covering_indexes: city`.
    covered: Option<Covered>,
    /// ESDB only: `Space::events()` on L1, and on L1 written with `covering_timeline`.
    timeline: Option<Timeline>,
    lookup_p50_us: f64,
    lookup_p99_us: f64,
    range_query_us: f64,
}

/// The dense index scans of L1 with city covered, and what covering costs.
struct Covered {
    file_bytes: u64,
    index_scan_eps: f64,
    index_scan_ref_eps: f64,
    five_cities_secs: f64,
}

/// The merged timeline of L1's space (`Space::events`, what `esdb scan SPACE` reads), through the
/// timeline postings and through a covering timeline, and what covering costs.
struct Timeline {
    events_ref_eps: f64,
    covered_events_ref_eps: f64,
    covered_file_bytes: u64,
}

/// One pass over `space.events()` with borrowed events.
fn drain_events(space: &esdb_read::Space) -> usize {
    let mut scan = space.events().unwrap();
    let mut total = 0;
    while let Some(event) = scan.next_ref() {
        total += event.unwrap().data().len();
    }
    total
}

fn timeline(visits: &[Visit], dir: &Path, plain: &esdb_read::Space) -> AnyResult<Timeline> {
    let path = dir.join("l1-timeline.esdb");
    let mut writer = Writer::create_with(&path, WriterOptions::default().with_covering_timeline(true))?;
    for v in visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    let db = Db::open(&path)?;
    let covered = db.space("visit")?.ok_or("missing space")?;
    let n = covered.len() as f64;
    Ok(Timeline {
        events_ref_eps: n / median(3, || drain_events(plain)),
        covered_events_ref_eps: n / median(3, || drain_events(&covered)),
        covered_file_bytes: db.file_len(),
    })
}

/// The five most frequent cities.
fn top_cities(visits: &[Visit]) -> Vec<&'static str> {
    let mut counts = std::collections::BTreeMap::<&'static str, usize>::new();
    for v in visits {
        *counts.entry(v.city).or_default() += 1;
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|(city, n)| (std::cmp::Reverse(*n), *city));
    counts.into_iter().take(5).map(|(city, _)| city).collect()
}

/// One index scan of each of `cities`, owned events.
fn scan_cities(space: &esdb_read::Space, cities: &[&str]) -> usize {
    cities
        .iter()
        .map(|city| space.scan_index("city", city).unwrap().map(|e| e.unwrap().data().len()).sum::<usize>())
        .sum()
}

fn covered(visits: &[Visit], dir: &Path, probe: &Probe) -> AnyResult<Covered> {
    let path = dir.join("l1-covered.esdb");
    let options = WriterOptions::default().with_covering_indexes(vec![b"city".to_vec()]);
    let mut writer = Writer::create_with(&path, options)?;
    for v in visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    let db = Db::open(&path)?;
    let space = db.space("visit")?.ok_or("missing space")?;
    let dense = space.index_value("city", probe.city)?.ok_or("missing city")?.counts.n_events as f64;
    let owned = median(5, || space.scan_index("city", probe.city).unwrap().map(|e| e.unwrap().data().len()).sum());
    let borrowed = median(5, || {
        let mut scan = space.scan_index("city", probe.city).unwrap();
        let mut total = 0;
        while let Some(event) = scan.next_ref() {
            total += event.unwrap().data().len();
        }
        total
    });
    Ok(Covered {
        file_bytes: db.file_len(),
        index_scan_eps: dense / owned,
        index_scan_ref_eps: dense / borrowed,
        five_cities_secs: median(5, || scan_cities(&space, &probe.cities)),
    })
}

/// Which grouping, index value and time range every engine is asked for.
struct Probe {
    top_host: String,
    city: &'static str,
    /// The five most frequent cities.
    cities: Vec<&'static str>,
    range: (i64, i64),
    visitors: Vec<String>,
}

fn probe(visits: &[Visit]) -> Probe {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for v in visits {
        *counts.entry(v.host.as_str()).or_default() += 1;
    }
    let top_host = counts.iter().max_by_key(|(_, n)| **n).map(|(h, _)| h.to_string()).unwrap_or_default();
    let min = visits.iter().map(|v| v.ts).min().unwrap_or(0);
    // One day in the middle of the 30-day window.
    let range = (min + 14 * 86_400, min + 15 * 86_400);
    let mut rng = Rng::new(99);
    let visitors = (0..2000).map(|_| visits[rng.below(visits.len() as u64) as usize].visitor.clone()).collect();
    Probe { top_host, city: "Paris", cities: top_cities(visits), range, visitors }
}

fn esdb(visits: &[Visit], dir: &Path, probe: &Probe) -> AnyResult<(Figures, f64, u64)> {
    let l1 = dir.join("l1.esdb");
    let start = Instant::now();
    let mut writer = Writer::create_with(&l1, WriterOptions::default())?;
    for v in visits {
        writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
    }
    writer.finish()?;
    let write_secs = start.elapsed().as_secs_f64();
    let l2 = dir.join("l2.esdb");
    let mut writer = Writer::create(&l2)?;
    for v in visits {
        writer.add(&v.visitor, v.ts, "", [("city", v.city)], &v.data)?;
    }
    writer.finish()?;

    let db = Db::open(&l1)?;
    let space = db.space("visit")?.ok_or("missing space")?;
    let n = visits.len() as f64;
    // A full scan reads every event of every space in storage order.
    let full = |reverse: bool| {
        db.spaces()
            .map(|space| {
                space
                    .unwrap()
                    .grouping_scans()
                    .map(|g| {
                        let (_, scan) = g.unwrap();
                        if reverse {
                            scan.rev().map(|e| e.unwrap().data().len()).sum::<usize>()
                        } else {
                            scan.map(|e| e.unwrap().data().len()).sum::<usize>()
                        }
                    })
                    .sum::<usize>()
            })
            .sum::<usize>()
    };
    let full_ref = |reverse: bool| {
        let mut total = 0usize;
        for space in db.spaces() {
            for grouping in space.unwrap().grouping_scans() {
                let mut scan = grouping.unwrap().1;
                loop {
                    let event = if reverse { scan.next_back_ref() } else { scan.next_ref() };
                    match event {
                        Some(event) => total += event.unwrap().data().len(),
                        None => break,
                    }
                }
            }
        }
        total
    };
    let full_secs = median(5, || full(false));
    let full_rev_secs = median(5, || full(true));
    let full_ref_secs = median(5, || full_ref(false));
    let full_ref_rev_secs = median(5, || full_ref(true));
    let top = space.grouping(&probe.top_host)?.ok_or("missing host")?.counts.n_events as f64;
    let grouping_secs = median(9, || space.scan(&probe.top_host).unwrap().map(|e| e.unwrap().data().len()).sum());
    let dense = space.index_value("city", probe.city)?.ok_or("missing city")?.counts.n_events as f64;
    let index_secs = median(5, || space.scan_index("city", probe.city).unwrap().map(|e| e.unwrap().data().len()).sum());
    let db2 = Db::open(&l2)?;
    let (p50, p99) = latency(
        |idx| {
            db2.space(&probe.visitors[idx % probe.visitors.len()])
                .unwrap()
                .unwrap()
                .scan("")
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .data()
                .len()
        },
        20_000,
    );
    let range_secs = median(9, || {
        space.scan(&probe.top_host).unwrap().range(probe.range.0..probe.range.1).map(|e| e.unwrap().data().len()).sum()
    });

    // Parallel: each of two threads lists and drains its part of the groupings
    // (`Space::grouping_scans_part`) with borrowed events; compared with the one-thread
    // borrowed full scan, which lists and drains them all.
    let parallel_secs = median(5, || esdb_bench::read_in_parts(&space, 2));
    let five_cities_secs = median(5, || scan_cities(&space, &probe.cities));
    let covered = covered(visits, dir, probe)?;
    let timeline = timeline(visits, dir, &space)?;
    let figures = Figures {
        write_eps: n / write_secs,
        file_bytes: db.file_len(),
        full_scan_eps: n / full_secs,
        full_scan_rev_eps: n / full_rev_secs,
        full_scan_ref_eps: n / full_ref_secs,
        full_scan_ref_rev_eps: n / full_ref_rev_secs,
        grouping_scan_eps: top / grouping_secs,
        index_scan_eps: dense / index_secs,
        five_cities_secs,
        covered: Some(covered),
        timeline: Some(timeline),
        lookup_p50_us: p50,
        lookup_p99_us: p99,
        range_query_us: range_secs * 1e6,
    };
    Ok((figures, full_ref_secs / parallel_secs, db2.file_len()))
}

fn sqlite(visits: &[Visit], dir: &Path, probe: &Probe) -> AnyResult<Figures> {
    let path = dir.join("l1.sqlite");
    let conn = Connection::open(&path)?;
    conn.execute_batch(
        "PRAGMA journal_mode = OFF;
         PRAGMA synchronous = OFF;
         PRAGMA page_size = 16384;
         PRAGMA cache_size = -262144;
         CREATE TABLE events (space TEXT, grouping TEXT, ts INTEGER, seq INTEGER, data BLOB,
                              PRIMARY KEY (space, grouping, ts, seq)) WITHOUT ROWID;
         CREATE TABLE postings (space TEXT, name TEXT, value TEXT, ts INTEGER, seq INTEGER, grouping TEXT,
                                PRIMARY KEY (space, name, value, ts, seq)) WITHOUT ROWID;
         CREATE TABLE timelines (space TEXT, ts INTEGER, seq INTEGER, data BLOB, PRIMARY KEY (space, ts, seq)) WITHOUT ROWID;",
    )?;
    let start = Instant::now();
    conn.execute_batch("BEGIN")?;
    {
        let mut event = conn.prepare("INSERT INTO events VALUES ('visit', ?1, ?2, ?3, ?4)")?;
        let mut posting = conn.prepare("INSERT INTO postings VALUES ('visit', ?1, ?2, ?3, ?4, ?5)")?;
        for (seq, v) in visits.iter().enumerate() {
            event.execute(params![v.host, v.ts, seq as i64, v.data.as_bytes()])?;
            posting.execute(params!["visitor", v.visitor, v.ts, seq as i64, v.host])?;
            posting.execute(params!["city", v.city, v.ts, seq as i64, v.host])?;
        }
    }
    conn.execute_batch("COMMIT")?;
    let write_secs = start.elapsed().as_secs_f64();
    let file_bytes = std::fs::metadata(&path)?.len();
    // Space lookup on customer timelines (layout L2) in its own table.
    conn.execute_batch("BEGIN")?;
    {
        let mut timeline = conn.prepare("INSERT INTO timelines VALUES (?1, ?2, ?3, ?4)")?;
        for (seq, v) in visits.iter().enumerate() {
            timeline.execute(params![v.visitor, v.ts, seq as i64, v.data.as_bytes()])?;
        }
    }
    conn.execute_batch("COMMIT; ANALYZE;")?;

    let n = visits.len() as f64;
    let query = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> usize {
        let mut stmt = conn.prepare_cached(sql).unwrap();
        let mut rows = stmt.query(args).unwrap();
        let mut total = 0;
        while let Some(row) = rows.next().unwrap() {
            total += row.get_ref(1).unwrap().as_blob().unwrap().len();
        }
        total
    };
    let full_secs = median(3, || query("SELECT ts, data FROM events ORDER BY space, grouping, ts, seq", &[]));
    let full_rev_secs =
        median(3, || query("SELECT ts, data FROM events ORDER BY space DESC, grouping DESC, ts DESC, seq DESC", &[]));
    let grouping_sql = "SELECT ts, data FROM events WHERE space = 'visit' AND grouping = ?1 ORDER BY ts, seq";
    let top: f64 =
        conn.query_row("SELECT count(*) FROM events WHERE space = 'visit' AND grouping = ?1", [&probe.top_host], |r| {
            r.get::<_, i64>(0)
        })? as f64;
    let grouping_secs = median(9, || query(grouping_sql, &[&probe.top_host]));
    let index_sql = "SELECT e.ts, e.data FROM postings p JOIN events e
                     ON e.space = p.space AND e.grouping = p.grouping AND e.ts = p.ts AND e.seq = p.seq
                     WHERE p.space = 'visit' AND p.name = 'city' AND p.value = ?1 ORDER BY p.ts, p.seq";
    let dense: f64 = conn.query_row(
        "SELECT count(*) FROM postings WHERE space = 'visit' AND name = 'city' AND value = ?1",
        [probe.city],
        |r| r.get::<_, i64>(0),
    )? as f64;
    let index_secs = median(3, || query(index_sql, &[&probe.city]));
    let lookup_sql = "SELECT ts, data FROM timelines WHERE space = ?1 ORDER BY ts, seq LIMIT 1";
    let (p50, p99) = latency(|idx| query(lookup_sql, &[&probe.visitors[idx % probe.visitors.len()]]), 20_000);
    let range_sql =
        "SELECT ts, data FROM events WHERE space = 'visit' AND grouping = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts, seq";
    let range_secs = median(9, || query(range_sql, &[&probe.top_host, &probe.range.0, &probe.range.1]));
    Ok(Figures {
        write_eps: n / write_secs,
        file_bytes,
        full_scan_eps: n / full_secs,
        full_scan_rev_eps: n / full_rev_secs,
        full_scan_ref_eps: f64::NAN,
        full_scan_ref_rev_eps: f64::NAN,
        grouping_scan_eps: top / grouping_secs,
        index_scan_eps: dense / index_secs,
        five_cities_secs: median(3, || probe.cities.iter().map(|city| query(index_sql, &[city])).sum()),
        covered: None,
        timeline: None,
        lookup_p50_us: p50,
        lookup_p99_us: p99,
        range_query_us: range_secs * 1e6,
    })
}

/// Events per second that plain LZ4 decompression of the same data allows: the event data in
/// file order, cut into 32 KiB blocks, compressed with `lz4_flex`, then decompressed (median of 5).
fn lz4_ceiling(visits: &[Visit]) -> f64 {
    let mut sorted: Vec<&Visit> = visits.iter().collect();
    sorted.sort_by(|a, b| (&a.host, a.ts).cmp(&(&b.host, b.ts)));
    let mut blocks = Vec::new();
    let mut current = Vec::new();
    for v in sorted {
        current.extend_from_slice(v.data.as_bytes());
        if current.len() >= 32 * 1024 {
            blocks.push((lz4_flex::block::compress(&current), current.len()));
            current.clear();
        }
    }
    if !current.is_empty() {
        blocks.push((lz4_flex::block::compress(&current), current.len()));
    }
    let mut out = vec![0u8; 64 * 1024];
    let secs = median(5, || {
        blocks
            .iter()
            .map(|(compressed, len)| lz4_flex::block::decompress_into(compressed, &mut out[..*len]).unwrap())
            .sum()
    });
    visits.len() as f64 / secs
}

fn fmt_rate(eps: f64) -> String {
    format!("{:.2} M/s", eps / 1e6)
}

/// `esdb-bench [compare] --events N`: prints the table.
pub fn run(n: usize) -> AnyResult<()> {
    eprintln!("generating {n} visits ...");
    let visits: Vec<Visit> = Visits::new(20_000, 1).take(n).collect();
    let probe = probe(&visits);
    let dir = tempfile::tempdir()?;
    eprintln!("ESDB ...");
    let (e, parallel_speedup, l2_bytes) = esdb(&visits, dir.path(), &probe)?;
    eprintln!("SQLite ...");
    let s = sqlite(&visits, dir.path(), &probe)?;
    eprintln!("LZ4 ceiling ...");
    let ceiling = lz4_ceiling(&visits);
    let raw: usize = visits.iter().map(|v| v.data.len()).sum();

    println!("{n} `visits` events (layout L1: space `visit`, grouping host, indexes visitor and city; {} MB of JSON), one thread unless noted.\n", raw / 1_000_000);
    println!("| measure | ESDB | SQLite | ESDB / SQLite |");
    println!("|---|---|---|---|");
    let row = |name: &str, esdb: f64, sqlite: f64, show: &dyn Fn(f64) -> String, higher_is_better: bool| {
        let ratio = esdb / sqlite;
        let note = if higher_is_better { format!("{ratio:.1}x") } else { format!("{ratio:.2}x") };
        println!("| {name} | {} | {} | {note} |", show(esdb), show(sqlite));
    };
    row("write (pre-parsed events)", e.write_eps, s.write_eps, &fmt_rate, true);
    row("file size", e.file_bytes as f64, s.file_bytes as f64, &|b| format!("{:.1} MB", b / 1e6), false);
    row("full scan, oldest first", e.full_scan_eps, s.full_scan_eps, &fmt_rate, true);
    row("full scan, newest first", e.full_scan_rev_eps, s.full_scan_rev_eps, &fmt_rate, true);
    // SQLite's rows are borrowed from its statement too (`Row::get_ref`), so it is compared with
    // its own figures.
    row("full scan, oldest first, borrowed (`next_ref`)", e.full_scan_ref_eps, s.full_scan_eps, &fmt_rate, true);
    row(
        "full scan, newest first, borrowed (`next_back_ref`)",
        e.full_scan_ref_rev_eps,
        s.full_scan_rev_eps,
        &fmt_rate,
        true,
    );
    row(&format!("grouping scan ({})", probe.top_host), e.grouping_scan_eps, s.grouping_scan_eps, &fmt_rate, true);
    row(&format!("index scan, dense (city={})", probe.city), e.index_scan_eps, s.index_scan_eps, &fmt_rate, true);
    let ms = |secs: f64| format!("{:.0} ms", secs * 1e3);
    row("index scans, five most frequent cities", e.five_cities_secs, s.five_cities_secs, &ms, false);
    if let Some(c) = &e.covered {
        let dense = format!("city={}", probe.city);
        row(&format!("index scan, dense, covered ({dense})"), c.index_scan_eps, s.index_scan_eps, &fmt_rate, true);
        row(
            &format!("index scan, dense, covered, borrowed ({dense})"),
            c.index_scan_ref_eps,
            s.index_scan_eps,
            &fmt_rate,
            true,
        );
        row("index scans, five most frequent cities, covered", c.five_cities_secs, s.five_cities_secs, &ms, false);
    }
    row("space lookup + first event, p50 (L2)", e.lookup_p50_us, s.lookup_p50_us, &|us| format!("{us:.2} µs"), false);
    row("space lookup + first event, p99 (L2)", e.lookup_p99_us, s.lookup_p99_us, &|us| format!("{us:.2} µs"), false);
    row(
        "time-range query (one day of the top host)",
        e.range_query_us,
        s.range_query_us,
        &|us| format!("{us:.0} µs"),
        false,
    );
    println!();
    println!(
        "- ESDB full scan reaches {:.0}% (owned events) and {:.0}% (borrowed) of plain LZ4 decompression of the same data ({} ceiling).",
        e.full_scan_eps / ceiling * 100.0,
        e.full_scan_ref_eps / ceiling * 100.0,
        fmt_rate(ceiling)
    );
    println!("- ESDB full scan on 2 threads (each lists and reads its part of the groupings, `Space::grouping_scans_part`, borrowed events): {parallel_speedup:.2}x one thread.");
    println!("- ESDB layout L2 (space visitor, index city): {:.1} MB.", l2_bytes as f64 / 1e6);
    if let Some(c) = &e.covered {
        println!(
            "- ESDB L1 with city covered (`covering_indexes`): {:.1} MB, {:+.1} MB ({:.2}x) for the events stored again.",
            c.file_bytes as f64 / 1e6,
            (c.file_bytes as f64 - e.file_bytes as f64) / 1e6,
            c.file_bytes as f64 / e.file_bytes as f64,
        );
    }
    if let Some(t) = &e.timeline {
        println!(
            "- ESDB `Space::events()` on L1 (the merged timeline across its groupings, borrowed): {} through the timeline postings, {} with a covering timeline (`covering_timeline`, {:.1} MB, {:+.1} MB, {:.2}x).",
            fmt_rate(t.events_ref_eps),
            fmt_rate(t.covered_events_ref_eps),
            t.covered_file_bytes as f64 / 1e6,
            (t.covered_file_bytes as f64 - e.file_bytes as f64) / 1e6,
            t.covered_file_bytes as f64 / e.file_bytes as f64,
        );
    }
    Ok(())
}
