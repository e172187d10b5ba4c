//! `esdb sql`: a SQL query over ESDB files, through Apache DataFusion.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use esdb_datafusion::EsdbTable;
use futures::StreamExt;

use crate::output;
use crate::Outcome;

/// Run a SQL query over ESDB files (Apache DataFusion).
///
/// Each --table makes a table of events with the columns `space` (text), `grouping` (text),
/// `timestamp` (64-bit integer), `data` (text) and one list-of-text column per index name, with the
/// event's values of that index. Filters on space (`=`, `IN`), grouping (`=`), timestamp
/// (comparisons, `BETWEEN`) and `array_has(INDEX, 'value')` are answered by ESDB lookups, as are
/// the columns selected and `LIMIT`; `EXPLAIN` shows what reached ESDB (the `EsdbExec` line).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    esdb sql \"SELECT space, count(*) AS n FROM a GROUP BY space ORDER BY n DESC\" --table a=activity.esdb\n  \
    esdb sql \"SELECT timestamp, data FROM a WHERE space = '3' AND array_has(type, 'click')\" --table a=activity.esdb --format jsonl\n  \
    esdb sql \"SELECT count(*) FROM v WHERE timestamp BETWEEN 1700000000 AND 1700086399\" --table v=s3://bucket/visits/")]
pub struct Args {
    /// The query: one SQL statement.
    query: String,
    /// A table, as NAME=LOCATION: a .esdb file, a directory (every *.esdb under it),
    /// s3://BUCKET/KEY (one object) or s3://BUCKET/PREFIX (every object ending .esdb under it).
    /// Repeat for more tables.
    #[arg(long = "table", value_name = "NAME=LOCATION", required = true)]
    tables: Vec<String>,
    /// How to print the result.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A table with aligned columns, for reading.
    Table,
    /// One JSON object per row, keyed by column name (lists as arrays).
    Jsonl,
    /// A header row, then one row per result row (lists printed as `[a, b]`).
    Csv,
}

pub fn run(args: Args) -> Result<Outcome> {
    let mut tables = Vec::new();
    for table in &args.tables {
        let Some((name, location)) =
            table.split_once('=').filter(|(name, location)| !name.is_empty() && !location.is_empty())
        else {
            bail!("--table {table:?}: expected NAME=LOCATION");
        };
        tables.push((name.to_owned(), location.to_owned()));
    }
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the query runtime")?;
    runtime.block_on(query(&args.query, tables, args.format))?;
    Ok(Outcome::Ok)
}

async fn query(sql: &str, tables: Vec<(String, String)>, format: Format) -> Result<()> {
    let ctx = SessionContext::new();
    for (name, location) in tables {
        let table = EsdbTable::open(&location).await.with_context(|| format!("--table {name}={location}"))?;
        ctx.register_table(name.as_str(), Arc::new(table)).with_context(|| format!("--table {name}={location}"))?;
    }
    let frame = ctx.sql(sql).await.context("cannot plan the query")?;
    let schema: Arc<Schema> = Arc::new(frame.schema().as_arrow().clone());
    let mut out = output::open(None)?;
    let mut stream = frame.execute_stream().await.context("cannot run the query")?;
    match format {
        Format::Table => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch.context("the query failed")?);
            }
            let table = datafusion::arrow::util::pretty::pretty_format_batches_with_schema(schema, &batches)?;
            writeln!(out, "{table}")?;
        }
        Format::Jsonl => {
            while let Some(batch) = stream.next().await {
                let batch = batch.context("the query failed")?;
                let mut buffer = Vec::new();
                let mut writer = arrow_json::LineDelimitedWriter::new(&mut buffer);
                writer.write(&batch)?;
                writer.finish()?;
                out.write_all(&buffer)?;
            }
        }
        Format::Csv => {
            let mut header = true;
            while let Some(batch) = stream.next().await {
                let batch = lists_as_text(&batch.context("the query failed")?)?;
                let mut buffer = Vec::new();
                let mut writer = arrow_csv::WriterBuilder::new().with_header(header).build(&mut buffer);
                writer.write(&batch)?;
                drop(writer);
                header = false;
                out.write_all(&buffer)?;
            }
            if header {
                let names: Vec<&str> = schema.fields().iter().map(|field| field.name().as_str()).collect();
                writeln!(out, "{}", names.join(","))?;
            }
        }
    }
    out.finish()
}

/// `batch` with every list column printed as text (`[a, b]`), which CSV can hold.
fn lists_as_text(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch
        .schema()
        .fields()
        .iter()
        .any(|field| matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_)) {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default())?;
            let mut text = StringBuilder::new();
            for row in 0..column.len() {
                if column.is_null(row) {
                    text.append_null();
                } else {
                    text.append_value(formatter.value(row).to_string());
                }
            }
            fields.push(Field::new(field.name(), DataType::Utf8, field.is_nullable()));
            columns.push(Arc::new(text.finish()));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
