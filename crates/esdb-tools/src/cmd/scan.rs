//! `esdb scan`: the events of one space, a grouping or an index value, as JSON Lines or raw data.

use std::fmt::Write as _;
use std::io::Write;
use std::ops::Bound;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};
use clap::ValueEnum;
use esdb_read::Scan;

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
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// The space id, as `esdb spaces` prints it (backslash escapes such as \x00 are decoded).
    space: String,
    #[command(flatten)]
    flags: ScanFlags,
}

/// What to scan and how to print it; shared by `scan` and `store scan`.
#[derive(Debug, clap::Args)]
pub struct ScanFlags {
    /// Only this grouping (`""` is the default grouping).
    #[arg(long, value_name = "G")]
    grouping: Option<String>,
    /// Only events carrying this index value; repeat for events carrying all of them. Combines
    /// with --grouping.
    #[arg(long, value_name = "NAME=VALUE")]
    index: Vec<String>,
    /// Only events at or after T: an integer in the file's unit, an RFC 3339 date-time or a date
    /// (midnight UTC); a time between two ticks of the unit starts at the next tick.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    from: Option<String>,
    /// Only events before T (exclusive): as --from.
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
    /// Unit of the file's timestamps, for RFC 3339 --from and --until: needed only when the
    /// file records none (it must agree with the one it records).
    #[arg(long, value_enum)]
    time_unit: Option<TimeUnit>,
}

/// `--from` and `--until` as bounds.
pub type TimeRange = (Bound<i64>, Bound<i64>);

/// Which events a scan asks for, parsed from [`ScanFlags`].
pub enum Selection {
    Grouping(Vec<u8>),
    Index(Vec<u8>, Vec<u8>),
    All,
    /// Several conditions at once: the events of `grouping` (if given) that carry every index
    /// value.
    Combined {
        grouping: Option<Vec<u8>>,
        indexes: Vec<(Vec<u8>, Vec<u8>)>,
    },
}

impl ScanFlags {
    /// The selection and the time range; `recorded` is the unit the file (or store) records.
    pub fn parse(&self, recorded: Option<esdb_format::TimeUnit>) -> Result<(Selection, TimeRange)> {
        let recorded = recorded.map(TimeUnit::from);
        let unit = match (self.time_unit, recorded) {
            (Some(given), Some(recorded)) if given != recorded => bail!(
                "--time-unit {} disagrees with the unit the data records ({}); drop --time-unit",
                given.name(),
                recorded.name()
            ),
            (given, recorded) => given.or(recorded),
        };
        let parse = |flag: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| match unit {
                    Some(unit) => timestamp::parse_bound(t, unit),
                    None => timestamp::parse_integer(t).map_err(|err| {
                        anyhow!("{err}; the data records no time unit, so a time needs --time-unit s|ms|us|ns")
                    }),
                })
                .transpose()
                .map_err(|err| anyhow!("{flag}: {err:#}"))
        };
        let from = parse("--from", &self.from)?;
        let until = parse("--until", &self.until)?;
        let grouping = self.grouping.as_deref().map(output::arg_bytes).transpose().context("--grouping")?;
        let mut indexes = Vec::with_capacity(self.index.len());
        for spec in &self.index {
            let (name, value) = spec.split_once('=').ok_or_else(|| anyhow!("--index {spec:?}: expected NAME=VALUE"))?;
            indexes.push((output::arg_bytes(name).context("--index")?, output::arg_bytes(value).context("--index")?));
        }
        let selection = match (grouping, indexes.len()) {
            (None, 0) => Selection::All,
            (Some(grouping), 0) => Selection::Grouping(grouping),
            (None, 1) => {
                let (name, value) = indexes.pop().expect("one");
                Selection::Index(name, value)
            }
            (grouping, _) => Selection::Combined { grouping, indexes },
        };
        let range = (from.map_or(Bound::Unbounded, Bound::Included), until.map_or(Bound::Unbounded, Bound::Excluded));
        Ok((selection, range))
    }

    /// Prints `events` (oldest first; reversed here with --reverse) as --format and --limit say.
    pub fn print<I, E>(&self, events: I) -> Result<()>
    where
        I: DoubleEndedIterator<Item = Result<(i64, E), anyhow::Error>>,
        E: AsRef<[u8]>,
    {
        let events: Box<dyn Iterator<Item = _>> = if self.reverse { Box::new(events.rev()) } else { Box::new(events) };
        let events = events.take(usize::try_from(self.limit.unwrap_or(u64::MAX)).unwrap_or(usize::MAX));
        let mut printer = Printer::new(self.format)?;
        for event in events {
            let (timestamp, data) = event?;
            printer.event(timestamp, data.as_ref())?;
        }
        printer.finish()
    }

    /// Like [`ScanFlags::print`] for the events of `scan` that `keep` accepts (by ordinal),
    /// borrowed from the scan's blocks rather than shared with them: no reference count is
    /// touched per event.
    pub fn print_scan(&self, mut scan: Scan, keep: impl Fn(u64) -> bool) -> Result<()> {
        let mut printer = Printer::new(self.format)?;
        let mut left = self.limit.unwrap_or(u64::MAX);
        while left > 0 {
            let event = if self.reverse { scan.next_back_ref() } else { scan.next_ref() };
            let Some(event) = event else { break };
            let event = event?;
            if keep(event.ordinal()) {
                printer.event(event.timestamp(), event.data())?;
                left -= 1;
            }
        }
        printer.finish()
    }
}

