//! The physical scan: units of work (a space, or one grouping of it) spread over partitions, each
//! read on a blocking thread into Arrow batches of the projected columns.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{ArrayRef, Int64Builder, ListBuilder, RecordBatch, RecordBatchOptions, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use esdb_read::EventLabels;

use crate::pushdown::Selection;
use crate::table::{external, index_field, index_value_field, IndexColumn, TableFile};

/// What one partition reads, in order: a space, or one grouping of it.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub file: usize,
    pub space: Bytes,
    /// `None`: the whole space, in timestamp order (an index scan, or `events()`).
    pub grouping: Option<Bytes>,
    /// Events the unit holds before the time range and further index conditions.
    pub rows: u64,
}

/// The units each file contributes, in catalog order: `(space, grouping)` units when no index is
/// asked for (they read in storage order and split a large space over partitions), one unit per
/// space otherwise (read through the first index condition).
pub(crate) fn plan_units(
    files: &[TableFile],
    index_columns: &[IndexColumn],
    selection: &Selection,
) -> Result<Vec<Vec<Unit>>> {
    let mut all = Vec::with_capacity(files.len());
    for (file_idx, file) in files.iter().enumerate() {
        let mut units = Vec::new();
        if selection.empty {
            all.push(units);
            continue;
        }
        let fail = |err| external(&file.location, err);
        let db = file.db()?;
        let overlaps = |counts: esdb_read::Counts| {
            counts.n_events > 0 && counts.max_ts >= selection.lo && counts.min_ts <= selection.hi
        };
        if selection.spaces.is_none() && selection.indexes.is_empty() {
            // Every space: one walk over the file's groupings.
            for grouping in db.groupings() {
                let (space, info) = grouping.map_err(fail)?;
                let wanted = selection.grouping.as_ref().is_none_or(|only| only.as_slice() == info.name.as_ref());
                if wanted && overlaps(info.counts) {
                    units.push(Unit { file: file_idx, space, grouping: Some(info.name), rows: info.counts.n_events });
                }
            }
            all.push(units);
            continue;
        }
        let spaces: Vec<esdb_read::Space> = match &selection.spaces {
            Some(ids) => {
                ids.iter().filter_map(|id| db.space(id).transpose()).collect::<Result<_, _>>().map_err(fail)?
            }
            None => db.spaces().collect::<Result<_, _>>().map_err(fail)?,
        };
        for space in spaces {
            if !overlaps(space.counts()) {
                continue;
            }
            let id = Bytes::copy_from_slice(space.id());
            if !selection.indexes.is_empty() {
                let mut rows = space.len();
                for (column, value) in &selection.indexes {
                    let index = &index_columns.iter().find(|c| &c.column == column).expect("pushed-down column").index;
                    rows =
                        rows.min(space.index_value(index, value).map_err(fail)?.map_or(0, |info| info.counts.n_events));
                }
                if rows > 0 {
                    units.push(Unit { file: file_idx, space: id, grouping: None, rows });
                }
                continue;
            }
            match &selection.grouping {
                Some(grouping) => {
                    if let Some(info) = space.grouping(grouping).map_err(fail)? {
                        if overlaps(info.counts) {
                            units.push(Unit {
                                file: file_idx,
                                space: id,
                                grouping: Some(info.name),
                                rows: info.counts.n_events,
                            });
                        }
                    }
                }
                None => {
                    for info in space.groupings() {
                        let info = info.map_err(fail)?;
                        if overlaps(info.counts) {
                            let rows = info.counts.n_events;
                            units.push(Unit { file: file_idx, space: id.clone(), grouping: Some(info.name), rows });
                        }
                    }
                }
            }
        }
        all.push(units);
    }
    Ok(all)
}

/// A column of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Output {
    Space,
    Grouping,
    Timestamp,
    Data,
    /// The values of this index.
    Index(Bytes),
}

