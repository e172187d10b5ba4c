//! [`EsdbCodec`]: ships ESDB scans and tables to other machines inside serialized DataFusion
//! plans (`datafusion-proto`), as Ballista's scheduler does to its executors.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;

use crate::exec::{EsdbExec, ExecParts, Output, Unit};
use crate::pushdown::Selection;
use crate::table::TableFile;
use crate::EsdbTable;

/// The version of the messages below; a decoder refuses a version it does not know.
const VERSION: u32 = 1;

/// Encodes [`EsdbExec`] (a physical plan's ESDB scan, with its partitions as planned) and
/// [`EsdbTable`] (a logical plan's table) for `datafusion-proto`, and decodes them on another
/// machine. Register it where plans are serialized and deserialized: with Ballista, as the
/// physical and logical extension codec of the scheduler's and every executor's session.
///
/// A plan names files by their locations, never by their contents: each machine that decodes one
/// must reach the same files (the same `s3://` objects, or local paths on a shared file system).
/// An object URL is read through the object store the decoding session's runtime has registered
/// for its bucket, or else one configured from the standard AWS environment variables, as
/// [`EsdbTable::open`] does. A decoded scan opens a file only when one of its partitions first
/// reads it, so a task opens just the files of its own partition. A decoded table opens its files
/// at once and must show the schema it was planned with.
///
/// ```
/// # fn main() -> datafusion::common::Result<()> {
/// # let runtime = tokio::runtime::Runtime::new()?;
/// # runtime.block_on(async {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("visits.esdb");
/// # let mut writer = esdb_write::Writer::create(&path).unwrap();
/// # writer.add("ada", 1, "", [("city", "Paris")], "x").unwrap();
/// # writer.finish().unwrap();
/// use datafusion::prelude::SessionContext;
/// use datafusion_proto::bytes::{physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec};
/// use esdb_datafusion::{EsdbCodec, EsdbTable};
///
/// // Where the query is planned:
/// let ctx = SessionContext::new();
/// ctx.register_table("visits", std::sync::Arc::new(EsdbTable::open(path.to_str().unwrap()).await?))?;
/// let plan = ctx.sql("SELECT count(*) FROM visits WHERE array_has(city, 'Paris')").await?.create_physical_plan().await?;
/// let bytes = physical_plan_to_bytes_with_extension_codec(plan, &EsdbCodec)?;
///
/// // Where it runs (a session that has no table registered):
/// let executor = SessionContext::new();
/// let plan = physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec)?;
/// let batches = datafusion::physical_plan::collect(plan, executor.task_ctx()).await?;
/// assert_eq!(datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string().lines().nth(3), Some("| 1        |"));
/// # Ok::<_, datafusion::common::DataFusionError>(()) })?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct EsdbCodec;

impl PhysicalExtensionCodec for EsdbCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !inputs.is_empty() {
            return Err(bad(format!("an EsdbExec has no inputs, this one has {}", inputs.len())));
        }
        let node = ExecNode::decode(buf).map_err(|err| bad(format!("EsdbExec message: {err}")))?;
        Ok(Arc::new(EsdbExec::from_parts(node.into_parts(ctx)?)?))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(exec) = node.downcast_ref::<EsdbExec>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "EsdbCodec encodes EsdbExec plans only, not {}",
                node.name()
            )));
        };
        ExecNode::of(exec.parts()).encode(buf).map_err(|err| bad(format!("EsdbExec message: {err}")))
    }
}

impl LogicalExtensionCodec for EsdbCodec {
    fn try_decode(&self, _buf: &[u8], _inputs: &[LogicalPlan], _ctx: &TaskContext) -> Result<Extension> {
        Err(DataFusionError::NotImplemented("EsdbCodec has no logical plan node, only a table".into()))
    }

