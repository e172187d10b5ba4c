//! `esdb import`: CSV or JSON Lines into a new ESDB file, in bounded memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use clap::ValueEnum;
use esdb_write::{WriteError, Writer, WriterOptions};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::timestamp::{self, TimeUnit};
use crate::{json, progress, Outcome};

const EXAMPLES: &str = "\
Examples:
  esdb import visits.csv -o visits.esdb --space customer_id --timestamp ts --index type
  zcat events.jsonl.gz | esdb import - -o events.esdb --input-format jsonl \\
      --space user --timestamp time --time-unit ms --grouping host --index type --index country
  esdb import dump.jsonl -o copy.esdb --input-format esdb-jsonl";

/// Input formats of `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// The lossless output of `esdb export` (no field flags).
    EsdbJsonl,
}

/// Import CSV or JSON Lines into a new ESDB file.
///
/// Each record becomes one event. Its data is the record as one compact JSON object (CSV rows
/// become objects keyed by the header), or with --data the value of that field alone. A bad
/// record stops the import with its line number and nothing is written, unless --skip-invalid.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// Input file, or `-` for standard input.
    input: String,
    /// The ESDB file to create; it must not exist (`-`: write it to standard output).
    #[arg(short, long, value_name = "OUT.esdb")]
    output: PathBuf,
    /// Field (CSV column or top-level JSON key) holding the space id.
    #[arg(long, value_name = "FIELD")]
    space: Option<String>,
    /// Field holding the timestamp: an integer in --time-unit, or an RFC 3339 string.
    #[arg(long, value_name = "FIELD")]
    timestamp: Option<String>,
    /// Field holding the grouping; records without it go to the default grouping.
    #[arg(long, value_name = "FIELD")]
    grouping: Option<String>,
    /// Field to index, by its name; repeat for several. A JSON array indexes every element.
    #[arg(long = "index", value_name = "FIELD")]
    indexes: Vec<String>,
    /// Index to cover (one of the --index fields; repeat for several): each of its values keeps
    /// its events a second time, in a data stream of their own, so that `esdb scan --index`
    /// reads them at the speed of a grouping scan. Costs about the covered events' size again.
    #[arg(long = "covering-index", value_name = "NAME")]
    covering_indexes: Vec<String>,
    /// Cover the timeline: each space of several groupings keeps its events a second time, in
    /// timestamp order, so that `esdb scan` of a whole space reads them at the speed of a
    /// grouping scan instead of merging its groupings. Costs about the events' size again.
    #[arg(long)]
    covering_timeline: bool,
    /// Store only this field as the event data (a string as its raw bytes, anything else as
    /// compact JSON) instead of the whole record.
    #[arg(long, value_name = "FIELD")]
    data: Option<String>,
    /// Input format; guessed from the file extension when not given.
    #[arg(long, value_enum)]
    input_format: Option<InputFormat>,
    /// Unit of the stored timestamps, recorded in the file; RFC 3339 input is converted to it.
    /// Without it, integers are stored as given and the file records no unit, unless some
    /// timestamp was RFC 3339 text (converted to seconds, so the file records `s`).
    #[arg(long, value_enum)]
    time_unit: Option<TimeUnit>,
    #[command(flatten)]
    compression: CompressionFlags,
    /// Skip bad records (counted and reported at the end) instead of stopping.
    #[arg(long)]
    skip_invalid: bool,
    /// Memory budget of the writer in MiB; larger imports spill to temporary files.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    memory: usize,
    /// No progress bar and no summary.
    #[arg(short, long)]
    quiet: bool,
}

/// An input record that failed, with the 1-based line where it starts.
struct BadRecord {
    line: u64,
    message: String,
}

/// Where the fields of one CSV or JSON record come from.
pub(crate) enum Fields<'r> {
    Csv {
        header: &'r [String],
        record: &'r csv::StringRecord,
    },
    /// A JSON object with each value as its exact text, and the line it came from.
    Json {
        object: &'r json::RawObject,
        line: &'r str,
    },
}

/// A field's value, borrowed from the record.
pub(crate) enum FieldValue<'r> {
    Text(&'r str),
    /// A JSON value: its exact text and what it parses to.
    Json {
        raw: &'r str,
        value: Value,
    },
}