impl Output {
    /// The schema field of this output, named `name`.
    pub(crate) fn field(&self, name: &str) -> Field {
        match self {
            Output::Space | Output::Grouping | Output::Data => Field::new(name, DataType::Utf8, false),
            Output::Timestamp => Field::new(name, DataType::Int64, false),
            Output::Index(_) => index_field(name),
        }
    }
}

/// Everything a scan of the table needs, from [`TableProvider::scan`](datafusion::catalog::TableProvider::scan).
pub(crate) struct ScanPlan {
    pub files: Arc<Vec<TableFile>>,
    pub schema: SchemaRef,
    pub index_columns: Arc<Vec<IndexColumn>>,
    pub projection: Vec<usize>,
    pub selection: Selection,
    pub units: Vec<Vec<Unit>>,
    pub target_partitions: usize,
    pub batch_size: usize,
    pub limit: Option<usize>,
}

/// An [`EsdbExec`] as parts: what it reads, how its partitions are cut and what it outputs.
/// The codec ships these to other machines.
#[derive(Debug, Clone)]
pub(crate) struct ExecParts {
    pub files: Arc<Vec<TableFile>>,
    /// The output columns: schema name and what each shows.
    pub columns: Vec<(String, Output)>,
    pub selection: Selection,
    /// The selection's index conditions as `(index name, value)`, in the selection's order.
    pub conditions: Vec<(Bytes, Vec<u8>)>,
    pub partitions: Vec<Arc<Vec<Unit>>>,
    /// Rows per batch, at least 1.
    pub batch_size: usize,
    pub limit: Option<usize>,
}

/// The scan of an [`EsdbTable`](crate::EsdbTable): a [`StreamingTableExec`] of ESDB partitions,
/// shown in `EXPLAIN` with the selection ESDB answered.
#[derive(Debug)]
pub struct EsdbExec {
    inner: StreamingTableExec,
    description: String,
    partition_rows: Vec<u64>,
    exact: bool,
    schema: SchemaRef,
    parts: ExecParts,
}

impl EsdbExec {
    pub(crate) fn new(plan: ScanPlan) -> Result<EsdbExec> {
        let columns: Vec<(String, Output)> = plan
            .projection
            .iter()
            .map(|&idx| {
                let name = plan.schema.field(idx).name().clone();
                let output = match idx {
                    0 => Output::Space,
                    1 => Output::Grouping,
                    2 => Output::Timestamp,
                    3 => Output::Data,
                    other => Output::Index(plan.index_columns[other - 4].index.clone()),
                };
                (name, output)
            })
            .collect();
        let conditions = plan
            .selection
            .indexes
            .iter()
            .map(|(column, value)| {
                let index = plan.index_columns.iter().find(|c| &c.column == column).expect("pushed-down column");
                (index.index.clone(), value.clone())
            })
            .collect();
        EsdbExec::from_parts(ExecParts {
            files: plan.files,
            columns,
            selection: plan.selection,
            conditions,
            partitions: balance(plan.units, plan.target_partitions).into_iter().map(Arc::new).collect(),
            batch_size: plan.batch_size.max(1),
            limit: plan.limit,
        })
    }

