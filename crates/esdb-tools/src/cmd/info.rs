//! `esdb info`: what a file holds and how its bytes are spent.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::Result;
use esdb_read::Report;
use serde_json::{json, Value};

use crate::output::display_bytes;
use crate::{progress, timestamp, Outcome};

/// Summarize a file: format version, events, spaces, groupings, index names with their distinct
/// values, time range, bytes per section, compression ratio, and the average overhead per event
/// and per posting.
///
/// Reads and checks the whole file (as `verify` does) to measure its sections, unless --fast.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  esdb info activity.esdb\n  esdb info activity.esdb --json | jq .compression_ratio\n  esdb info --fast big.esdb"
)]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Read only the footer, the metadata and the catalog, not the blocks: no sections, sizes or
    /// checks, in a fraction of the time.
    #[arg(long)]
    fast: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 / denominator as f64 * 100.0).round() / 100.0)
}

/// The file's own description: format version, features, time unit and metadata.
fn about(db: &esdb_read::Db) -> Value {
    let footer = db.footer();
    let unit = db.time_unit();
    let time = |ts: i64| unit.and_then(|unit| timestamp::format_rfc3339(ts, unit.into()));
    json!({
        "format_version": format!("{}.{}", footer.major, footer.minor),
        "features": { "incompatible": footer.features.incompatible, "compatible": footer.features.compatible },
        "time_unit": unit.map(|unit| unit.as_str()),
        "time_range": db.time_range().map(|(min, max)| {
            let mut range = json!({ "min": min, "max": max });
            if let (Some(min_time), Some(max_time)) = (time(min), time(max)) {
                range["min_time"] = json!(min_time);
                range["max_time"] = json!(max_time);
            }
            range
        }),
        "writer": db.metadata().writer(),
        "index_names": db.index_names().map(|names| names.iter().map(|name| display_bytes(name)).collect::<Vec<_>>()),
        "covering_indexes": db.covering_index_names().iter().map(|name| display_bytes(name)).collect::<Vec<_>>(),
        "covering_timeline": db.covers_timeline(),
        "metadata": db.metadata().iter().map(|(key, value)| (display_bytes(key), Value::String(display_bytes(value)))).collect::<serde_json::Map<_, _>>(),
    })
}

/// `--fast`: what the footer, metadata and catalog say.
fn fast(args: &Args, db: &esdb_read::Db) -> Result<Outcome> {
    let (mut groupings, mut index_values) = (0u64, 0u64);
    for space in db.spaces() {
        let space = space?;
        groupings += space.n_groupings();
        index_values += space.n_index_values();
    }
    let mut value = about(db);
    let fields = value.as_object_mut().expect("an object");
    fields.insert("file".into(), json!(args.file.display().to_string()));
    fields.insert("file_bytes".into(), json!(db.file_len()));
    fields.insert("events".into(), json!(db.len()));
    fields.insert("spaces".into(), json!(db.n_spaces()));
    fields.insert("groupings".into(), json!(groupings));
    fields.insert("index_values".into(), json!(index_values));
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!("file:              {}", args.file.display())?;
        print_about(&value)?;
        outln!("size:              {} bytes", db.file_len())?;
        outln!("events:            {}", db.len())?;
        outln!("spaces:            {}", db.n_spaces())?;
        outln!("groupings:         {groupings}")?;
        outln!("index values:      {index_values}")?;
    }
    Ok(Outcome::Ok)
}

