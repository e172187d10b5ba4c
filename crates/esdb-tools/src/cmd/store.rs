//! `esdb store`: a live event store directory (append, replay, query, seal, compact, retain).

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Subcommand, ValueEnum};
use esdb_store::{Durability, LogRetention, NewEvent, PartitionRetention, Retention, Store, StoreOptions};
use serde_json::{json, Value};

use super::export::{self, ExportFormat};
use super::import::{FieldSpec, Fields};
use super::scan::{ScanFlags, Selection};
use crate::output::{self, display_bytes};
use crate::timestamp::TimeUnit;
use crate::{json, Outcome};

const EXAMPLES: &str = "\
Examples:
  producer | esdb store append events/ --space user --timestamp time --index type --id event_id
  esdb store read events/ --from 0 --follow
  esdb store scan events/ user-1 --index type=purchase --reverse --limit 10
  esdb store spaces events/ --counts
  esdb store export events/ --format parquet -o events.parquet
  esdb store seal events/ && esdb store compact events/
  esdb store retain events/ --log-max-age 604800 --partition-max-age 31536000
  esdb store tier events/ --remote s3://archive/events --local-bytes 10000000000
  esdb store verify events/ || esdb store repair events/";

/// A live event store: a durable append-only log sealed into ESDB partitions.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Append(AppendArgs),
    Read(ReadArgs),
    Scan(ScanArgs),
    Spaces(SpacesArgs),
    Export(ExportArgs),
    /// Move the unsealed log into ESDB partitions, one or more per time window.
    Seal(MaintainArgs),
    /// Merge the partitions of each window that has several into one.
    Compact(MaintainArgs),
    Retain(RetainArgs),
    Tier(TierArgs),
    /// Offsets, durability, the unsealed tail, segments, partitions and the store's metrics.
    ///
    /// With --json, one JSON object: the same figures as `Store::info` and `Store::metrics`.
    Info(InfoArgs),
    /// Check the MANIFEST, every log record and every partition byte; exit 1 on problems.
    ///
    /// Also checks every claim of the MANIFEST against the files and lists files it does not
    /// name. Exit 0 when all is well, 1 on problems, 2 when the directory is not a store.
    /// Writes nothing and takes no lock: it runs beside a writer and on read-only media.
    Verify(DirArgs),
    /// Rebuild the MANIFEST from the files; moves what it cannot use into quarantine/.
    ///
    /// For a MANIFEST that is lost, stale (restored from a backup) or damaged, or a log damaged
    /// in the middle. Keeps every intact record and partition it can place, moves what it
    /// cannot use into quarantine/, deletes nothing, and prints what it did. Needs the writer's
    /// lock: stop the writer first.
    Repair(RepairArgs),
}

/// A store directory to repair.
#[derive(Debug, clap::Args)]
struct RepairArgs {
    /// The store directory.
    dir: PathBuf,
    /// The store's partition window, needed only when the MANIFEST is lost and the partitions do
    /// not fit the default of 86400.
    #[arg(long, value_name = "N")]
    partition_window: Option<i64>,
}

/// The store could not be opened: `esdb` exits 2.
#[derive(Debug)]
pub struct CannotOpen;

impl std::fmt::Display for CannotOpen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot open the store")
    }
}

impl std::error::Error for CannotOpen {}

/// Turns an error of opening a store into one that exits 2.
fn cannot_open(dir: &Path) -> impl FnOnce(esdb_store::Error) -> anyhow::Error + '_ {
    move |err| anyhow::Error::new(err).context(CannotOpen).context(format!("cannot open store {}", dir.display()))
}

/// When `store append` acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DurabilityArg {
    /// Each batch read from standard input is fsynced before its line is printed.
    Sync,
    /// A background fsync every --interval-ms; lines are printed as fsyncs complete.
    Buffered,
}

