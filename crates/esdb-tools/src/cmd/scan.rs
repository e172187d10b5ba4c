//! `esdb scan`: the events of one space, a grouping or an index value, as JSON Lines or raw data.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use clap::ValueEnum;
use serde_json::{Map, Value};

use crate::output::{self, display_bytes};
use crate::timestamp::{self, TimeUnit};
use crate::{json, Outcome};

const EXAMPLES: &str = "\
Examples:
  esdb scan activity.esdb customer-1
  esdb scan activity.esdb customer-1 --index type=purchase --reverse --limit 10
  esdb scan activity.esdb customer-1 --from 2024-05-01T00:00:00Z --until 2024-06-01T00:00:00Z --format data";

/// Output formats of `scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ScanFormat {
    /// One `{"timestamp":…,"data":…}` object per line.
    #[default]
    Jsonl,
    /// The raw data of each event, one per line.
    Data,
}

/// Print the events of one space, oldest first (or newest first with --reverse).
///
/// Without --grouping or --index, every event of the space across groupings. In jsonl output,
/// data is embedded as JSON when it is valid JSON, else as a string when it is UTF-8, else as
/// base64 under "data_b64".
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The ESDB file.
    file: PathBuf,
    /// The space id.
    space: String,
    /// Only this grouping (`""` is the default grouping).
    #[arg(long, value_name = "G", conflicts_with = "index")]
    grouping: Option<String>,
    /// Only events carrying this index value.
    #[arg(long, value_name = "NAME=VALUE")]
    index: Option<String>,
    /// Only events at or after T: an integer in the file's unit, or RFC 3339.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    from: Option<String>,
    /// Only events before T (exclusive): an integer in the file's unit, or RFC 3339.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    until: Option<String>,
    /// Newest first.
    #[arg(long)]
    reverse: bool,
    /// At most N events.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScanFormat::Jsonl)]
    format: ScanFormat,
    /// Unit of the file's timestamps, for RFC 3339 --from and --until.
    #[arg(long, value_enum, default_value_t = TimeUnit::S)]
    time_unit: TimeUnit,
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let from = args
        .from
        .as_deref()
        .map(|t| timestamp::parse_text(t, args.time_unit))
        .transpose()
        .map_err(|err| anyhow!("--from: {err:#}"))?;
    let until = args
        .until
        .as_deref()
        .map(|t| timestamp::parse_text(t, args.time_unit))
        .transpose()
        .map_err(|err| anyhow!("--until: {err:#}"))?;
    let index = match &args.index {
        None => None,
        Some(spec) => Some(spec.split_once('=').ok_or_else(|| anyhow!("--index {spec:?}: expected NAME=VALUE"))?),
    };
    let Some(space) = db.space(output::arg_bytes(&args.space))? else {
        eprintln!("esdb: no space {} in {}", display_bytes(args.space.as_bytes()), args.file.display());
        return Ok(Outcome::Ok);
    };
    let scan = match (&args.grouping, index) {
        (Some(grouping), _) => space.scan(grouping)?,
        (None, Some((name, value))) => space.scan_index(name, value)?,
        (None, None) => space.events()?,
    };
    let scan = scan.range((
        from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Included),
        until.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded),
    ));
    let events: Box<dyn Iterator<Item = esdb_read::Result<esdb_read::Event>>> =
        if args.reverse { Box::new(scan.rev()) } else { Box::new(scan) };
    let events = events.take(usize::try_from(args.limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX));

    let mut out = output::open(None)?;
    for event in events {
        let event = event?;
        match args.format {
            ScanFormat::Data => {
                out.write_all(event.data())?;
                out.write_all(b"\n")?;
            }
            ScanFormat::Jsonl => {
                let mut object = Map::new();
                object.insert("timestamp".into(), Value::from(event.timestamp()));
                json::insert_scan_data(&mut object, "data", event.data());
                serde_json::to_writer(&mut out, &object)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
