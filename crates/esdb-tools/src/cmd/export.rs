//! `esdb export`: every event as JSON Lines (lossless), CSV or Parquet.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use arrow_array::builder::{Int64Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use clap::ValueEnum;
use esdb_read::Db;

use crate::output::{display_bytes, Sink};
use crate::{json, output, progress, Outcome};

/// Output formats of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ExportFormat {
    /// One JSON object per event, lossless: `esdb import --input-format esdb-jsonl` reads it back.
    #[default]
    Jsonl,
    /// A header row, then one row per event: space, timestamp, grouping, one column per index
    /// name, data. Text must be UTF-8.
    Csv,
    /// Apache Parquet (LZ4): space, timestamp (int64), grouping, one list-of-strings column
    /// per index name, data. Text must be UTF-8.
    Parquet,
}

/// Write every event: as JSON Lines (the default, lossless), CSV or Parquet.
///
/// Spaces come in id order and events within a space in (timestamp, insertion) order, so the
/// output is deterministic. In JSON Lines, byte strings are JSON strings when valid UTF-8, else
/// base64 under a key with a `_b64` suffix; data that is a JSON value (other than a string) is
/// embedded as is. CSV and Parquet have one column per index name found in the file, named as
/// the index (or `index.NAME` where that would clash with another column); an event with several
/// values of one index has them as a JSON array in CSV and as a list in Parquet. CSV and Parquet
/// hold text, so an id, grouping, index value or data that is not UTF-8 is an error naming the
/// event: export such files as JSON Lines.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  esdb export activity.esdb -o dump.jsonl\n  esdb export activity.esdb | gzip > dump.jsonl.gz\n  esdb export activity.esdb --format parquet -o activity.parquet\n  esdb export activity.esdb --format csv -o - | head"
)]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
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

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    export(&Input::File(&db), args.output.as_deref(), args.format, args.quiet)?;
    Ok(Outcome::Ok)
}

/// Writes every event of `input` to `output` (standard output when `None`) in `format`.
pub fn export(input: &Input<'_>, output: Option<&Path>, format: ExportFormat, quiet: bool) -> Result<()> {
    let out = output::open(output)?;
    let bar = progress::events(input.events()?, quiet, "exporting");
    match format {
        ExportFormat::Jsonl => jsonl(input, out, &mut || bar.inc(1))?,
        ExportFormat::Csv => csv(input, out, &mut || bar.inc(1))?,
        ExportFormat::Parquet => parquet(input, out, &mut || bar.inc(1))?,
    }
    bar.finish_and_clear();
    Ok(())
}