/// Append JSON Lines from standard input; print {"durable_through": OFFSET} after each durable
/// commit.
///
/// Lines are appended in batches of what is available on standard input (one fsync per batch
/// with --durability sync). A bad line stops the command with its line number after the lines
/// before it were committed.
#[derive(Debug, clap::Args)]
struct AppendArgs {
    /// The store directory; created if missing.
    dir: PathBuf,
    /// When an append is acknowledged.
    #[arg(long, value_enum, default_value_t = DurabilityArg::Sync)]
    durability: DurabilityArg,
    /// Background fsync interval for --durability buffered.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    interval_ms: u64,
    /// Field holding the space id.
    #[arg(long, value_name = "FIELD")]
    space: String,
    /// Field holding the timestamp: an integer in --time-unit, or an RFC 3339 string.
    #[arg(long, value_name = "FIELD")]
    timestamp: String,
    /// Field holding the grouping; records without it go to the default grouping.
    #[arg(long, value_name = "FIELD")]
    grouping: Option<String>,
    /// Field to index; repeat for several. A JSON array indexes every element.
    #[arg(long = "index", value_name = "FIELD")]
    indexes: Vec<String>,
    /// Field holding the event id: a retried event with an id already stored is not stored again.
    #[arg(long, value_name = "FIELD")]
    id: Option<String>,
    /// Store only this field as the event data instead of the whole record.
    #[arg(long, value_name = "FIELD")]
    data: Option<String>,
    /// Unit of the stored timestamps, recorded by a new store (default s); RFC 3339 input is
    /// converted to it. For an existing store: its recorded unit, and an error if another is given.
    #[arg(long, value_enum)]
    time_unit: Option<TimeUnit>,
    /// Width of a partition's time window in timestamp units, recorded by a new store (default
    /// 86400). For an existing store: an error if it differs from the recorded one.
    #[arg(long, value_name = "N")]
    partition_window: Option<i64>,
    /// Seal the unsealed log into partitions once it holds this many bytes (0: never by size).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    seal_after_bytes: u64,
    /// Seal once the oldest unsealed event was appended this many seconds ago (0: never by age).
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    seal_after_secs: u64,
    /// Memory for unsealed events and sealing them; appends wait for a seal beyond it.
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    memory_budget: u64,
    /// Refuse events stamped more than this many seconds ahead of the clock (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400)]
    max_future_skew: u64,
    #[command(flatten)]
    tier: TierFlags,
    #[command(flatten)]
    layout: LayoutFlags,
}

/// What the partitions sealed or compacted from now on cover, for the commands that write them.
/// The store records it: without these flags, the recorded layout goes on.
#[derive(Debug, clap::Args)]
struct LayoutFlags {
    /// Index whose values' events the partitions keep a second time, in a data stream of their
    /// own, so that an index scan of sealed history reads at the speed of a grouping scan
    /// (repeat for several; replaces the recorded names). Costs about the covered events' size
    /// again.
    #[arg(long = "covering-index", value_name = "NAME", conflicts_with = "no_covering")]
    covering_indexes: Vec<String>,
    /// Partitions keep each space's events a second time in timestamp order, so that a scan of
    /// a whole space reads them in sequence instead of merging its groupings.
    #[arg(long, conflicts_with = "no_covering")]
    covering_timeline: bool,
    /// Partitions from now on cover no index and no timeline.
    #[arg(long)]
    no_covering: bool,
}

impl LayoutFlags {
    fn apply(&self, options: StoreOptions) -> StoreOptions {
        if self.no_covering {
            return options.with_covering_indexes(Vec::<Vec<u8>>::new()).with_covering_timeline(false);
        }
        let options = if self.covering_indexes.is_empty() {
            options
        } else {
            options.with_covering_indexes(self.covering_indexes.iter().map(|name| name.clone().into_bytes()))
        };
        if self.covering_timeline {
            options.with_covering_timeline(true)
        } else {
            options
        }
    }
}

/// A store directory and the layout of the partitions a command writes.
#[derive(Debug, clap::Args)]
struct MaintainArgs {
    /// The store directory.
    dir: PathBuf,
    #[command(flatten)]
    layout: LayoutFlags,
}

/// The remote tier, for the commands that seal or tier.
#[derive(Debug, clap::Args)]
struct TierFlags {
    /// Copy sealed partitions to this object-store location (s3://BUCKET/PREFIX, configured from
    /// the AWS_* variables, or file:///PATH), recorded by the store; with `store append`, after
    /// every automatic seal.
    #[arg(long, value_name = "URL")]
    remote: Option<String>,
    /// Keep at most BYTES of partitions in the store directory once they are remote (oldest
    /// windows leave first; they are then read in place from the remote tier).
    #[arg(long, value_name = "BYTES")]
    local_bytes: Option<u64>,
}

