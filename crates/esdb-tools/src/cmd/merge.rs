//! `esdb merge`: several files into one, in bounded memory.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use esdb_write::{Writer, WriterOptions};

use super::import::CompressionFlags;
use crate::{progress, Outcome};

/// Merge files into one new file holding all their events (e.g. daily files into a month).
///
/// Per-space order is preserved; events of different inputs with equal timestamps keep the
/// order of the inputs on the command line. Memory stays within --memory; larger merges spill to
/// temporary files beside the output.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  esdb merge -o 2024-05.esdb 2024-05-*.esdb")]
pub struct Args {
    /// The ESDB file to create; it must not exist (`-`: write it to standard output).
    #[arg(short, long, value_name = "OUT.esdb")]
    output: PathBuf,
    /// The files to merge, in order.
    #[arg(required = true, value_name = "IN.esdb")]
    inputs: Vec<PathBuf>,
    /// Memory budget of the writer in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    memory: usize,
    #[command(flatten)]
    compression: CompressionFlags,
    /// Index to cover in the output, besides those any input covers; repeat for several.
    #[arg(long = "covering-index", value_name = "NAME")]
    covering_indexes: Vec<String>,
    /// Cover the output's timelines (see `esdb import --covering-timeline`); also done when an
    /// input covers its timelines.
    #[arg(long)]
    covering_timeline: bool,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

/// The time unit the inputs record: the same for every input that records one.
fn common_time_unit(dbs: &[esdb_read::Db], paths: &[PathBuf]) -> Result<Option<esdb_write::TimeUnit>> {
    let mut found: Option<(esdb_write::TimeUnit, &PathBuf)> = None;
    for (db, path) in dbs.iter().zip(paths) {
        match (db.time_unit(), found) {
            (Some(unit), Some((first, first_path))) if unit != first => bail!(
                "cannot merge {} (timestamps in {unit}) with {} (in {first}): convert one first",
                path.display(),
                first_path.display()
            ),
            (Some(unit), None) => found = Some((unit, path)),
            _ => {}
        }
    }
    Ok(found.map(|(unit, _)| unit))
}

/// The indexes the output covers: every one an input covers, and those asked for.
fn covering_indexes(dbs: &[esdb_read::Db], asked: &[String]) -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> =
        dbs.iter().flat_map(|db| db.covering_index_names()).map(|name| name.to_vec()).collect();
    names.extend(asked.iter().map(|name| name.clone().into_bytes()));
    names.sort_unstable();
    names.dedup();
    names
}

pub fn run(args: Args) -> Result<Outcome> {
    let dbs = args.inputs.iter().map(|path| super::open_db(path)).collect::<Result<Vec<_>>>()?;
    let (compression, zstd_dictionary) = args.compression.options();
    let options = WriterOptions::default()
        .with_memory_budget(args.memory.max(1) << 20)
        .with_compression(compression)
        .with_zstd_dictionary(zstd_dictionary)
        .with_time_unit(common_time_unit(&dbs, &args.inputs)?)
        .with_covering_indexes(covering_indexes(&dbs, &args.covering_indexes))
        .with_covering_timeline(args.covering_timeline || dbs.iter().any(esdb_read::Db::covers_timeline));
    let target = super::OutputFile::new(&args.output)?;
    let mut writer = Writer::create_with(&target.path, options)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let bar = progress::events(dbs.iter().map(|db| db.len()).sum(), args.quiet, "merging");
    for (db, path) in dbs.iter().zip(&args.inputs) {
        for space in db.spaces() {
            let space = space.with_context(|| format!("cannot read {}", path.display()))?;
            for record in space.records().with_context(|| format!("cannot read {}", path.display()))? {
                let record = record.with_context(|| format!("cannot read {}", path.display()))?;
                writer.add(
                    space.id(),
                    record.event.timestamp(),
                    &record.grouping,
                    record.indexes.iter().map(|(n, v)| (n, v)),
                    record.event.data(),
                )?;
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let summary = writer.finish().with_context(|| format!("cannot write {}", args.output.display()))?;
    target.deliver()?;
    if !args.quiet {
        diag!(
            "merged {} files into {} ({} events, {} spaces, {} bytes)",
            args.inputs.len(),
            args.output.display(),
            summary.n_events,
            summary.n_spaces,
            summary.file_len
        );
    }
    Ok(Outcome::Ok)
}