/// What `export` reads: one ESDB file, or a store's partitions and unsealed log together.
pub enum Input<'a> {
    /// An ESDB file.
    File(&'a Db),
    /// A store.
    Store(&'a esdb_store::Store),
}

/// The events of one space, as export reads them.
type Recs<'r> = dyn Iterator<Item = Result<Rec>> + 'r;

/// One event as export writes it.
struct Rec {
    timestamp: i64,
    grouping: Bytes,
    indexes: Vec<(Bytes, Bytes)>,
    data: Bytes,
}

impl Input<'_> {
    fn events(&self) -> Result<u64> {
        Ok(match self {
            Input::File(db) => db.len(),
            Input::Store(store) => store.spaces()?.iter().map(|space| space.events).sum(),
        })
    }

    /// The index names of every event, ascending.
    fn index_names(&self) -> Result<Vec<Vec<u8>>> {
        match self {
            Input::File(db) => {
                let mut indexes = BTreeSet::new();
                for space in db.spaces() {
                    for name in space?.index_names() {
                        indexes.insert(name?.to_vec());
                    }
                }
                Ok(indexes.into_iter().collect())
            }
            Input::Store(store) => Ok(store.index_names()?.iter().map(|name| name.to_vec()).collect()),
        }
    }

    /// Calls `each` for every space in id order with its events in (timestamp, insertion) order.
    fn each_space(&self, each: &mut dyn FnMut(&[u8], &mut Recs<'_>) -> Result<()>) -> Result<()> {
        match self {
            Input::File(db) => {
                for space in db.spaces() {
                    let space = space?;
                    let mut records = space.records()?.map(|record| {
                        let record = record?;
                        Ok(Rec {
                            timestamp: record.event.timestamp(),
                            grouping: record.grouping,
                            indexes: record.indexes,
                            data: record.event.into_data(),
                        })
                    });
                    each(space.id(), &mut records)?;
                }
            }
            Input::Store(store) => {
                for summary in store.spaces()? {
                    let Some(space) = store.space(&summary.id)? else { continue };
                    let mut records = space.records()?.map(|record| {
                        let record = record?;
                        Ok(Rec {
                            timestamp: record.timestamp,
                            grouping: record.grouping,
                            indexes: record.indexes,
                            data: record.data,
                        })
                    });
                    each(&summary.id, &mut records)?;
                }
            }
        }
        Ok(())
    }
}

fn jsonl(input: &Input<'_>, mut out: Sink, tick: &mut dyn FnMut()) -> Result<()> {
    let mut line = String::new();
    input.each_space(&mut |id, records| {
        for record in records {
            let record = record?;
            line.clear();
            line.push('{');
            json::write_bytes(&mut line, "space", id);
            line.push_str(",\"timestamp\":");
            line.push_str(&record.timestamp.to_string());
            line.push(',');
            json::write_bytes(&mut line, "grouping", &record.grouping);
            line.push_str(",\"indexes\":[");
            for (idx, (name, value)) in record.indexes.iter().enumerate() {
                if idx > 0 {
                    line.push(',');
                }
                line.push('{');
                json::write_bytes(&mut line, "name", name);
                line.push(',');
                json::write_bytes(&mut line, "value", value);
                line.push('}');
            }
            line.push_str("],");
            json::write_export_data(&mut line, "data", &record.data);
            line.push_str("}\n");
            out.write_all(line.as_bytes())?;
            tick();
        }
        Ok(())
    })?;
    out.finish()
}

/// The columns of a tabular export: the index names in the file and what each column is called.
struct Columns {
    indexes: Vec<Vec<u8>>,
    names: Vec<String>,
}

impl Columns {
    fn of(input: &Input<'_>) -> Result<Columns> {
        let indexes = input.index_names()?;
        let mut names: Vec<String> = ["space", "timestamp", "grouping"].map(String::from).to_vec();
        for index in &indexes {
            let name = std::str::from_utf8(index)
                .map_err(|_| anyhow!("index name {} is not UTF-8; export as jsonl", display_bytes(index)))?;
            let taken = names.iter().any(|n| n == name) || name == "data";
            names.push(if taken { format!("index.{name}") } else { name.to_owned() });
        }
        names.push("data".into());
        Ok(Columns { indexes, names })
    }
}

/// One event's fields as text, for CSV and Parquet.
struct Row<'r> {
    space: &'r str,
    timestamp: i64,
    grouping: &'r str,
    /// Per index column, the event's values.
    indexes: Vec<Vec<&'r str>>,
    data: &'r str,
}

/// Calls `emit` for every event of `input` as a [`Row`].
fn rows(input: &Input<'_>, columns: &Columns, emit: &mut dyn FnMut(Row<'_>) -> Result<()>) -> Result<()> {
    input.each_space(&mut |id, records| {
        let space_text = text(id, "space id", id, None)?;
        for record in records {
            let record = record?;
            let ts = record.timestamp;
            let at = Some(ts);
            let mut indexes = vec![Vec::new(); columns.indexes.len()];
            for (name, value) in &record.indexes {
                let column = columns
                    .indexes
                    .binary_search_by(|n| n.as_slice().cmp(name))
                    .map_err(|_| anyhow!("index {} of an event is not in the file's catalog", display_bytes(name)))?;
                indexes[column].push(text(value, "index value", id, at)?);
            }
            emit(Row {
                space: space_text,
                timestamp: ts,
                grouping: text(&record.grouping, "grouping", id, at)?,
                indexes,
                data: text(&record.data, "data", id, at)?,
            })?;
        }
        Ok(())
    })
}

/// `bytes` as text, or an error naming the event.
fn text<'b>(bytes: &'b [u8], what: &str, space: &[u8], ts: Option<i64>) -> Result<&'b str> {
    std::str::from_utf8(bytes).map_err(|_| {
        let at = ts.map_or(String::new(), |ts| format!(" at timestamp {ts}"));
        anyhow!("the {what} of an event of space {}{at} is not UTF-8; export as jsonl", display_bytes(space))
    })
}

