//! `esdb verify`: every checksum and structural invariant.

use std::path::PathBuf;

use anyhow::Result;

use crate::{progress, Outcome};

/// Check every checksum and every structural invariant of a file.
///
/// Prints `ok` and exits 0 for a sound file. Otherwise lists each problem with its section and
/// file offset and exits 1. A file that cannot be opened at all exits 2.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  esdb verify archive/2024-05.esdb || echo corrupt")]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = match super::open_db(&args.file) {
        Ok(db) => db,
        Err(err) => {
            diag!("esdb: error: {err:#}");
            return Ok(Outcome::Exit(2));
        }
    };
    let bar = progress::bytes(Some(db.file_len()), args.quiet, "verifying");
    let report = db.verify_with_progress(&mut |n| bar.inc(n));
    bar.finish_and_clear();
    if report.is_ok() {
        outln!("ok")?;
        return Ok(Outcome::Ok);
    }
    for problem in &report.problems {
        match problem.as_decode() {
            Some(err) => outln!("{err}")?,
            None => outln!("{problem:#}")?,
        }
    }
    diag!("esdb: {} problem(s) in {}", report.problems.len(), args.file.display());
    Ok(Outcome::Exit(1))
}