impl TierFlags {
    fn apply(&self, options: StoreOptions) -> StoreOptions {
        let options = options.with_local_partition_bytes(self.local_bytes);
        match &self.remote {
            Some(remote) => options.with_remote(remote),
            None => options,
        }
    }
}

/// Copy sealed partitions to the remote tier and keep local copies within --local-bytes.
///
/// Each copy is read back and compared with its file before the MANIFEST names it remote; only
/// then may its local file be deleted. Also deletes remote copies of partitions that compaction
/// or retention replaced. Prints what it did.
#[derive(Debug, clap::Args)]
struct TierArgs {
    /// The store directory.
    dir: PathBuf,
    #[command(flatten)]
    tier: TierFlags,
}

/// Print the log in offset order: {"offset":…,"space":…,"timestamp":…,"data":…} per line.
#[derive(Debug, clap::Args)]
struct ReadArgs {
    /// The store directory.
    dir: PathBuf,
    /// First offset to print.
    #[arg(long, value_name = "OFFSET", default_value_t = 0)]
    from: u64,
    /// After the last event, wait for new ones (until interrupted).
    #[arg(long)]
    follow: bool,
}

/// Print the events of one space across sealed partitions and the unsealed log, as `esdb scan`.
#[derive(Debug, clap::Args)]
struct ScanArgs {
    /// The store directory.
    dir: PathBuf,
    /// The space id.
    space: String,
    #[command(flatten)]
    flags: ScanFlags,
}

/// List the spaces of the store, one id per line, in ascending order, as `esdb spaces`.
///
/// Across sealed partitions and the unsealed log. With --counts each line is
/// `ID<TAB>EVENTS<TAB>MIN_TS<TAB>MAX_TS`, followed by `<TAB>MIN_TIME<TAB>MAX_TIME` (RFC 3339) when
/// the store records its time unit. Ids that are not printable UTF-8 are shown with escapes such
/// as `\xff`, which `esdb store scan` takes back.
#[derive(Debug, clap::Args)]
struct SpacesArgs {
    /// The store directory.
    dir: PathBuf,
    /// Add the event count and time bounds of each space.
    #[arg(long)]
    counts: bool,
}