/// Writes events to standard output in one `--format`.
struct Printer {
    format: ScanFormat,
    out: output::Sink,
    line: String,
}

impl Printer {
    fn new(format: ScanFormat) -> Result<Printer> {
        Ok(Printer { format, out: output::open(None)?, line: String::new() })
    }

    fn event(&mut self, timestamp: i64, data: &[u8]) -> Result<()> {
        match self.format {
            ScanFormat::Data => {
                self.out.write_all(data)?;
                self.out.write_all(b"\n")?;
            }
            ScanFormat::Jsonl => {
                let line = &mut self.line;
                line.clear();
                line.push_str("{\"timestamp\":");
                write!(line, "{timestamp}").expect("writing to a String cannot fail");
                line.push(',');
                json::write_scan_data(line, "data", data);
                line.push_str("}\n");
                self.out.write_all(line.as_bytes())?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let (selection, range) = args.flags.parse(db.time_unit())?;
    let id = output::arg_bytes(&args.space)?;
    let Some(space) = db.space(&id)? else {
        diag!("esdb: no space {} in {}", display_bytes(&id), args.file.display());
        return Ok(Outcome::Ok);
    };
    let (scan, keep) = match selection {
        Selection::Grouping(grouping) => (space.scan(grouping)?, None),
        Selection::Index(name, value) => (space.scan_index(name, value)?, None),
        Selection::All => (space.events()?, None),
        Selection::Combined { grouping, indexes } => {
            let (scan, keep) = combined(&space, grouping.as_deref(), &indexes, range)?;
            (scan, Some(keep))
        }
    };
    args.flags.print_scan(scan.range(range), |ordinal| keep.as_ref().is_none_or(|keep| keep.accepts(ordinal)))?;
    Ok(Outcome::Ok)
}

/// Which events of a combined selection to keep, by their ordinal in the space.
struct Keep {
    /// The grouping's events: ordinals `start..end` (groupings are stored by name).
    grouping: Option<std::ops::Range<u64>>,
    /// For each index value but the one scanned, the ordinals of the events carrying it.
    others: Vec<std::collections::HashSet<u64>>,
}

impl Keep {
    fn accepts(&self, ordinal: u64) -> bool {
        self.grouping.as_ref().is_none_or(|range| range.contains(&ordinal))
            && self.others.iter().all(|set| set.contains(&ordinal))
    }
}

/// The scan and the filter for a combined selection: the index value with the fewest events is
/// scanned (or the grouping, without index values), the others become sets of ordinals within
/// the time range.
fn combined(
    space: &esdb_read::Space,
    grouping: Option<&[u8]>,
    indexes: &[(Vec<u8>, Vec<u8>)],
    range: TimeRange,
) -> Result<(esdb_read::Scan, Keep)> {
    let grouping_range = match grouping {
        None => None,
        Some(wanted) => {
            let mut start = 0;
            let mut found = None;
            for info in space.groupings() {
                let info = info?;
                if info.name[..] == *wanted {
                    found = Some(start..start + info.counts.n_events);
                    break;
                }
                start += info.counts.n_events;
            }
            Some(found.unwrap_or(0..0))
        }
    };
    let mut sized = Vec::with_capacity(indexes.len());
    for (name, value) in indexes {
        let n = space.index_value(name, value)?.map_or(0, |info| info.counts.n_events);
        sized.push((n, name, value));
    }
    sized.sort_by_key(|(n, _, _)| *n);
    let Some(((_, name, value), rest)) = sized.split_first() else {
        let grouping = grouping.expect("a combined selection has a grouping or index values");
        return Ok((space.scan(grouping)?, Keep { grouping: None, others: Vec::new() }));
    };
    let mut others = Vec::with_capacity(rest.len());
    for (_, name, value) in rest {
        let mut set = std::collections::HashSet::new();
        for event in space.scan_index(name, value)?.range(range) {
            set.insert(event?.ordinal());
        }
        others.push(set);
    }
    Ok((space.scan_index(name, value)?, Keep { grouping: grouping_range, others }))
}
