//! `esdb`: the command-line tool for ESDB files.
//!
//! One module per subcommand under `cmd/`, each with a `run` function; this file parses the
//! arguments, dispatches, and turns errors into messages and exit codes.
#![forbid(unsafe_code)]

#[macro_use]
mod output;
mod cmd;
mod json;
mod progress;
mod timestamp;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Immutable storage for timestamped event streams: import, query and check ESDB files.
#[derive(Debug, Parser)]
#[command(name = "esdb", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Import(cmd::import::Args),
    Scan(cmd::scan::Args),
    Spaces(cmd::spaces::Args),
    Info(cmd::info::Args),
    Verify(cmd::verify::Args),
    Dump(cmd::dump::Args),
    Merge(cmd::merge::Args),
    Export(cmd::export::Args),
    Sql(cmd::sql::Args),
    Store(cmd::store::Args),
    Completions(cmd::completions::Args),
    Man(cmd::completions::ManArgs),
}

/// What a command reports besides success or an error.
pub enum Outcome {
    /// Done; exit 0.
    Ok,
    /// Ran to the end but found problems (verify); exit with this code.
    Exit(u8),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Import(args) => cmd::import::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Spaces(args) => cmd::spaces::run(args),
        Command::Info(args) => cmd::info::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Dump(args) => cmd::dump::run(args),
        Command::Merge(args) => cmd::merge::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Sql(args) => cmd::sql::run(args),
        Command::Store(args) => cmd::store::run(args),
        Command::Completions(args) => cmd::completions::run(args),
        Command::Man(args) => cmd::completions::man(args),
    };
    let code = match result {
        Ok(Outcome::Ok) => 0,
        Ok(Outcome::Exit(code)) => code,
        Err(err) if output::is_broken_pipe(&err) => 0,
        Err(err) => {
            output::diag!("esdb: error: {}", error_text(&err));
            err.downcast_ref::<cmd::store::CannotOpen>().map_or(1, |_| 2)
        }
    };
    if code == 0 && output::stderr_has_failed() {
        return ExitCode::FAILURE;
    }
    ExitCode::from(code)
}

/// An error and its causes on one line, as `{:#}` prints them, leaving out a cause whose text the
/// line already holds (some libraries repeat their source's text in their own) and joining the
/// lines of a cause that has several (a server's XML error body).
fn error_text(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string().lines().map(str::trim).collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            text = cause;
        } else if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}
