//! `esdb spaces`: the space ids of a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;

use crate::output::{self, display_bytes};
use crate::Outcome;

/// List the spaces of a file, one id per line, in ascending order.
///
/// With --counts each line is `ID<TAB>EVENTS<TAB>MIN_TS<TAB>MAX_TS`. Ids that are not printable
/// UTF-8 are shown with escapes such as `\xff`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  esdb spaces activity.esdb --counts | sort -t$'\\t' -k2 -n -r | head")]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Add the event count and time bounds of each space.
    #[arg(long)]
    counts: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let mut out = output::open(None)?;
    for space in db.spaces() {
        let space = space?;
        if args.counts {
            let counts = space.counts();
            writeln!(out, "{}\t{}\t{}\t{}", display_bytes(space.id()), counts.n_events, counts.min_ts, counts.max_ts)?;
        } else {
            writeln!(out, "{}", display_bytes(space.id()))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}