    /// The scan of `parts`, as planned (here or on another machine).
    pub(crate) fn from_parts(parts: ExecParts) -> Result<EsdbExec> {
        let schema: SchemaRef =
            Arc::new(Schema::new(parts.columns.iter().map(|(name, output)| output.field(name)).collect::<Vec<_>>()));
        let partition_rows: Vec<u64> =
            parts.partitions.iter().map(|part| part.iter().map(|unit| unit.rows).sum()).collect();
        let selection = Arc::new(parts.selection.clone());
        let conditions = Arc::new(parts.conditions.clone());
        let outputs: Arc<Vec<Output>> = Arc::new(parts.columns.iter().map(|(_, output)| output.clone()).collect());
        let streams: Vec<Arc<dyn PartitionStream>> = parts
            .partitions
            .iter()
            .map(|units| {
                Arc::new(EsdbPartition {
                    schema: schema.clone(),
                    files: parts.files.clone(),
                    units: Arc::clone(units),
                    selection: selection.clone(),
                    conditions: conditions.clone(),
                    outputs: outputs.clone(),
                    batch_size: parts.batch_size,
                    limit: parts.limit,
                }) as Arc<dyn PartitionStream>
            })
            .collect();
        // Each partition reads in (space, grouping, timestamp) order, or (space, timestamp)
        // through an index; the ordering holds for the columns projected as a prefix of that.
        let by_index = !parts.conditions.is_empty();
        let order: &[&str] = if by_index { &["space", "timestamp"] } else { &["space", "grouping", "timestamp"] };
        let mut sort = Vec::new();
        for name in order {
            match schema.index_of(name) {
                Ok(idx) => {
                    sort.push(PhysicalSortExpr::new_default(Arc::new(Column::new(name, idx)) as Arc<dyn PhysicalExpr>))
                }
                Err(_) => break,
            }
        }
        let orderings: Vec<LexOrdering> = LexOrdering::new(sort).into_iter().collect();
        let n_partitions = streams.len();
        let inner = StreamingTableExec::try_new(schema.clone(), streams, None, orderings, false, parts.limit)?;
        let columns: Vec<&str> = schema.fields().iter().map(|field| field.name().as_str()).collect();
        let description = format!(
            "EsdbExec: files={}, partitions={n_partitions}, pushed down: {}, columns=[{}]{}",
            parts.files.len(),
            selection,
            columns.join(", "),
            parts.limit.map(|limit| format!(", limit={limit}")).unwrap_or_default()
        );
        Ok(EsdbExec { inner, description, partition_rows, exact: selection.counts_are_exact(), schema, parts })
    }

    /// The parts this scan was made of.
    #[cfg_attr(not(feature = "proto"), allow(dead_code))]
    pub(crate) fn parts(&self) -> &ExecParts {
        &self.parts
    }

    fn statistics_of(&self, rows: u64) -> Statistics {
        let mut statistics = Statistics::new_unknown(&self.schema);
        let rows = usize::try_from(rows).unwrap_or(usize::MAX);
        let rows = self.inner.fetch().map_or(rows, |limit| rows.min(limit));
        statistics.num_rows = if self.exact { Precision::Exact(rows) } else { Precision::Inexact(rows) };
        statistics
    }
}

impl DisplayAs for EsdbExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.description)
    }
}

impl ExecutionPlan for EsdbExec {
    fn name(&self) -> &str {
        "EsdbExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal("EsdbExec has no children".into()))
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        self.inner.execute(partition, context)
    }

    fn fetch(&self) -> Option<usize> {
        self.inner.fetch()
    }

    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let rows = match partition {
            Some(idx) => *self
                .partition_rows
                .get(idx)
                .ok_or_else(|| DataFusionError::Internal(format!("EsdbExec has no partition {idx}")))?,
            None => self.partition_rows.iter().sum(),
        };
        Ok(Arc::new(self.statistics_of(rows)))
    }
}

/// The units of each file cut into about `target_partitions` partitions of similar event counts;
/// a partition never spans files, so that each keeps its file's order.
fn balance(units: Vec<Vec<Unit>>, target_partitions: usize) -> Vec<Vec<Unit>> {
    let total: u64 = units.iter().flatten().map(|unit| unit.rows).sum::<u64>().max(1);
    let mut partitions: Vec<Vec<Unit>> = Vec::new();
    for units in units {
        if units.is_empty() {
            continue;
        }
        let rows: u64 = units.iter().map(|unit| unit.rows).sum();
        let share = ((target_partitions as u64 * rows).div_ceil(total)).clamp(1, units.len() as u64);
        let per_part = rows.div_ceil(share).max(1);
        let mut part = Vec::new();
        let mut part_rows = 0;
        for unit in units {
            part_rows += unit.rows;
            part.push(unit);
            if part_rows >= per_part {
                partitions.push(std::mem::take(&mut part));
                part_rows = 0;
            }
        }
        if !part.is_empty() {
            partitions.push(part);
        }
    }
    partitions
}

