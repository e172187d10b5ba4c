//! `cargo xtask gen`: the benchmark datasets as files, from a seed and a size.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use esdb_bench::{Activities, Visits, VISITS_HEADER};

const USAGE: &str = "usage: cargo xtask gen visits|activity [--events N] [--seed S] [--users U] [-o PATH]
  visits:   CSV `type,host,city,visitor,timestamp` (default 1,000,000 events, 20,000 users)
  activity: JSON Lines customer timelines (default 1,000,000 events, 20,000 customers)
  default output: target/datasets/<name>-<events>-<seed>.csv|jsonl";

fn flag(args: &[&str], name: &str) -> Result<Option<String>> {
    match args.iter().position(|a| *a == name) {
        Some(pos) => {
            Ok(Some(args.get(pos + 1).with_context(|| format!("{name} needs a value\\n{USAGE}"))?.to_string()))
        }
        None => Ok(None),
    }
}

/// Runs `cargo xtask gen ARGS`.
pub fn run(args: &[&str]) -> Result<()> {
    let Some(&name) = args.first() else { bail!("{USAGE}") };
    let events: usize = flag(args, "--events")?.map_or(Ok(1_000_000), |v| v.parse()).context("--events")?;
    let seed: u64 = flag(args, "--seed")?.map_or(Ok(1), |v| v.parse()).context("--seed")?;
    let users: usize = flag(args, "--users")?.map_or(Ok(20_000), |v| v.parse()).context("--users")?;
    let extension = match name {
        "visits" => "csv",
        "activity" => "jsonl",
        _ => bail!("unknown dataset {name:?}\n{USAGE}"),
    };
    let path = match flag(args, "-o")? {
        Some(path) => PathBuf::from(path),
        None => {
            let dir = crate::root().join("target/datasets");
            std::fs::create_dir_all(&dir)?;
            dir.join(format!("{name}-{events}-{seed}.{extension}"))
        }
    };
    let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    if name == "visits" {
        writeln!(out, "{VISITS_HEADER}")?;
        for visit in Visits::new(users, seed).take(events) {
            writeln!(out, "{}", visit.csv())?;
        }
    } else {
        for activity in Activities::new(users, seed).take(events) {
            writeln!(out, "{}", activity.data)?;
        }
    }
    out.flush()?;
    println!("{}", path.display());
    Ok(())
}