impl<'r> Fields<'r> {
    pub(crate) fn get(&self, name: &str) -> Result<Option<FieldValue<'r>>> {
        Ok(match self {
            Fields::Csv { header, record } => {
                header.iter().position(|h| h == name).and_then(|idx| record.get(idx)).map(FieldValue::Text)
            }
            Fields::Json { object, .. } => match object.get(name) {
                None => None,
                Some(raw) => json_value(raw.get(), name)?,
            },
        })
    }

    fn required(&self, name: &str) -> Result<FieldValue<'r>> {
        self.get(name)?.ok_or_else(|| anyhow!("missing field {name:?}"))
    }

    /// The whole record: a JSON line exactly as given, a CSV row as one compact JSON object.
    fn to_data(&self) -> Vec<u8> {
        match self {
            Fields::Csv { header, record } => {
                let object: Map<String, Value> =
                    header.iter().zip(record.iter()).map(|(h, v)| (h.clone(), Value::String(v.to_owned()))).collect();
                serde_json::to_vec(&object).expect("JSON values serialize")
            }
            Fields::Json { line, .. } => line.as_bytes().to_vec(),
        }
    }
}

/// A JSON value from its exact text; `None` for `null`.
fn json_value<'r>(raw: &'r str, name: &str) -> Result<Option<FieldValue<'r>>> {
    let value: Value = serde_json::from_str(raw).map_err(|err| anyhow!("field {name:?}: {err}"))?;
    Ok((!value.is_null()).then_some(FieldValue::Json { raw, value }))
}

/// A scalar field as bytes: a string's contents, a number or boolean exactly as written.
pub(crate) fn scalar_bytes(value: &FieldValue<'_>, name: &str) -> Result<Vec<u8>> {
    match value {
        FieldValue::Text(text) => Ok(text.as_bytes().to_vec()),
        FieldValue::Json { value: Value::String(text), .. } => Ok(text.as_bytes().to_vec()),
        FieldValue::Json { raw, value: Value::Number(_) | Value::Bool(_) } => Ok(raw.as_bytes().to_vec()),
        FieldValue::Json { value, .. } => bail!("field {name:?} is {}, expected a string or a number", kind(value)),
    }
}

pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How the written file is compressed: `--compression`, `--zstd-level`, `--zstd-dictionary` of
/// `import` and `merge`.
#[derive(Debug, clap::Args)]
pub struct CompressionFlags {
    /// Compression of data and posting blocks: lz4 (fastest to read), zstd (about half the
    /// size), or none.
    #[arg(long, value_enum, default_value_t = CompressionArg::Lz4)]
    compression: CompressionArg,
    /// zstd level with --compression zstd (1..=22; higher is smaller and slower to write).
    #[arg(long, value_name = "N", default_value_t = 3, allow_hyphen_values = true)]
    zstd_level: i32,
    /// With --compression zstd: train a zstd dictionary of this many KiB from a sample of the
    /// events and compress every block with it (smaller files of small similar events; readers
    /// need format 2's zstd_dictionary feature). 0: none.
    #[arg(long, value_name = "KIB", default_value_t = 0)]
    zstd_dictionary: usize,
}

impl CompressionFlags {
    /// The writer's `compression` and `zstd_dictionary` options.
    pub fn options(&self) -> (esdb_write::Compression, usize) {
        (self.compression.to_writer(self.zstd_level), self.zstd_dictionary << 10)
    }
}

/// `--compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressionArg {
    /// LZ4 blocks.
    Lz4,
    /// zstd blocks, at --zstd-level.
    Zstd,
    /// Raw blocks.
    None,
}

impl CompressionArg {
    /// The writer's setting, with `level` for zstd.
    pub fn to_writer(self, level: i32) -> esdb_write::Compression {
        match self {
            CompressionArg::Lz4 => esdb_write::Compression::Lz4,
            CompressionArg::Zstd => esdb_write::Compression::Zstd { level },
            CompressionArg::None => esdb_write::Compression::None,
        }
    }
}

/// Which fields of a record make up an event: the `--space`, `--timestamp`, `--grouping`,
/// `--index` and `--data` flags of `import` (and `store append`).
pub(crate) struct FieldSpec<'a> {
    pub space: &'a str,
    pub timestamp: &'a str,
    pub grouping: Option<&'a str>,
    pub indexes: &'a [String],
    pub data: Option<&'a str>,
    pub time_unit: TimeUnit,
}