    fn try_encode(&self, _node: &Extension, _buf: &mut Vec<u8>) -> Result<()> {
        Err(DataFusionError::NotImplemented("EsdbCodec has no logical plan node, only a table".into()))
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        let node = TableNode::decode(buf).map_err(|err| bad(format!("EsdbTable message for {table_ref}: {err}")))?;
        check_version(node.version)?;
        let files = node.locations.into_iter().map(|location| deferred(location, ctx)).collect::<Result<Vec<_>>>()?;
        let table = EsdbTable::of_files(files)?;
        if table.schema().fields() != schema.fields() {
            return Err(DataFusionError::Plan(format!(
                "table {table_ref}: its files now make the schema {:?}, not {:?} as when the plan was made",
                field_names(&table.schema()),
                field_names(&schema)
            )));
        }
        Ok(Arc::new(table))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        let Some(table) = node.downcast_ref::<EsdbTable>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "EsdbCodec encodes EsdbTable only; table {table_ref} is another provider"
            )));
        };
        let node = TableNode { version: VERSION, locations: table.locations().map(str::to_owned).collect() };
        node.encode(buf).map_err(|err| bad(format!("EsdbTable message for {table_ref}: {err}")))
    }
}

/// A plan that cannot be encoded or decoded: a plan error naming what was wrong.
fn bad(text: String) -> DataFusionError {
    DataFusionError::Plan(format!("ESDB plan codec: {text}"))
}

fn check_version(version: u32) -> Result<()> {
    if version == VERSION {
        Ok(())
    } else {
        Err(bad(format!("message version {version}; this build reads version {VERSION}")))
    }
}

fn field_names(schema: &SchemaRef) -> Vec<&str> {
    schema.fields().iter().map(|field| field.name().as_str()).collect()
}

/// The file at `location`, to open on first use: an object through the store `ctx`'s runtime has
/// registered for its bucket (else one from the environment), or a local path.
fn deferred(location: String, ctx: &TaskContext) -> Result<TableFile> {
    if !esdb_object_store::is_object_url(&location) {
        return Ok(TableFile::deferred(location, None));
    }
    let (default_store, path) =
        esdb_object_store::store_for(&location).map_err(|err| crate::table::external(&location, err))?;
    let registered = location
        .split_once("://")
        .map(|(scheme, rest)| format!("{scheme}://{}", rest.split('/').next().unwrap_or_default()))
        .and_then(|base| ObjectStoreUrl::parse(base).ok())
        .and_then(|url| ctx.runtime_env().object_store(&url).ok());
    Ok(TableFile::deferred(location, Some((registered.unwrap_or(default_store), path))))
}

/// An [`EsdbTable`]: the locations of its files.
#[derive(Clone, PartialEq, Message)]
struct TableNode {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(string, repeated, tag = "2")]
    locations: Vec<String>,
}

/// An [`EsdbExec`]: its files, output columns, selection and partitions.
#[derive(Clone, PartialEq, Message)]
struct ExecNode {
    #[prost(uint32, tag = "1")]
    version: u32,
    #[prost(string, repeated, tag = "2")]
    locations: Vec<String>,
    #[prost(message, repeated, tag = "3")]
    columns: Vec<ColumnNode>,
    #[prost(message, optional, tag = "4")]
    selection: Option<SelectionNode>,
    #[prost(message, repeated, tag = "5")]
    partitions: Vec<PartitionNode>,
    #[prost(uint64, optional, tag = "6")]
    limit: Option<u64>,
    #[prost(uint64, tag = "7")]
    batch_size: u64,
}

/// An output column: its name and what it shows (0 space, 1 grouping, 2 timestamp, 3 data,
/// 4 the values of `index`).
#[derive(Clone, PartialEq, Message)]
struct ColumnNode {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(uint32, tag = "2")]
    kind: u32,
    #[prost(bytes = "vec", tag = "3")]
    index: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct SelectionNode {
    /// `spaces` is the list of spaces to read, rather than every space.
    #[prost(bool, tag = "1")]
    some_spaces: bool,
    #[prost(bytes = "vec", repeated, tag = "2")]
    spaces: Vec<Vec<u8>>,
    #[prost(bytes = "vec", optional, tag = "3")]
    grouping: Option<Vec<u8>>,
    #[prost(sint64, tag = "4")]
    lo: i64,
    #[prost(sint64, tag = "5")]
    hi: i64,
    #[prost(message, repeated, tag = "6")]
    conditions: Vec<ConditionNode>,
    #[prost(bool, tag = "7")]
    empty: bool,
}

