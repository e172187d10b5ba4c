//! `esdb info`: what a file holds and how its bytes are spent.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use anyhow::Result;
use esdb_read::Report;
use serde_json::{json, Value};

use crate::output::display_bytes;
use crate::{progress, Outcome};

/// Summarize a file: format version, events, spaces, groupings, index names with their distinct
/// values, time range, bytes per section, compression ratio, and the average overhead per event
/// and per posting.
///
/// Reads and checks the whole file (as `verify` does) to measure its sections.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  esdb info activity.esdb\n  esdb info activity.esdb --json | jq .compression_ratio"
)]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| (numerator as f64 / denominator as f64 * 100.0).round() / 100.0)
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
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
    let footer = db.footer();
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
        let value = json!({
            "file": args.file.display().to_string(),
            "format_version": format!("{}.{}", footer.major, footer.minor),
            "file_bytes": db.file_len(),
            "events": db.len(),
            "spaces": db.n_spaces(),
            "groupings": report.n_groupings,
            "index_values": report.n_index_values,
            "postings": report.n_postings,
            "time_range": db.time_range().map(|(min, max)| json!({ "min": min, "max": max })),
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
        outln!("{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        outln!("file:              {}", args.file.display())?;
        outln!("format version:    {}.{}", footer.major, footer.minor)?;
        outln!("size:              {} bytes", db.file_len())?;
        outln!("events:            {}", db.len())?;
        outln!("spaces:            {}", db.n_spaces())?;
        outln!("groupings:         {}", report.n_groupings)?;
        outln!("index values:      {} ({} postings)", report.n_index_values, report.n_postings)?;
        match db.time_range() {
            Some((min, max)) => outln!("time range:        {min} ..= {max}")?,
            None => outln!("time range:        (no events)")?,
        }
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