/// An event taken from a record by a [`FieldSpec`].
pub(crate) struct Extracted {
    pub space: Vec<u8>,
    pub timestamp: i64,
    pub grouping: Vec<u8>,
    pub indexes: Vec<(String, Vec<u8>)>,
    pub data: Vec<u8>,
    /// Whether the timestamp was RFC 3339 text, converted to the spec's unit.
    pub converted_time: bool,
}

impl FieldSpec<'_> {
    /// The event of one record, or what is wrong with it (naming the field).
    pub(crate) fn extract(&self, fields: &Fields<'_>) -> Result<Extracted> {
        let space = scalar_bytes(&fields.required(self.space)?, self.space)?;
        let converted_time;
        let timestamp = match fields.required(self.timestamp)? {
            FieldValue::Text(text) => {
                converted_time = text.trim().parse::<i64>().is_err();
                timestamp::parse_text(text, self.time_unit)
            }
            FieldValue::Json { value, .. } => {
                converted_time = value.is_string();
                timestamp::parse_json(&value, self.time_unit)
            }
        }
        .with_context(|| format!("field {:?}", self.timestamp))?;
        let grouping = match self.grouping {
            Some(field) => fields.get(field)?.map(|value| scalar_bytes(&value, field)).transpose()?.unwrap_or_default(),
            None => Vec::new(),
        };
        let mut indexes = Vec::new();
        for name in self.indexes {
            match fields.get(name)? {
                None => {}
                Some(FieldValue::Json { raw, value: Value::Array(_) }) => {
                    let elements: Vec<&RawValue> =
                        serde_json::from_str(raw).map_err(|err| anyhow!("field {name:?}: {err}"))?;
                    for element in elements {
                        if let Some(value) = json_value(element.get(), name)? {
                            indexes.push((name.clone(), scalar_bytes(&value, name)?));
                        }
                    }
                }
                Some(value) => indexes.push((name.clone(), scalar_bytes(&value, name)?)),
            }
        }
        let data = match self.data {
            None => fields.to_data(),
            Some(field) => match fields.required(field)? {
                FieldValue::Text(text) => text.as_bytes().to_vec(),
                FieldValue::Json { value: Value::String(text), .. } => text.into_bytes(),
                FieldValue::Json { raw, .. } => raw.as_bytes().to_vec(),
            },
        };
        Ok(Extracted { space, timestamp, grouping, indexes, data, converted_time })
    }
}

struct Importer {
    args: Args,
    sink: Sink,
    skipped: u64,
    /// For JSON Lines: whether some record had the --grouping field and each --index field.
    seen_grouping: bool,
    seen_indexes: Vec<bool>,
}

/// The writer and how many events it took.
struct Sink {
    writer: Writer,
    imported: u64,
}

impl Importer {
    /// Turns one CSV or JSON record into an event and adds it.
    fn add_fields(&mut self, fields: &Fields<'_>) -> Result<()> {
        let spec = FieldSpec {
            space: self.args.space.as_deref().expect("checked in run"),
            timestamp: self.args.timestamp.as_deref().expect("checked in run"),
            grouping: self.args.grouping.as_deref(),
            indexes: &self.args.indexes,
            data: self.args.data.as_deref(),
            time_unit: self.args.time_unit.unwrap_or_default(),
        };
        let event = spec.extract(fields)?;
        if event.converted_time && self.sink.writer.time_unit().is_none() {
            self.sink.writer.set_time_unit(TimeUnit::S.into());
        }
        if let Fields::Json { object, .. } = fields {
            self.seen_grouping |= spec.grouping.is_some_and(|field| object.contains_key(field));
            for (seen, field) in self.seen_indexes.iter_mut().zip(spec.indexes) {
                *seen |= object.contains_key(field);
            }
        }
        self.sink.add(
            event.space,
            event.timestamp,
            event.grouping,
            event.indexes.iter().map(|(n, v)| (n.as_bytes(), v.as_slice())),
            event.data,
        )
    }