fn csv(input: &Input<'_>, out: Sink, tick: &mut dyn FnMut()) -> Result<()> {
    let columns = Columns::of(input)?;
    let mut writer = ::csv::Writer::from_writer(out);
    writer.write_record(&columns.names)?;
    let mut cells: Vec<String> = Vec::with_capacity(columns.names.len());
    rows(input, &columns, &mut |row| {
        cells.clear();
        cells.push(row.space.to_owned());
        cells.push(row.timestamp.to_string());
        cells.push(row.grouping.to_owned());
        for values in &row.indexes {
            cells.push(match values.as_slice() {
                [] => String::new(),
                [one] => (*one).to_owned(),
                several => serde_json::to_string(several).expect("strings serialize"),
            });
        }
        cells.push(row.data.to_owned());
        writer.write_record(&cells)?;
        tick();
        Ok(())
    })?;
    let out = writer.into_inner().map_err(|err| anyhow!("cannot write CSV: {}", err.error()))?;
    out.finish()
}

/// Rows per Parquet row group batch.
const BATCH_ROWS: usize = 64 * 1024;

fn parquet(input: &Input<'_>, out: Sink, tick: &mut dyn FnMut()) -> Result<()> {
    let columns = Columns::of(input)?;
    let mut fields = vec![
        Field::new("space", DataType::Utf8, false),
        Field::new("timestamp", DataType::Int64, false),
        Field::new("grouping", DataType::Utf8, false),
    ];
    for name in &columns.names[3..columns.names.len() - 1] {
        let item = Arc::new(Field::new("item", DataType::Utf8, true));
        fields.push(Field::new(name, DataType::List(item), false));
    }
    fields.push(Field::new("data", DataType::Utf8, false));
    let schema = Arc::new(Schema::new(fields));
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::LZ4_RAW)
        .build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, schema.clone(), Some(properties))
        .context("cannot start the Parquet file")?;
    let mut batch = Batch::new(columns.indexes.len());
    let mut written = 0u64;
    rows(input, &columns, &mut |row| {
        batch.push(&row);
        written += 1;
        tick();
        if batch.len == BATCH_ROWS {
            writer.write(&batch.finish(&schema)?).context("cannot write Parquet")?;
        }
        Ok(())
    })?;
    if batch.len > 0 || written == 0 {
        writer.write(&batch.finish(&schema)?).context("cannot write Parquet")?;
    }
    let out = writer.into_inner().context("cannot finish the Parquet file")?;
    out.finish()
}

/// Column builders of one Parquet batch.
struct Batch {
    len: usize,
    space: StringBuilder,
    timestamp: Int64Builder,
    grouping: StringBuilder,
    indexes: Vec<ListBuilder<StringBuilder>>,
    data: StringBuilder,
}

impl Batch {
    fn new(n_indexes: usize) -> Batch {
        Batch {
            len: 0,
            space: StringBuilder::new(),
            timestamp: Int64Builder::new(),
            grouping: StringBuilder::new(),
            indexes: (0..n_indexes).map(|_| ListBuilder::new(StringBuilder::new())).collect(),
            data: StringBuilder::new(),
        }
    }

    fn push(&mut self, row: &Row<'_>) {
        self.space.append_value(row.space);
        self.timestamp.append_value(row.timestamp);
        self.grouping.append_value(row.grouping);
        for (builder, values) in self.indexes.iter_mut().zip(&row.indexes) {
            for value in values {
                builder.values().append_value(value);
            }
            builder.append(true);
        }
        self.data.append_value(row.data);
        self.len += 1;
    }

    /// The batch so far as a record batch; the builders start over.
    fn finish(&mut self, schema: &Arc<Schema>) -> Result<RecordBatch> {
        let mut arrays: Vec<ArrayRef> =
            vec![Arc::new(self.space.finish()), Arc::new(self.timestamp.finish()), Arc::new(self.grouping.finish())];
        arrays.extend(self.indexes.iter_mut().map(|builder| Arc::new(builder.finish()) as ArrayRef));
        arrays.push(Arc::new(self.data.finish()));
        self.len = 0;
        RecordBatch::try_new(schema.clone(), arrays).context("cannot build a Parquet batch")
    }
}