/// One partition: its units, read in order on a blocking thread.
#[derive(Debug)]
struct EsdbPartition {
    schema: SchemaRef,
    files: Arc<Vec<TableFile>>,
    units: Arc<Vec<Unit>>,
    selection: Arc<Selection>,
    /// The selection's index conditions as `(index name, value)`.
    conditions: Arc<Vec<(Bytes, Vec<u8>)>>,
    outputs: Arc<Vec<Output>>,
    batch_size: usize,
    limit: Option<usize>,
}

impl PartitionStream for EsdbPartition {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _context: Arc<TaskContext>) -> SendableRecordBatchStream {
        let (send, receive) = tokio::sync::mpsc::channel::<Result<RecordBatch>>(2);
        let reader = Reader {
            schema: self.schema.clone(),
            files: self.files.clone(),
            units: Arc::clone(&self.units),
            selection: self.selection.clone(),
            conditions: self.conditions.clone(),
            outputs: self.outputs.clone(),
            batch_size: self.batch_size,
            limit: self.limit,
        };
        tokio::task::spawn_blocking(move || {
            if let Err(err) = reader.run(&send) {
                let _ = send.blocking_send(Err(err));
            }
        });
        let stream = futures::stream::unfold(receive, |mut receive| async move {
            receive.recv().await.map(|batch| (batch, receive))
        });
        Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream))
    }
}

struct Reader {
    schema: SchemaRef,
    files: Arc<Vec<TableFile>>,
    units: Arc<Vec<Unit>>,
    selection: Arc<Selection>,
    conditions: Arc<Vec<(Bytes, Vec<u8>)>>,
    outputs: Arc<Vec<Output>>,
    batch_size: usize,
    limit: Option<usize>,
}

/// The groupings of one space, walked in name order as a partition's units ask for them.
struct GroupingWalk {
    scans: esdb_read::GroupingScans,
    /// The grouping read from the walk but not yet asked for.
    ahead: Option<(esdb_read::GroupingInfo, esdb_read::Scan)>,
}

impl GroupingWalk {
    fn new(scans: esdb_read::GroupingScans) -> GroupingWalk {
        GroupingWalk { scans, ahead: None }
    }

    /// The scan of grouping `name`, or `None` when the space has no such grouping; names are
    /// asked for in ascending order.
    fn take(&mut self, name: &[u8]) -> esdb_read::Result<Option<esdb_read::Scan>> {
        loop {
            let (info, scan) = match self.ahead.take() {
                Some(ahead) => ahead,
                None => match self.scans.next() {
                    Some(next) => next?,
                    None => return Ok(None),
                },
            };
            match info.name.as_ref().cmp(name) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => return Ok(Some(scan)),
                std::cmp::Ordering::Greater => {
                    self.ahead = Some((info, scan));
                    return Ok(None);
                }
            }
        }
    }
}

/// The columns being built.
enum Builder {
    Strings(StringBuilder),
    Integers(Int64Builder),
    Lists(ListBuilder<StringBuilder>),
}