    /// One line of `esdb export` output.
    fn add_export_line(&mut self, line: &str) -> Result<()> {
        let object: Map<String, Value> = serde_json::from_str(line).map_err(|err| anyhow!("invalid JSON: {err}"))?;
        let raw: json::RawObject = serde_json::from_str(line).map_err(|err| anyhow!("invalid JSON: {err}"))?;
        for key in object.keys() {
            if !["space", "space_b64", "timestamp", "grouping", "grouping_b64", "indexes", "data", "data_b64"]
                .contains(&key.as_str())
            {
                bail!("unknown field {key:?} in esdb-jsonl input");
            }
        }
        let space =
            json::read_bytes(&object, "space")?.ok_or_else(|| anyhow!("missing field \"space\" (or \"space_b64\")"))?;
        let ts = match object.get("timestamp") {
            Some(Value::Number(number)) => {
                number.as_i64().ok_or_else(|| anyhow!("field \"timestamp\": {number} is not a 64-bit integer"))?
            }
            Some(other) => bail!("field \"timestamp\" is {}, expected an integer", kind(other)),
            None => bail!("missing field \"timestamp\""),
        };
        let grouping = json::read_bytes(&object, "grouping")?.unwrap_or_default();
        let mut indexes = Vec::new();
        match object.get("indexes") {
            None => {}
            Some(Value::Array(entries)) => {
                for (idx, entry) in entries.iter().enumerate() {
                    let Value::Object(entry) = entry else {
                        bail!("indexes[{idx}] is {}, expected an object", kind(entry))
                    };
                    let name =
                        json::read_bytes(entry, "name")?.ok_or_else(|| anyhow!("indexes[{idx}] has no \"name\""))?;
                    let value =
                        json::read_bytes(entry, "value")?.ok_or_else(|| anyhow!("indexes[{idx}] has no \"value\""))?;
                    indexes.push((name, value));
                }
            }
            Some(other) => bail!("field \"indexes\" is {}, expected an array", kind(other)),
        }
        let data = json::read_export_data(&object, &raw)?;
        self.sink.add(space, ts, grouping, indexes.iter().map(|(n, v)| (n.as_slice(), v.as_slice())), data)
    }

    /// Handles a bad record: an error, or with --skip-invalid a note and a count.
    fn bad(&mut self, bad: BadRecord) -> Result<()> {
        if !self.args.skip_invalid {
            bail!("line {}: {}", bad.line, bad.message);
        }
        self.skipped += 1;
        if self.skipped <= 10 && !self.args.quiet {
            diag!("esdb: skipped line {}: {}", bad.line, bad.message);
        }
        Ok(())
    }
}

impl Sink {
    fn add<'a>(
        &mut self,
        space: Vec<u8>,
        ts: i64,
        grouping: Vec<u8>,
        indexes: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        data: Vec<u8>,
    ) -> Result<()> {
        match self.writer.add(space, ts, grouping, indexes, data) {
            Ok(()) => {
                self.imported += 1;
                Ok(())
            }
            Err(err @ WriteError::FieldLength { .. }) => Err(err.into()),
            Err(err) => Err(Fatal::wrap(anyhow::Error::new(err).context("writing failed"))),
        }
    }
}

/// Marks an error that no --skip-invalid can skip (I/O of the output, spilling).
#[derive(Debug)]
struct Fatal(anyhow::Error);

impl std::fmt::Display for Fatal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Fatal {}

impl Fatal {
    fn wrap(err: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(Fatal(err))
    }
}

fn is_fatal(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Fatal>().is_some()
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bar: indicatif::ProgressBar,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

fn guess_format(input: &str) -> Result<InputFormat> {
    let extension = Path::new(input).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("csv") => Ok(InputFormat::Csv),
        Some("jsonl" | "ndjson" | "json") => Ok(InputFormat::Jsonl),
        _ if input == "-" => bail!("reading standard input needs --input-format csv, jsonl or esdb-jsonl"),
        _ => bail!(
            "cannot tell the format of {input:?} from its extension; give --input-format csv, jsonl or esdb-jsonl"
        ),
    }
}