/// The text lines of [`about`].
fn print_about(about: &Value) -> Result<()> {
    let text = |value: &Value| value.as_str().map(str::to_owned);
    outln!("format version:    {}", about["format_version"].as_str().unwrap_or("?"))?;
    let features = &about["features"];
    if features["incompatible"] != 0 || features["compatible"] != 0 {
        outln!("features:          incompatible {}, compatible {}", features["incompatible"], features["compatible"])?;
    }
    outln!("time unit:         {}", text(&about["time_unit"]).unwrap_or_else(|| "(not recorded)".into()))?;
    match about["time_range"].as_object() {
        Some(range) => {
            outln!("time range:        {} ..= {}", range["min"], range["max"])?;
            let time = |key: &str| range.get(key).and_then(&text);
            if let (Some(min), Some(max)) = (time("min_time"), time("max_time")) {
                outln!("                   {min} ..= {max}")?;
            }
        }
        None => outln!("time range:        (no events)")?,
    }
    if let Some(writer) = text(&about["writer"]) {
        outln!("written by:        {writer}")?;
    }
    let covered: Vec<String> = about["covering_indexes"].as_array().into_iter().flatten().filter_map(text).collect();
    if !covered.is_empty() {
        outln!("covering indexes:  {}", covered.join(", "))?;
    }
    if about["covering_timeline"] == true {
        outln!("covering timeline: yes")?;
    }
    let metadata = about["metadata"].as_object().into_iter().flatten();
    let user: Vec<_> = metadata
        .filter(|(key, _)| {
            !["esdb.writer", "esdb.time_unit", "esdb.index_names", "esdb.covering", "esdb.covering_timeline"]
                .contains(&key.as_str())
        })
        .collect();
    if !user.is_empty() {
        outln!("metadata:")?;
        for (key, value) in user {
            outln!("  {key}: {}", value.as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    if args.fast {
        return fast(&args, &db);
    }
    let bar = progress::bytes(Some(db.file_len()), args.quiet || args.json, "reading");
    let report: Report = db.verify_with_progress(&mut |n| bar.inc(n));
    bar.finish_and_clear();

    let mut index_values: BTreeMap<Vec<u8>, HashSet<u64>> = BTreeMap::new();
    for space in db.spaces() {
        let space = space?;
        for name in space.index_names() {
            let name = name?;
            let values = index_values.entry(name.to_vec()).or_default();
            for value in space.index_values(&name) {
                values.insert(esdb_format::checksum::xxh3(&value?.value));
            }
        }
    }

    let data = report.sections.get("data block").copied().unwrap_or_default();
    let postings = report.sections.get("posting block").copied().unwrap_or_default();
    let stored_total: u64 = report.sections.values().map(|s| s.stored_bytes).sum();
    let raw_total: u64 = report.sections.values().map(|s| s.raw_bytes).sum();
    let per_event = (report.n_events > 0).then(|| {
        ((data.raw_bytes.saturating_sub(report.data_bytes)) as f64 / report.n_events as f64 * 100.0).round() / 100.0
    });
    let per_posting = ratio(postings.raw_bytes, report.n_postings);
    let header_footer = db.file_len() - stored_total;

    if args.json {
        let sections: serde_json::Map<String, Value> = report
            .sections
            .iter()
            .map(|(name, s)| {
                (
                    (*name).to_owned(),
                    json!({ "blocks": s.n_blocks, "stored_bytes": s.stored_bytes, "raw_bytes": s.raw_bytes }),
                )
            })
            .collect();
        let mut value = json!({
            "file": args.file.display().to_string(),
            "file_bytes": db.file_len(),
            "events": db.len(),
            "spaces": db.n_spaces(),
            "groupings": report.n_groupings,
            "index_values": report.n_index_values,
            "postings": report.n_postings,
            "indexes": index_values.iter().map(|(name, values)| json!({ "name": display_bytes(name), "distinct_values": values.len() })).collect::<Vec<_>>(),
            "sections": sections,
            "header_and_footer_bytes": header_footer,
            "data_bytes": report.data_bytes,
            "compression_ratio": ratio(raw_total, stored_total),
            "data_compression_ratio": ratio(data.raw_bytes, data.stored_bytes),
            "per_event_overhead_bytes": per_event,
            "per_posting_bytes": per_posting,
            "problems": report.problems.len(),
        });
        if let (Some(fields), Value::Object(about)) = (value.as_object_mut(), about(&db)) {
            fields.extend(about);
        }
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!("file:              {}", args.file.display())?;
        print_about(&about(&db))?;
        outln!("size:              {} bytes", db.file_len())?;
        outln!("events:            {}", db.len())?;
        outln!("spaces:            {}", db.n_spaces())?;
        outln!("groupings:         {}", report.n_groupings)?;
        outln!("index values:      {} ({} postings)", report.n_index_values, report.n_postings)?;
        outln!("indexes:")?;
        if index_values.is_empty() {
            outln!("  (none)")?;
        }
        for (name, values) in &index_values {
            outln!("  {}: {} distinct values", display_bytes(name), values.len())?;
        }
        outln!("sections:                  blocks     stored bytes        raw bytes")?;
        for (name, s) in &report.sections {
            outln!("  {name:<20} {:>11} {:>16} {:>16}", s.n_blocks, s.stored_bytes, s.raw_bytes)?;
        }
        outln!("  {:<20} {:>11} {:>16}", "header and footer", 2, header_footer)?;
        let show = |value: Option<f64>| value.map_or("n/a".to_owned(), |v| format!("{v:.2}"));
        outln!(
            "compression ratio: {} overall, {} for data blocks",
            show(ratio(raw_total, stored_total)),
            show(ratio(data.raw_bytes, data.stored_bytes))
        )?;
        outln!(
            "overhead:          {} bytes per event (data blocks, before compression), {} bytes per posting",
            show(per_event),
            show(per_posting)
        )?;
    }
    if !report.problems.is_empty() {
        diag!("esdb: {} has {} problem(s); run `esdb verify` for the list", args.file.display(), report.problems.len());
        return Ok(Outcome::Exit(1));
    }
    Ok(Outcome::Ok)
}