/// Write every event of the store, as `esdb export` of one file holding the same events.
///
/// Sealed partitions and the unsealed log together; spaces in id order, events within a space in
/// (timestamp, offset) order.
#[derive(Debug, clap::Args)]
struct ExportArgs {
    /// The store directory.
    dir: PathBuf,
    /// Write to this new file instead of standard output (`-`: standard output). The file
    /// appears only once complete.
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

/// A store directory to describe.
#[derive(Debug, clap::Args)]
struct InfoArgs {
    /// The store directory.
    dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// A store directory.
#[derive(Debug, clap::Args)]
struct DirArgs {
    /// The store directory.
    dir: PathBuf,
}

/// Delete sealed log segments and partitions past their retention.
#[derive(Debug, clap::Args)]
struct RetainArgs {
    /// The store directory.
    dir: PathBuf,
    /// Delete sealed log segments whose last event was appended more than SECONDS ago.
    #[arg(long, value_name = "SECONDS")]
    log_max_age: Option<u64>,
    /// Delete the oldest sealed log segments while the log is larger than BYTES.
    #[arg(long, value_name = "BYTES")]
    log_max_bytes: Option<u64>,
    /// Delete partitions whose whole window ended more than N timestamp units ago, measured by
    /// the wall clock in the store's time unit (never by the newest timestamp appended).
    #[arg(long, value_name = "N")]
    partition_max_age: Option<i64>,
}

pub fn run(args: Args) -> Result<Outcome> {
    match args.command {
        Command::Append(args) => append(args),
        Command::Read(args) => read(args),
        Command::Scan(args) => scan(args),
        Command::Spaces(args) => spaces(&args),
        Command::Export(args) => {
            let store = open_for_reading(&args.dir)?;
            export::export(&export::Input::Store(&store), args.output.as_deref(), args.format, args.quiet)?;
            Ok(Outcome::Ok)
        }
        Command::Seal(args) => {
            let store = open_writable(&args.dir, args.layout.apply(StoreOptions::default()))?;
            let report = store.seal()?;
            diag!("sealed {} events into {} partitions", report.events, report.partitions.len());
            store.close()?;
            Ok(Outcome::Ok)
        }
        Command::Compact(args) => {
            let store = open_writable(&args.dir, args.layout.apply(StoreOptions::default()))?;
            let report = store.compact()?;
            diag!("merged {} partitions of {} windows into {}", report.merged, report.windows, report.partitions.len());
            store.close()?;
            Ok(Outcome::Ok)
        }
        Command::Retain(args) => {
            let retention = Retention::default()
                .with_log(
                    LogRetention::default()
                        .with_max_age(args.log_max_age.map(Duration::from_secs))
                        .with_max_bytes(args.log_max_bytes),
                )
                .with_partitions(PartitionRetention::default().with_max_age(args.partition_max_age));
            let store = open_writable(&args.dir, StoreOptions::default())?;
            let report = store.retain_with(&retention)?;
            diag!(
                "removed {} log segments (log now starts at offset {}) and {} partitions ({} events)",
                report.segments,
                report.log_start,
                report.partitions,
                report.partition_events
            );
            store.close()?;
            Ok(Outcome::Ok)
        }
        Command::Tier(args) => {
            let store = open_writable(&args.dir, args.tier.apply(StoreOptions::default()))?;
            let report = store.tier()?;
            diag!(
                "uploaded {} partitions ({} bytes), deleted {} local copies ({} bytes) and {} replaced remote copies; {} bytes of partitions are local, {} partitions only remote",
                report.uploaded,
                report.uploaded_bytes,
                report.evicted,
                report.evicted_bytes,
                report.deleted_remote,
                report.local_bytes,
                report.remote_only
            );
            store.close()?;
            Ok(Outcome::Ok)
        }
        Command::Info(args) => info(&args.dir, args.json),
        Command::Verify(args) => verify(&args.dir),
        Command::Repair(args) => repair(&args.dir, args.partition_window),
    }
}

/// The store for one maintenance command: no automatic seals.
fn open_writable(dir: &Path, options: StoreOptions) -> Result<Store> {
    open_store(dir, options.with_seal_after_bytes(None).with_seal_after_age(None))
}

/// The store for writing, with what opening recovered reported on standard error.
fn open_store(dir: &Path, options: StoreOptions) -> Result<Store> {
    let store = Store::open(dir, options).map_err(cannot_open(dir))?;
    let recovery = store.recovery();
    if recovery.torn_bytes > 0 {
        diag!("esdb: recovered {}: cut {} bytes of an interrupted write", dir.display(), recovery.torn_bytes);
    }
    for orphan in &recovery.removed_orphans {
        diag!("esdb: recovered {}: removed {}", dir.display(), orphan.display());
    }
    for file in &recovery.quarantined {
        diag!("esdb: recovered {}: moved {} (not named by the MANIFEST)", dir.display(), file.display());
    }
    for problem in &recovery.problems {
        diag!("esdb: warning: {problem}");
    }
    Ok(store)
}

/// The store for reading: read-only, whether or not another process writes it. Takes no lock
/// and writes nothing, so it never blocks a writer and works on read-only media.
fn open_for_reading(dir: &Path) -> Result<Store> {
    let store = Store::open_read_only(dir).map_err(cannot_open(dir))?;
    for problem in &store.recovery().problems {
        diag!("esdb: warning: {problem}");
    }
    Ok(store)
}

fn append(args: AppendArgs) -> Result<Outcome> {
    let durability = match args.durability {
        DurabilityArg::Sync => Durability::Sync,
        DurabilityArg::Buffered => Durability::Buffered { interval: Duration::from_millis(args.interval_ms.max(1)) },
    };
    let nonzero = |value: u64| (value > 0).then_some(value);
    let new_store = esdb_store::Manifest::load(&args.dir).ok().flatten().is_none();
    // A new store records seconds unless told otherwise; an existing one keeps what it records.
    let time_unit = args.time_unit.or(new_store.then_some(TimeUnit::S));
    let options = StoreOptions::default()
        .with_durability(durability)
        .with_partition_window(args.partition_window)
        .with_time_unit(time_unit.map(Into::into))
        .with_seal_after_bytes(nonzero(args.seal_after_bytes))
        .with_seal_after_age(nonzero(args.seal_after_secs).map(Duration::from_secs))
        .with_memory_budget(args.memory_budget)
        .with_max_future_skew(nonzero(args.max_future_skew).map(Duration::from_secs));
    if let Some(name) = args.layout.covering_indexes.iter().find(|name| !args.indexes.contains(name)) {
        anyhow::bail!("--covering-index {name:?} names no --index field; cover one of the indexed fields");
    }
    let store = open_store(&args.dir, args.layout.apply(args.tier.apply(options)))?;
    let spec = FieldSpec {
        space: &args.space,
        timestamp: &args.timestamp,
        grouping: args.grouping.as_deref(),
        indexes: &args.indexes,
        data: args.data.as_deref(),
        time_unit: store.time_unit().map_or(TimeUnit::S, Into::into),
    };
    let mut input = io::BufReader::with_capacity(1 << 16, io::stdin().lock());
    let mut out = io::stdout().lock();
    let mut reported: Option<u64> = None;
    let mut report = |durable: Option<u64>, out: &mut dyn Write| -> Result<()> {
        if let Some(offset) = durable.filter(|offset| reported.is_none_or(|r| *offset > r)) {
            writeln!(out, "{{\"durable_through\":{offset}}}")?;
            out.flush()?;
            reported = Some(offset);
        }
        Ok(())
    };
    let mut line_no = 0u64;
    let mut line = Vec::new();
    loop {
        // One batch: a line, then whatever else standard input already has buffered.
        let mut batch = Vec::new();
        let mut failure = None;
        let mut at_end = false;
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line).context("cannot read standard input")? == 0 {
                at_end = true;
                break;
            }
            line_no += 1;
            match parse_line(&line, &spec, args.id.as_deref()) {
                Ok(Some(event)) => batch.push(event),
                Ok(None) => {}
                Err(err) => {
                    failure = Some(anyhow!("line {line_no}: {err:#}"));
                    break;
                }
            }
            if batch.len() >= 10_000 || input.buffer().is_empty() {
                break;
            }
        }
        if !batch.is_empty() {
            store.append_batch(&batch).with_context(|| format!("cannot append to {}", args.dir.display()))?;
        }
        if let Some(err) = failure {
            report(store.sync()?, &mut out)?;
            return Err(err);
        }
        if at_end {
            report(store.sync()?, &mut out)?;
            store.close()?;
            return Ok(Outcome::Ok);
        }
        report(store.durable_through(), &mut out)?;
    }
}

