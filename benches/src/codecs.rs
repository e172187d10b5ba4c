//! `esdb-bench codecs`: the same 1M `visits` (layout L1) with each block codec: file size, where
//! the bytes go, write time and full-scan rate. With `--dump DIR`, also writes the events as
//! JSON Lines to `DIR/visits.jsonl` for `benches/duckdb_compare.py`, which measures DuckDB with
//! zstd Parquet on the same rows.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use crate::compare::median;

use esdb_bench::{Visit, Visits};
use esdb_read::Db;
use esdb_write::{Compression, Writer, WriterOptions};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Every event of the file in storage order, borrowed; returns the data bytes read.
fn full_scan(db: &Db) -> usize {
    let mut total = 0;
    for space in db.spaces() {
        for grouping in space.unwrap().grouping_scans() {
            let mut scan = grouping.unwrap().1;
            while let Some(event) = scan.next_ref() {
                total += event.unwrap().data().len();
            }
        }
    }
    total
}

pub fn run(n: usize, dump: Option<&str>) -> AnyResult<()> {
    let dir = tempfile::tempdir()?;
    let visits: Vec<Visit> = Visits::new(20_000, 1).take(n).collect();
    if let Some(dump) = dump {
        std::fs::create_dir_all(dump)?;
        let mut out = std::io::BufWriter::new(std::fs::File::create(Path::new(dump).join("visits.jsonl"))?);
        for v in &visits {
            let row =
                serde_json::json!({"host": v.host, "visitor": v.visitor, "city": v.city, "ts": v.ts, "data": v.data});
            writeln!(out, "{row}")?;
        }
        out.flush()?;
    }
    println!("{n} `visits` events, layout L1 (space `visit`, grouping host, indexes visitor and city).\n");
    println!("| codec | file | data blocks | posting blocks | catalog | other | write | full scan, borrowed |");
    println!("|---|---|---|---|---|---|---|---|");
    let codecs = [
        ("LZ4", Compression::Lz4, 0),
        ("zstd 1", Compression::Zstd { level: 1 }, 0),
        ("zstd 3", Compression::ZSTD, 0),
        ("zstd 9", Compression::Zstd { level: 9 }, 0),
        ("zstd 3, 32 KiB dictionary", Compression::ZSTD, 32 << 10),
        ("zstd 3, 110 KiB dictionary", Compression::ZSTD, 110 << 10),
        ("none", Compression::None, 0),
    ];
    for (label, compression, zstd_dictionary) in codecs {
        let path = dir.path().join(format!("{}.esdb", label.replace([' ', ','], "")));
        let start = Instant::now();
        let options = WriterOptions::default().with_compression(compression).with_zstd_dictionary(zstd_dictionary);
        let mut writer = Writer::create_with(&path, options)?;
        for v in &visits {
            writer.add("visit", v.ts, &v.host, [("visitor", v.visitor.as_str()), ("city", v.city)], &v.data)?;
        }
        writer.finish()?;
        let write_secs = start.elapsed().as_secs_f64();
        let db = Db::open(&path)?;
        let report = db.verify();
        assert!(report.is_ok(), "{:?}", report.problems);
        let section = |name: &str| report.sections.get(name).map_or(0, |s| s.stored_bytes);
        let (data, postings, catalog) = (section("data block"), section("posting block"), section("catalog block"));
        let other = db.file_len() - data - postings - catalog;
        let scan_secs = median(5, || full_scan(&db));
        let mb = |bytes: u64| format!("{:.1} MB", bytes as f64 / 1e6);
        println!(
            "| {label} | {} | {} | {} | {} | {} | {:.2} s | {:.1} M/s ({:.0} ms) |",
            mb(db.file_len()),
            mb(data),
            mb(postings),
            mb(catalog),
            mb(other),
            write_secs,
            n as f64 / scan_secs / 1e6,
            scan_secs * 1e3
        );
    }
    Ok(())
}