impl Reader {
    /// Reads every unit into batches sent on `send`; stops early when the receiver is gone (a
    /// `LIMIT` was met downstream) or this partition's own limit is.
    fn run(self, send: &tokio::sync::mpsc::Sender<Result<RecordBatch>>) -> Result<()> {
        let mut remaining = self.limit.unwrap_or(usize::MAX);
        let mut batch = self.builders();
        let mut rows = 0usize;
        let index_outputs = self.outputs.iter().any(|output| matches!(output, Output::Index(_)));
        let wants_grouping = self.outputs.iter().any(|output| matches!(output, Output::Grouping));
        let (lo, hi) = (self.selection.lo, self.selection.hi);
        // Every event of a unit is kept and only the ids are shown (the space, and the grouping
        // of a unit that is one): the units' counts are the rows, and no block is read.
        let counts_only = self.selection.counts_are_exact()
            && self.outputs.iter().all(|output| matches!(output, Output::Space | Output::Grouping));
        let ids_only = self.outputs.iter().all(|output| matches!(output, Output::Space));
        let mut current: Option<(usize, esdb_read::Space, Option<EventLabels>)> = None;
        let mut walk: Option<GroupingWalk> = None;
        for unit in self.units.iter() {
            if remaining == 0 {
                break;
            }
            let file = &self.files[unit.file];
            let fail = |err: esdb_read::Error| external(&file.location, err);
            let space_text = utf8(&unit.space, || format!("{}: a space id", file.location))?;
            if counts_only && (unit.grouping.is_some() || ids_only) {
                let grouping_text = match &unit.grouping {
                    Some(grouping) => {
                        utf8(grouping, || format!("{}: space {space_text:?}: a grouping name", file.location))?
                    }
                    None => "",
                };
                let mut left = usize::try_from(unit.rows).unwrap_or(usize::MAX).min(remaining);
                while left > 0 {
                    let take = left.min(self.batch_size - rows);
                    for (builder, output) in batch.iter_mut().zip(self.outputs.iter()) {
                        let text = if matches!(output, Output::Space) { space_text } else { grouping_text };
                        let Builder::Strings(b) = builder else { unreachable!("space and grouping are strings") };
                        for _ in 0..take {
                            b.append_value(text);
                        }
                    }
                    (rows, left, remaining) = (rows + take, left - take, remaining - take);
                    if !self.flush_if_full(&mut batch, &mut rows, remaining, send)? {
                        return Ok(());
                    }
                }
                continue;
            }
            // Units of one space are contiguous: the space and its labels are looked up once,
            // and its groupings are walked in one pass of the catalog.
            let same_space =
                current.as_ref().is_some_and(|(at, space, _)| *at == unit.file && space.id() == &unit.space[..]);
            if !same_space {
                let Some(space) = file.db()?.space(&unit.space).map_err(fail)? else { continue };
                current = Some((unit.file, space, None));
                walk = None;
            }
            let (_, space, cached_labels) = current.as_mut().expect("set above");
            let extra_indexes =
                if unit.grouping.is_none() { self.conditions.get(1..).unwrap_or_default() } else { &[] };
            let post_grouping = self.selection.grouping.as_ref().filter(|_| unit.grouping.is_none());
            let needs_labels = index_outputs
                || !extra_indexes.is_empty()
                || ((wants_grouping || post_grouping.is_some()) && unit.grouping.is_none());
            if needs_labels && cached_labels.is_none() {
                // With indexes when any unit needs them: they hold the groupings too.
                let with_indexes = index_outputs || self.conditions.len() > 1;
                *cached_labels = Some(space.event_labels(with_indexes).map_err(fail)?);
            }
            let labels: Option<&EventLabels> = cached_labels.as_ref().filter(|_| needs_labels);
            let scan = match (&unit.grouping, self.conditions.first()) {
                (Some(grouping), _) => {
                    let walk = walk.get_or_insert_with(|| GroupingWalk::new(space.grouping_scans_from(grouping)));
                    match walk.take(grouping).map_err(fail)? {
                        Some(scan) => scan,
                        // Gone since planning (the unit's counts came from this catalog).
                        None => continue,
                    }
                }
                (None, Some((index, value))) => space.scan_index(index, value).map_err(fail)?,
                (None, None) => space.events().map_err(fail)?,
            };
            let mut scan = scan.range(lo..=hi);
            while let Some(event) = scan.next_ref() {
                let event = event.map_err(fail)?;
                let ordinal = event.ordinal();
                if let Some(labels) = labels {
                    if post_grouping.is_some_and(|grouping| labels.grouping(ordinal).as_ref() != grouping.as_slice()) {
                        continue;
                    }
                    if !extra_indexes.iter().all(|(name, value)| {
                        labels.indexes(ordinal).any(|(n, v)| n == name && v.as_ref() == value.as_slice())
                    }) {
                        continue;
                    }
                }
                for (builder, output) in batch.iter_mut().zip(self.outputs.iter()) {
                    match (builder, output) {
                        (Builder::Strings(b), Output::Space) => b.append_value(space_text),
                        (Builder::Strings(b), Output::Grouping) => {
                            let grouping = match (&unit.grouping, labels) {
                                (Some(grouping), _) => grouping,
                                (None, Some(labels)) => labels.grouping(ordinal),
                                (None, None) => unreachable!("labels are built when the grouping is shown"),
                            };
                            b.append_value(utf8(grouping, || {
                                format!("{}: space {space_text:?}: a grouping name", file.location)
                            })?)
                        }
                        (Builder::Integers(b), Output::Timestamp) => b.append_value(event.timestamp()),
                        (Builder::Strings(b), Output::Data) => b.append_value(utf8(event.data(), || {
                            format!(
                                "{}: space {space_text:?}: the data of the event at {} (ordinal {ordinal})",
                                file.location,
                                event.timestamp()
                            )
                        })?),
                        (Builder::Lists(b), Output::Index(name)) => {
                            if let Some(labels) = labels {
                                for (_, value) in labels.indexes(ordinal).filter(|(n, _)| *n == name) {
                                    b.values().append_value(utf8(value, || {
                                        format!("{}: space {space_text:?}: a value of index {name:?}", file.location)
                                    })?);
                                }
                            }
                            b.append(true);
                        }
                        _ => unreachable!("builders are made from the outputs"),
                    }
                }
                rows += 1;
                remaining -= 1;
                if !self.flush_if_full(&mut batch, &mut rows, remaining, send)? || remaining == 0 {
                    return Ok(());
                }
            }
        }
        if rows > 0 {
            let _ = send.blocking_send(Ok(self.finish(&mut batch, rows)?));
        }
        Ok(())
    }