/// One input line as an event; `None` for a blank line.
fn parse_line(line: &[u8], spec: &FieldSpec<'_>, id_field: Option<&str>) -> Result<Option<NewEvent>> {
    let line = std::str::from_utf8(line).map_err(|_| anyhow!("line is not valid UTF-8"))?.trim();
    if line.is_empty() {
        return Ok(None);
    }
    let object = super::import::parse_object(line)?;
    let fields = Fields::Json { object: &object, line };
    let extracted = spec.extract(&fields)?;
    let mut event = NewEvent::new(extracted.space, extracted.timestamp, extracted.data).grouping(extracted.grouping);
    for (name, value) in extracted.indexes {
        event = event.index(name, value);
    }
    if let Some(field) = id_field {
        if let Some(value) = fields.get(field)? {
            event = event.id(super::import::scalar_bytes(&value, field)?);
        }
    }
    Ok(Some(event))
}

fn read(args: ReadArgs) -> Result<Outcome> {
    let store = open_for_reading(&args.dir)?;
    let reader = if args.follow { store.follow(args.from)? } else { store.read_from(args.from)? };
    let mut out = output::open(None)?;
    let mut line = String::new();
    for event in reader {
        let event = event?;
        line.clear();
        line.push_str("{\"offset\":");
        line.push_str(&event.offset.to_string());
        line.push(',');
        json::write_bytes(&mut line, "space", &event.space);
        line.push_str(",\"timestamp\":");
        line.push_str(&event.timestamp.to_string());
        line.push(',');
        json::write_scan_data(&mut line, "data", &event.data);
        line.push_str("}\n");
        out.write_all(line.as_bytes())?;
        if args.follow {
            out.flush()?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn scan(args: ScanArgs) -> Result<Outcome> {
    let store = open_for_reading(&args.dir)?;
    let (selection, range) = args.flags.parse(store.time_unit())?;
    let id = output::arg_bytes(&args.space)?;
    let Some(space) = store.space(&id)? else {
        diag!("esdb: no space {} in {}", display_bytes(&id), args.dir.display());
        return Ok(Outcome::Ok);
    };
    let scan = match selection {
        Selection::Grouping(grouping) => space.scan(grouping)?,
        Selection::Index(name, value) => space.scan_index(name, value)?,
        Selection::All => space.events()?,
        Selection::Combined { .. } => {
            anyhow::bail!("store scan takes one of --grouping or --index; combining them is `esdb scan` of a file only")
        }
    };
    args.flags.print(scan.range(range).map(|event| {
        let event = event?;
        Ok((event.timestamp(), event.into_data()))
    }))?;
    Ok(Outcome::Ok)
}

fn spaces(args: &SpacesArgs) -> Result<Outcome> {
    let store = open_for_reading(&args.dir)?;
    let mut out = output::open(None)?;
    let unit = store.time_unit();
    for space in store.spaces()? {
        if args.counts {
            super::spaces::counts_line(&mut out, &space.id, space.events, (space.min_ts, space.max_ts), unit)?;
        } else {
            writeln!(out, "{}", display_bytes(&space.id))?;
        }
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn info(dir: &Path, as_json: bool) -> Result<Outcome> {
    let store = open_for_reading(dir)?;
    let info = store.info()?;
    let manifest = &info.manifest;
    if as_json {
        outln!("{}", info_json(dir, &store, &info))?;
        return Ok(Outcome::Ok);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "store:            {}", dir.display())?;
    writeln!(out, "store id:         {} (generation {})", manifest.store_id, manifest.generation)?;
    writeln!(
        out,
        "offsets:          {}..{} (log starts at {})",
        manifest.log_start, info.next_offset, manifest.log_start
    )?;
    writeln!(out, "durable through:  {}", info.durable_through.map_or("-".into(), |o| o.to_string()))?;
    writeln!(out, "sealed through:   {}", manifest.sealed_through)?;
    writeln!(out, "time unit:        {}", manifest.time_unit.as_deref().unwrap_or("-"))?;
    writeln!(out, "unsealed:         {} events, {} bytes of log", info.tail_events, info.tail_bytes)?;
    writeln!(out, "log:              {} segments, {} bytes", manifest.segments.len(), info.log_bytes)?;
    writeln!(
        out,
        "partitions:       {} ({} events, {} bytes; window {} units)",
        manifest.partitions.len(),
        manifest.partitions.iter().map(|p| p.events).sum::<u64>(),
        info.partition_bytes,
        manifest.partition_window
    )?;
    writeln!(out, "covering:         {}", covering_summary(manifest))?;
    if let Some(remote) = &manifest.remote {
        let remote_only = manifest.partitions.iter().filter(|p| !p.local).count();
        let copied = manifest.partitions.iter().filter(|p| p.remote).count();
        writeln!(out, "remote tier:      {remote} ({copied} partitions copied, {remote_only} only remote)")?;
    }
    let unit = store.time_unit().map(TimeUnit::from);
    // Beside the integers, the times they stand for once the store records its unit.
    let time = |ts: i64| match unit.and_then(|unit| crate::timestamp::format_rfc3339(ts, unit)) {
        Some(text) => format!("{ts} ({text})"),
        None => ts.to_string(),
    };
    for partition in &manifest.partitions {
        let windows = match partition.last_window() {
            last if last == partition.window => partition.window.to_string(),
            last => format!("{}..={last}", partition.window),
        };
        let place = match (partition.local, partition.remote) {
            (true, false) if manifest.remote.is_some() => "  local",
            (true, true) => "  local+remote",
            (false, _) => "  remote",
            (true, false) => "",
        };
        writeln!(
            out,
            "  {}  window {windows}  {} events  ts {}..={}  offsets {}..={}{place}",
            partition.file,
            partition.events,
            time(partition.min_ts),
            time(partition.max_ts),
            partition.first_offset,
            partition.last_offset
        )?;
    }
    Ok(Outcome::Ok)
}

/// What new partitions cover, as `store info` prints it: `-`, or the index names and `timeline`.
fn covering_summary(manifest: &esdb_store::Manifest) -> String {
    let mut parts: Vec<String> = manifest.covering_indexes.iter().map(|name| format!("index {name}")).collect();
    if manifest.covering_timeline {
        parts.push("timeline".into());
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

/// `store info --json`: the store's state and its metrics as one JSON object.
fn info_json(dir: &Path, store: &Store, info: &esdb_store::StoreInfo) -> Value {
    let manifest = &info.manifest;
    let metrics = store.metrics();
    let secs = |d: Duration| d.as_secs_f64();
    json!({
        "store": dir.display().to_string(),
        "store_id": manifest.store_id,
        "generation": manifest.generation,
        "layout_version": manifest.version,
        "time_unit": manifest.time_unit,
        "partition_window": manifest.partition_window,
        "log_start": manifest.log_start,
        "next_offset": info.next_offset,
        "durable_through": info.durable_through,
        "sealed_through": manifest.sealed_through,
        "tail": { "events": info.tail_events, "bytes": info.tail_bytes, "memory": info.tail_memory },
        "log": { "segments": manifest.segments.len(), "bytes": info.log_bytes },
        "partitions": {
            "count": manifest.partitions.len(),
            "events": manifest.partitions.iter().map(|p| p.events).sum::<u64>(),
            "bytes": info.partition_bytes,
            "files": manifest.partitions.iter().map(|p| json!({
                "file": p.file, "window": p.window, "last_window": p.last_window(), "events": p.events,
                "min_ts": p.min_ts, "max_ts": p.max_ts, "first_offset": p.first_offset, "last_offset": p.last_offset,
                "local": p.local, "remote": p.remote,
            })).collect::<Vec<_>>(),
        },
        "remote": manifest.remote,
        "covering_indexes": manifest.covering_indexes,
        "covering_timeline": manifest.covering_timeline,
        "metrics": {
            "appended_events": metrics.appended_events,
            "appended_bytes": metrics.appended_bytes,
            "fsyncs": metrics.fsyncs,
            "fsync_seconds": secs(metrics.fsync_time),
            "fsync_max_seconds": secs(metrics.fsync_max),
            "durable_lag": metrics.durable_lag,
            "tail_events": metrics.tail_events,
            "tail_bytes": metrics.tail_bytes,
            "tail_memory": metrics.tail_memory,
            "tail_limit": metrics.tail_limit,
            "partitions": metrics.partitions,
            "seals": metrics.seals,
            "seal_seconds": secs(metrics.seal_time),
            "compactions": metrics.compactions,
            "compaction_seconds": secs(metrics.compaction_time),
            "append_stalls": metrics.append_stalls,
            "errors": metrics.errors,
            "followers": metrics.followers,
            "follower_lag": metrics.follower_lag,
        },
    })
}

fn verify(dir: &Path) -> Result<Outcome> {
    let report = esdb_store::verify(dir).map_err(cannot_open(dir))?;
    outln!(
        "checked {} segments ({} records) and {} partitions ({} events)",
        report.segments,
        report.records,
        report.partitions,
        report.partition_events
    )?;
    for file in &report.quarantined {
        outln!("quarantined: {file}")?;
    }
    if report.is_ok() {
        outln!("ok")?;
        return Ok(Outcome::Ok);
    }
    for problem in &report.problems {
        outln!("problem: {problem}")?;
    }
    Ok(Outcome::Exit(1))
}

fn repair(dir: &Path, partition_window: Option<i64>) -> Result<Outcome> {
    let report = esdb_store::repair_with(dir, partition_window).map_err(cannot_open(dir))?;
    for (file, why) in &report.quarantined {
        outln!("quarantined {}: {why}", file.display())?;
    }
    for action in &report.actions {
        outln!("{action}")?;
    }
    outln!(
        "repaired: {} segments ({} records, offsets {}..{}), {} partitions, sealed through {}",
        report.segments,
        report.records,
        report.log_start,
        report.next_offset,
        report.partitions,
        report.sealed_through
    )?;
    Ok(Outcome::Ok)
}
