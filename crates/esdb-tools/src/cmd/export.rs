//! `esdb export`: every event as JSON Lines, losslessly.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::{json, output, progress, Outcome};

/// Write every event as one JSON object per line: space, timestamp, grouping, indexes, data.
///
/// Spaces come in id order and events within a space in (timestamp, insertion) order, so the
/// output is deterministic. Byte strings are JSON strings when valid UTF-8, else base64 under a
/// key with a `_b64` suffix; data that is a JSON value (other than a string) is embedded as is.
/// `esdb import DUMP --input-format esdb-jsonl` reads it back into the same events.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  esdb export activity.esdb -o dump.jsonl\n  esdb export activity.esdb | gzip > dump.jsonl.gz"
)]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Write to this new file instead of standard output (`-`: standard output). The file
    /// appears only once complete.
    #[arg(short, long, value_name = "OUT.jsonl")]
    output: Option<PathBuf>,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let mut out = output::open(args.output.as_deref())?;
    let bar = progress::events(db.len(), args.quiet, "exporting");
    let mut line = String::new();
    for space in db.spaces() {
        let space = space?;
        for record in space.records()? {
            let record = record?;
            line.clear();
            line.push('{');
            json::write_bytes(&mut line, "space", space.id());
            line.push_str(",\"timestamp\":");
            line.push_str(&record.event.timestamp().to_string());
            line.push(',');
            json::write_bytes(&mut line, "grouping", &record.grouping);
            line.push_str(",\"indexes\":[");
            for (idx, (name, value)) in record.indexes.iter().enumerate() {
                if idx > 0 {
                    line.push(',');
                }
                line.push('{');
                json::write_bytes(&mut line, "name", name);
                line.push(',');
                json::write_bytes(&mut line, "value", value);
                line.push('}');
            }
            line.push_str("],");
            json::write_export_data(&mut line, "data", record.event.data());
            line.push_str("}\n");
            out.write_all(line.as_bytes())?;
            bar.inc(1);
        }
    }
    out.finish()?;
    bar.finish_and_clear();
    Ok(Outcome::Ok)
}
