//! `esdb spaces`: the space ids of a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::output::{self, display_bytes};
use crate::Outcome;

/// List the spaces of a file, one id per line, in ascending order.
///
/// With --counts each line is `ID<TAB>EVENTS<TAB>MIN_TS<TAB>MAX_TS`, followed by
/// `<TAB>MIN_TIME<TAB>MAX_TIME` (RFC 3339) when the file records its time unit. Ids that are not
/// printable UTF-8 are shown with escapes such as `\xff`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  esdb spaces activity.esdb --counts | sort -t$'\\t' -k2 -n -r | head")]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Add the event count and time bounds of each space.
    #[arg(long)]
    counts: bool,
}

/// One `--counts` line: id, events and time bounds, and the bounds as RFC 3339 times when the
/// unit is known (`esdb spaces` and `esdb store spaces` alike).
pub(crate) fn counts_line(
    out: &mut impl Write,
    id: &[u8],
    events: u64,
    (min_ts, max_ts): (i64, i64),
    unit: Option<esdb_format::TimeUnit>,
) -> std::io::Result<()> {
    write!(out, "{}\t{events}\t{min_ts}\t{max_ts}", display_bytes(id))?;
    if let Some(unit) = unit {
        let time = |ts: i64| crate::timestamp::format_rfc3339(ts, unit.into()).unwrap_or_default();
        write!(out, "\t{}\t{}", time(min_ts), time(max_ts))?;
    }
    writeln!(out)
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let mut out = output::open(None)?;
    let unit = db.time_unit();
    for space in db.spaces() {
        let space = space?;
        if args.counts {
            let counts = space.counts();
            counts_line(&mut out, space.id(), counts.n_events, (counts.min_ts, counts.max_ts), unit)?;
        } else {
            writeln!(out, "{}", display_bytes(space.id()))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