pub fn run(args: Args) -> Result<Outcome> {
    let format = match args.input_format {
        Some(format) => format,
        None => guess_format(&args.input)?,
    };
    if format == InputFormat::EsdbJsonl {
        let given: Vec<&str> = [
            ("--space", args.space.is_some()),
            ("--timestamp", args.timestamp.is_some()),
            ("--grouping", args.grouping.is_some()),
            ("--index", !args.indexes.is_empty()),
            ("--data", args.data.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !given.is_empty() {
            bail!("esdb-jsonl input carries its own fields; drop {}", given.join(", "));
        }
    } else {
        if args.space.is_none() {
            bail!(
                "--space FIELD is required for {} input",
                if format == InputFormat::Csv { "CSV" } else { "JSON Lines" }
            );
        }
        if args.timestamp.is_none() {
            bail!(
                "--timestamp FIELD is required for {} input",
                if format == InputFormat::Csv { "CSV" } else { "JSON Lines" }
            );
        }
        if let Some(name) = args.covering_indexes.iter().find(|name| !args.indexes.contains(name)) {
            bail!("--covering-index {name:?} names no --index field; cover one of the indexed fields");
        }
    }

    let (reader, total): (Box<dyn Read>, Option<u64>) = if args.input == "-" {
        (Box::new(io::stdin().lock()), None)
    } else {
        let file = File::open(&args.input).with_context(|| format!("cannot open input {}", args.input))?;
        let len = file.metadata().ok().map(|m| m.len());
        (Box::new(file), len)
    };
    let (compression, zstd_dictionary) = args.compression.options();
    let options = WriterOptions::default()
        .with_memory_budget(args.memory.max(1) << 20)
        .with_compression(compression)
        .with_zstd_dictionary(zstd_dictionary)
        .with_time_unit(args.time_unit.map(Into::into))
        .with_metadata(vec![(b"esdb.import".to_vec(), import_metadata(&args, format).into_bytes())])
        .with_covering_indexes(args.covering_indexes.iter().map(|name| name.clone().into_bytes()))
        .with_covering_timeline(args.covering_timeline);
    let target = super::OutputFile::new(&args.output)?;
    let writer = Writer::create_with(&target.path, options)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    let bar = progress::bytes(total, args.quiet, "importing");
    let reader = Counting { inner: reader, bar: bar.clone() };
    let input_name = if args.input == "-" { "standard input".to_owned() } else { args.input.clone() };
    let seen_indexes = vec![false; args.indexes.len()];
    let mut importer =
        Importer { args, sink: Sink { writer, imported: 0 }, skipped: 0, seen_grouping: false, seen_indexes };

    let result = match format {
        InputFormat::Csv => import_csv(&mut importer, reader),
        InputFormat::Jsonl | InputFormat::EsdbJsonl => import_lines(&mut importer, reader, format),
    };
    bar.finish_and_clear();
    result.with_context(|| format!("cannot import {input_name}"))?;

    if importer.sink.imported == 0 && format != InputFormat::EsdbJsonl {
        if importer.skipped > 0 {
            bail!("cannot import {input_name}: all {} records are invalid; nothing written", importer.skipped);
        }
        bail!("cannot import {input_name}: it has no records; nothing written");
    }
    if format == InputFormat::Jsonl {
        // A field no record has is a typo far more often than an intent (CSV catches it in the
        // header); nothing is written.
        if let Some(field) = importer.args.grouping.as_ref().filter(|_| !importer.seen_grouping) {
            bail!("cannot import {input_name}: no record has the --grouping field {field:?}; nothing written");
        }
        let unseen = importer.args.indexes.iter().zip(&importer.seen_indexes).find(|(_, seen)| !**seen);
        if let Some((field, _)) = unseen {
            bail!("cannot import {input_name}: no record has the --index field {field:?}; nothing written");
        }
    }
    let Importer { args, sink: Sink { writer, imported }, skipped, .. } = importer;
    let summary = writer.finish().with_context(|| format!("cannot write {}", args.output.display()))?;
    target.deliver()?;
    if !args.quiet {
        diag!(
            "imported {imported} events into {} ({} spaces, {} bytes)",
            args.output.display(),
            summary.n_spaces,
            summary.file_len
        );
        if skipped > 0 {
            diag!("skipped {skipped} invalid records");
        }
    }
    Ok(Outcome::Ok)
}

/// What `esdb.import` records: how records became events, as a JSON object.
fn import_metadata(args: &Args, format: InputFormat) -> String {
    let value = serde_json::json!({
        "input_format": format.to_possible_value().map(|v| v.get_name().to_owned()),
        "space": args.space,
        "timestamp": args.timestamp,
        "grouping": args.grouping,
        "index": args.indexes,
        "covering_index": args.covering_indexes,
        "covering_timeline": args.covering_timeline,
        "data": args.data,
        "time_unit": args.time_unit.and_then(|unit| unit.to_possible_value()).map(|v| v.get_name().to_owned()),
    });
    value.to_string()
}

fn import_csv(importer: &mut Importer, reader: impl Read) -> Result<()> {
    let mut csv = csv::ReaderBuilder::new().has_headers(true).from_reader(reader);
    let header: Vec<String> = match csv.headers() {
        Ok(header) if header.is_empty() => bail!("line 1: the input is empty; a CSV header row is required"),
        Ok(header) => header.iter().map(str::to_owned).collect(),
        Err(err) => bail!("line 1: cannot read the CSV header: {}", csv_message(&err)),
    };
    let mut columns = std::collections::HashMap::new();
    for (idx, name) in header.iter().enumerate() {
        if let Some(first) = columns.insert(name.as_str(), idx) {
            bail!("line 1: the header names column {name:?} twice (columns {} and {})", first + 1, idx + 1);
        }
    }
    let listed = column_list(&header);
    for (flag, field) in [
        ("--space", &importer.args.space),
        ("--timestamp", &importer.args.timestamp),
        ("--grouping", &importer.args.grouping),
        ("--data", &importer.args.data),
    ] {
        if let Some(field) = field {
            if !header.contains(field) {
                bail!("line 1: {flag} {field:?} is not a column of the header ({listed})");
            }
        }
    }
    for field in &importer.args.indexes {
        if !header.contains(field) {
            bail!("line 1: --index {field:?} is not a column of the header ({listed})");
        }
    }
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line());
                if let Err(err) = importer.add_fields(&Fields::Csv { header: &header, record: &record }) {
                    if is_fatal(&err) {
                        return Err(err);
                    }
                    importer.bad(BadRecord { line, message: format!("{err:#}") })?;
                }
            }
            Err(err) => {
                let line = err.position().map_or(0, |p| p.line());
                if matches!(err.kind(), csv::ErrorKind::Io(_)) {
                    return Err(anyhow::Error::new(err).context("cannot read input"));
                }
                importer.bad(BadRecord { line, message: csv_message(&err) })?;
                if !matches!(err.kind(), csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }) {
                    return Ok(());
                }
            }
        }
    }
}