/// `array_has(column, value)`, where `column` shows the index `index`.
#[derive(Clone, PartialEq, Message)]
struct ConditionNode {
    #[prost(string, tag = "1")]
    column: String,
    #[prost(bytes = "vec", tag = "2")]
    index: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct PartitionNode {
    #[prost(message, repeated, tag = "1")]
    units: Vec<UnitNode>,
}

#[derive(Clone, PartialEq, Message)]
struct UnitNode {
    /// Which of the plan's locations.
    #[prost(uint32, tag = "1")]
    file: u32,
    #[prost(bytes = "vec", tag = "2")]
    space: Vec<u8>,
    #[prost(bytes = "vec", optional, tag = "3")]
    grouping: Option<Vec<u8>>,
    #[prost(uint64, tag = "4")]
    rows: u64,
}

impl ExecNode {
    fn of(parts: &ExecParts) -> ExecNode {
        let columns = parts
            .columns
            .iter()
            .map(|(name, output)| {
                let (kind, index) = match output {
                    Output::Space => (0, Vec::new()),
                    Output::Grouping => (1, Vec::new()),
                    Output::Timestamp => (2, Vec::new()),
                    Output::Data => (3, Vec::new()),
                    Output::Index(index) => (4, index.to_vec()),
                };
                ColumnNode { name: name.clone(), kind, index }
            })
            .collect();
        let selection = &parts.selection;
        let conditions = selection
            .indexes
            .iter()
            .zip(&parts.conditions)
            .map(|((column, value), (index, _))| ConditionNode {
                column: column.clone(),
                index: index.to_vec(),
                value: value.clone(),
            })
            .collect();
        ExecNode {
            version: VERSION,
            locations: parts.files.iter().map(|file| file.location.clone()).collect(),
            columns,
            selection: Some(SelectionNode {
                some_spaces: selection.spaces.is_some(),
                spaces: selection.spaces.iter().flatten().cloned().collect(),
                grouping: selection.grouping.clone(),
                lo: selection.lo,
                hi: selection.hi,
                conditions,
                empty: selection.empty,
            }),
            partitions: parts
                .partitions
                .iter()
                .map(|units| PartitionNode {
                    units: units
                        .iter()
                        .map(|unit| UnitNode {
                            file: u32::try_from(unit.file).expect("fewer than 2^32 files"),
                            space: unit.space.to_vec(),
                            grouping: unit.grouping.as_ref().map(|grouping| grouping.to_vec()),
                            rows: unit.rows,
                        })
                        .collect(),
                })
                .collect(),
            limit: parts.limit.map(|limit| limit as u64),
            batch_size: parts.batch_size as u64,
        }
    }