    /// Sends the batch once it holds `batch_size` rows or the limit is met (`remaining == 0`);
    /// false when the receiver is gone.
    fn flush_if_full(
        &self,
        batch: &mut [Builder],
        rows: &mut usize,
        remaining: usize,
        send: &tokio::sync::mpsc::Sender<Result<RecordBatch>>,
    ) -> Result<bool> {
        if *rows < self.batch_size && remaining > 0 {
            return Ok(true);
        }
        let sent = send.blocking_send(Ok(self.finish(batch, *rows)?)).is_ok();
        *rows = 0;
        Ok(sent)
    }

    fn builders(&self) -> Vec<Builder> {
        self.outputs
            .iter()
            .map(|output| match output {
                Output::Space | Output::Grouping | Output::Data => Builder::Strings(StringBuilder::new()),
                Output::Timestamp => Builder::Integers(Int64Builder::with_capacity(self.batch_size)),
                Output::Index(_) => {
                    Builder::Lists(ListBuilder::new(StringBuilder::new()).with_field(Arc::new(index_value_field())))
                }
            })
            .collect()
    }

    fn finish(&self, batch: &mut [Builder], rows: usize) -> Result<RecordBatch> {
        let columns: Vec<ArrayRef> = batch
            .iter_mut()
            .map(|builder| match builder {
                Builder::Strings(b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Integers(b) => Arc::new(b.finish()) as ArrayRef,
                Builder::Lists(b) => Arc::new(b.finish()) as ArrayRef,
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }
}

/// `bytes` as text, or an error naming what they are.
fn utf8(bytes: &[u8], what: impl FnOnce() -> String) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|err| {
        DataFusionError::Execution(format!(
            "{} is not UTF-8 (byte {}), so it cannot be a Utf8 value",
            what(),
            err.valid_up_to()
        ))
    })
}
