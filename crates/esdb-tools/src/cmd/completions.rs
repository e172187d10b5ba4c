//! `esdb completions` and `esdb man`: shell completions and the manual page, generated from the
//! same definitions as `--help`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::Outcome;

/// Print a shell completion script.
///
/// Install it where your shell looks for completions, e.g.
/// `esdb completions bash > ~/.local/share/bash-completion/completions/esdb`,
/// `esdb completions zsh > ~/.zfunc/_esdb`,
/// `esdb completions fish > ~/.config/fish/completions/esdb.fish`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Print the manual page (roff), for `man`: `esdb man > esdb.1 && man ./esdb.1`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {}

pub fn run(args: Args) -> Result<Outcome> {
    let mut command = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "esdb", &mut out);
    write_stdout(&out)
}

pub fn man(_args: ManArgs) -> Result<Outcome> {
    let mut out = Vec::new();
    clap_mangen::Man::new(crate::Cli::command()).render(&mut out).context("cannot render the manual page")?;
    write_stdout(&out)
}

fn write_stdout(bytes: &[u8]) -> Result<Outcome> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).context("cannot write to standard output")?;
    Ok(Outcome::Ok)
}