    /// The parts of the scan, each checked: a message that names a file it does not list, a
    /// column of unknown kind or a batch size of 0 is refused, naming what is wrong.
    fn into_parts(self, ctx: &TaskContext) -> Result<ExecParts> {
        check_version(self.version)?;
        let columns = self
            .columns
            .into_iter()
            .enumerate()
            .map(|(at, column)| {
                let output = match column.kind {
                    0 => Output::Space,
                    1 => Output::Grouping,
                    2 => Output::Timestamp,
                    3 => Output::Data,
                    4 => Output::Index(Bytes::from(column.index)),
                    other => return Err(bad(format!("column {at} ({:?}) has unknown kind {other}", column.name))),
                };
                Ok((column.name, output))
            })
            .collect::<Result<Vec<_>>>()?;
        let node = self.selection.ok_or_else(|| bad("the EsdbExec message has no selection".into()))?;
        let selection = Selection {
            spaces: node.some_spaces.then(|| node.spaces.into_iter().collect::<BTreeSet<_>>()),
            grouping: node.grouping,
            lo: node.lo,
            hi: node.hi,
            indexes: node.conditions.iter().map(|c| (c.column.clone(), c.value.clone())).collect(),
            empty: node.empty,
        };
        let conditions = node.conditions.into_iter().map(|c| (Bytes::from(c.index), c.value)).collect();
        let n_files = self.locations.len();
        let partitions = self
            .partitions
            .into_iter()
            .enumerate()
            .map(|(part, node)| {
                node.units
                    .into_iter()
                    .enumerate()
                    .map(|(at, unit)| {
                        let file = unit.file as usize;
                        if file >= n_files {
                            return Err(bad(format!(
                                "unit {at} of partition {part} names file {file}, but the plan lists {n_files}"
                            )));
                        }
                        Ok(Unit {
                            file,
                            space: Bytes::from(unit.space),
                            grouping: unit.grouping.map(Bytes::from),
                            rows: unit.rows,
                        })
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        if self.batch_size == 0 {
            return Err(bad("the EsdbExec message has a batch size of 0".into()));
        }
        let files = self.locations.into_iter().map(|location| deferred(location, ctx)).collect::<Result<Vec<_>>>()?;
        Ok(ExecParts {
            files: Arc::new(files),
            columns,
            selection,
            conditions,
            partitions,
            batch_size: usize::try_from(self.batch_size).unwrap_or(usize::MAX),
            limit: self.limit.map(|limit| usize::try_from(limit).unwrap_or(usize::MAX)),
        })
    }
}

#[cfg(test)]
mod tests {
    use datafusion_proto::physical_plan::DefaultPhysicalProtoConverter;

    use super::*;

    fn node() -> ExecNode {
        ExecNode {
            version: VERSION,
            locations: vec!["missing.esdb".into()],
            columns: vec![
                ColumnNode { name: "space".into(), kind: 0, index: Vec::new() },
                ColumnNode { name: "city".into(), kind: 4, index: b"city".to_vec() },
            ],
            selection: Some(SelectionNode {
                some_spaces: true,
                spaces: vec![b"ada".to_vec()],
                grouping: None,
                lo: -5,
                hi: i64::MAX,
                conditions: vec![ConditionNode {
                    column: "city".into(),
                    index: b"city".to_vec(),
                    value: b"Oslo".to_vec(),
                }],
                empty: false,
            }),
            partitions: vec![PartitionNode {
                units: vec![UnitNode { file: 0, space: b"ada".to_vec(), grouping: None, rows: 3 }],
            }],
            limit: Some(10),
            batch_size: 8192,
        }
    }

    fn decode(node: &ExecNode) -> Result<Arc<dyn ExecutionPlan>> {
        PhysicalExtensionCodec::try_decode(
            &EsdbCodec,
            &node.encode_to_vec(),
            &[],
            &TaskContext::default(),
            &DefaultPhysicalProtoConverter {},
        )
    }

    #[test]
    fn a_scan_survives_encoding_and_decoding_unchanged() {
        let plan = decode(&node()).unwrap();
        let exec = plan.downcast_ref::<EsdbExec>().unwrap();
        assert_eq!(ExecNode::of(exec.parts()), node());
        let shown = datafusion::physical_plan::displayable(plan.as_ref()).one_line().to_string();
        assert_eq!(
            shown,
            "EsdbExec: files=1, partitions=1, pushed down: space IN (\"ada\"), timestamp in [-5, \
             9223372036854775807], array_has(city, \"Oslo\"), columns=[space, city], limit=10\n"
        );
    }

    #[test]
    fn broken_messages_are_refused_naming_what_is_wrong() {
        type Breaks = fn(&mut ExecNode);
        let cases: [(Breaks, &str); 5] = [
            (|node| node.version = 2, "message version 2; this build reads version 1"),
            (|node| node.columns[1].kind = 9, "column 1 (\"city\") has unknown kind 9"),
            (|node| node.selection = None, "the EsdbExec message has no selection"),
            (|node| node.partitions[0].units[0].file = 1, "unit 0 of partition 0 names file 1, but the plan lists 1"),
            (|node| node.batch_size = 0, "a batch size of 0"),
        ];
        for (breaks, expected) in cases {
            let mut broken = node();
            breaks(&mut broken);
            let err = decode(&broken).unwrap_err().to_string();
            assert!(err.contains("ESDB plan codec: ") && err.contains(expected), "{err}");
        }
        let err = PhysicalExtensionCodec::try_decode(
            &EsdbCodec,
            b"\xff\xff\xff",
            &[],
            &TaskContext::default(),
            &DefaultPhysicalProtoConverter {},
        )
        .unwrap_err();
        assert!(err.to_string().contains("EsdbExec message: "), "{err}");
    }
}