/// The header's columns for an error message: all of them when few, else the first ones and a
/// count (a header of a million columns must not make a message of megabytes).
fn column_list(header: &[String]) -> String {
    const SHOWN: usize = 20;
    let shown: Vec<&str> = header
        .iter()
        .take(SHOWN)
        .map(|name| {
            let end = name.char_indices().nth(64).map_or(name.len(), |(at, _)| at);
            &name[..end]
        })
        .collect();
    if header.len() <= SHOWN {
        shown.join(",")
    } else {
        format!("{},… {} columns in all", shown.join(","), header.len())
    }
}

fn csv_message(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("record has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("field {} is not valid UTF-8", err.field() + 1),
        _ => err.to_string(),
    }
}

/// One JSON Lines record: an object, each value kept as its exact text.
pub(crate) fn parse_object(line: &str) -> Result<json::RawObject> {
    match serde_json::from_str::<json::RawObject>(line) {
        Ok(object) => Ok(object),
        Err(err) => match serde_json::from_str::<&RawValue>(line) {
            Ok(raw) => match serde_json::from_str::<Value>(raw.get()) {
                Ok(other) => bail!("expected a JSON object, found {}", kind(&other)),
                Err(_) => bail!("expected a JSON object"),
            },
            Err(_) => bail!("invalid JSON: {err}"),
        },
    }
}

fn import_lines(importer: &mut Importer, reader: impl Read, format: InputFormat) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).context("cannot read input")?;
        if n == 0 {
            return Ok(());
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            importer.bad(BadRecord { line: line_no, message: "line is not valid UTF-8".into() })?;
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let result = if format == InputFormat::EsdbJsonl {
            importer.add_export_line(line)
        } else {
            parse_object(line).and_then(|object| importer.add_fields(&Fields::Json { object: &object, line }))
        };
        if let Err(err) = result {
            if is_fatal(&err) {
                return Err(err);
            }
            importer.bad(BadRecord { line: line_no, message: format!("{err:#}") })?;
        }
    }
}
