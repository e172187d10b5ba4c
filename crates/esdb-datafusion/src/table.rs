//! [`EsdbTable`]: ESDB files as one SQL table.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::ObjectStore;
use esdb_read::Db;
use futures::TryStreamExt;

use crate::exec::{plan_units, EsdbExec, Output, ScanPlan};
use crate::pushdown::{is_supported, Selection};

/// The fixed columns, in order; one `List<Utf8>` column per index name follows them.
pub const FIXED_COLUMNS: [&str; 4] = ["space", "grouping", "timestamp", "data"];

/// One file of a table: open, or (in a plan decoded on another machine) opened when first read.
#[derive(Debug, Clone)]
pub(crate) struct TableFile {
    pub location: String,
    /// Where a file not yet open is read from: an object of a store, or (`None`) the local path
    /// `location`.
    object: Option<(Arc<dyn ObjectStore>, Path)>,
    db: Arc<std::sync::OnceLock<std::result::Result<Db, String>>>,
}

impl TableFile {
    pub(crate) fn open(location: String, db: Db) -> TableFile {
        TableFile { location, object: None, db: Arc::new(std::sync::OnceLock::from(Ok(db))) }
    }

    /// A file opened on first use: the object at `object`, or the local path `location`.
    #[cfg_attr(not(feature = "proto"), allow(dead_code))]
    pub(crate) fn deferred(location: String, object: Option<(Arc<dyn ObjectStore>, Path)>) -> TableFile {
        TableFile { location, object, db: Arc::new(std::sync::OnceLock::new()) }
    }

    /// The file, opened now if it was not yet (blocking). A failed open is remembered.
    pub(crate) fn db(&self) -> Result<&Db> {
        self.db
            .get_or_init(|| {
                let opened = match &self.object {
                    Some((store, path)) => {
                        esdb_object_store::open_object(store.clone(), path.clone(), &self.location, Default::default())
                            .map(|(db, _)| db)
                            .map_err(|err| external(&self.location, err))
                    }
                    None => Db::open(&self.location).map_err(|err| external(&self.location, err)),
                };
                opened.map_err(|err| err.to_string())
            })
            .as_ref()
            .map_err(|text| DataFusionError::Execution(text.clone()))
    }
}

/// An index column: its name in the schema and the index it shows.
#[derive(Debug, Clone)]
pub(crate) struct IndexColumn {
    pub column: String,
    pub index: Bytes,
}

/// ESDB files (one, a directory of them, or an object-store prefix) as one table of events with
/// the columns `space` (Utf8), `grouping` (Utf8), `timestamp` (Int64), `data` (Utf8) and one
/// `List<Utf8>` column per index name, holding the event's values of that index. An index whose
/// name is one of the four fixed columns' is shown as `NAME_index`.
///
/// Filters on `space` (`=`, `IN`), `grouping` (`=`), `timestamp` (comparisons, `BETWEEN`) and
/// `array_has(INDEX_COLUMN, 'value')` become ESDB lookups; projections and `LIMIT` are pushed
/// down too. See the [crate] documentation.
#[derive(Debug, Clone)]
pub struct EsdbTable {
    files: Arc<Vec<TableFile>>,
    schema: SchemaRef,
    index_columns: Arc<Vec<IndexColumn>>,
}

impl EsdbTable {
    /// A table of already open files, each named by its location in errors and in `EXPLAIN`.
    /// Blocking: a version 1 file, which does not list its index names, has its catalog walked.
    ///
    /// # Errors
    /// An index name or a file's catalog that cannot be read, or an index name that is not UTF-8.
    pub fn new(files: Vec<(String, Db)>) -> Result<EsdbTable> {
        EsdbTable::of_files(files.into_iter().map(|(location, db)| TableFile::open(location, db)).collect())
    }

    /// The table of `files`, opening those not yet open.
    pub(crate) fn of_files(files: Vec<TableFile>) -> Result<EsdbTable> {
        let mut names: Vec<Bytes> = Vec::new();
        for file in &files {
            let (location, db) = (&file.location, file.db()?);
            let listed = match db.index_names() {
                Some(names) => names,
                None => {
                    let mut found = std::collections::BTreeSet::new();
                    for space in db.spaces() {
                        let space = space.map_err(|err| external(location, err))?;
                        for name in space.index_names() {
                            found.insert(name.map_err(|err| external(location, err))?);
                        }
                    }
                    found.into_iter().collect()
                }
            };
            names.extend(listed);
        }
        names.sort();
        names.dedup();
        let fixed = [Output::Space, Output::Grouping, Output::Timestamp, Output::Data];
        let mut fields: Vec<Field> = FIXED_COLUMNS.iter().zip(fixed).map(|(name, output)| output.field(name)).collect();
        let mut index_columns = Vec::new();
        for index in names {
            let name = std::str::from_utf8(&index).map_err(|_| {
                DataFusionError::Plan(format!("index name {index:?} is not UTF-8: it cannot name a column"))
            })?;
            let column = if FIXED_COLUMNS.contains(&name) { format!("{name}_index") } else { name.to_owned() };
            fields.push(index_field(&column));
            index_columns.push(IndexColumn { column, index });
        }
        Ok(EsdbTable {
            files: Arc::new(files),
            schema: Arc::new(Schema::new(fields)),
            index_columns: Arc::new(index_columns),
        })
    }

    /// Opens the files at `location`: a local `.esdb` file, a local directory (every `*.esdb`
    /// under it, in path order), `s3://BUCKET/KEY` naming one object, or `s3://BUCKET/PREFIX`
    /// (every object ending `.esdb` under it). `file:///` URLs work as `s3://` ones do. Remote
    /// files are read in place (`esdb-object-store`); their requests run on the current tokio
    /// runtime.
    ///
    /// # Errors
    /// A location that cannot be read, holds no ESDB file, or a file that does not open.
    pub async fn open(location: &str) -> Result<EsdbTable> {
        let files = if esdb_object_store::is_object_url(location) {
            open_remote(location).await?
        } else {
            let location = location.to_owned();
            tokio::task::spawn_blocking(move || open_local(&location))
                .await
                .map_err(|err| DataFusionError::External(Box::new(err)))??
        };
        tokio::task::spawn_blocking(move || EsdbTable::new(files))
            .await
            .map_err(|err| DataFusionError::External(Box::new(err)))?
    }

    /// As [`open`](EsdbTable::open), for the object at `path` in `store` or, when there is none,
    /// every object ending `.esdb` under `path` as a prefix; each object is named `base` followed
    /// by its path (`s3://bucket/`, say). For a store built by hand: another backend, or a client
    /// with settings of its own.
    ///
    /// # Errors
    /// As [`open`](EsdbTable::open).
    pub async fn open_in_store(store: Arc<dyn ObjectStore>, path: Path, base: &str) -> Result<EsdbTable> {
        let files = open_objects(store, path, base).await?;
        tokio::task::spawn_blocking(move || EsdbTable::new(files))
            .await
            .map_err(|err| DataFusionError::External(Box::new(err)))?
    }

    /// The locations of the table's files.
    pub fn locations(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|file| file.location.as_str())
    }

    /// Events in all files together.
    pub fn len(&self) -> u64 {
        self.files.iter().map(|file| file.db().map_or(0, Db::len)).sum()
    }

    /// True when the table has no event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The column of an index: its values for each event.
pub(crate) fn index_field(column: &str) -> Field {
    Field::new(column, DataType::List(Arc::new(index_value_field())), false)
}

/// One value in an index column's lists.
pub(crate) fn index_value_field() -> Field {
    Field::new("item", DataType::Utf8, false)
}

/// An error of the file at `location`, with its causes, as one line of text.
pub(crate) fn external(location: &str, err: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    let mut text = format!("{location}: {err}");
    let mut cause = err.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    DataFusionError::Execution(text)
}

fn open_local(location: &str) -> Result<Vec<(String, Db)>> {
    let path = std::path::Path::new(location);
    let mut paths = Vec::new();
    if path.is_dir() {
        let mut pending = vec![path.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).map_err(|err| external(&dir.display().to_string(), err))? {
                let entry = entry.map_err(|err| external(&dir.display().to_string(), err))?;
                let file_type = entry.file_type().map_err(|err| external(&entry.path().display().to_string(), err))?;
                if file_type.is_dir() {
                    pending.push(entry.path());
                } else if entry.path().extension().is_some_and(|ext| ext == "esdb") {
                    paths.push(entry.path());
                }
            }
        }
        paths.sort();
        if paths.is_empty() {
            return Err(DataFusionError::Plan(format!("{location}: no *.esdb file under this directory")));
        }
    } else {
        paths.push(path.to_path_buf());
    }
    paths
        .into_iter()
        .map(|path| {
            let shown = path.display().to_string();
            Db::open(&path).map(|db| (shown.clone(), db)).map_err(|err| external(&shown, err))
        })
        .collect()
}

async fn open_remote(location: &str) -> Result<Vec<(String, Db)>> {
    let (store, path) = esdb_object_store::store_for(location).map_err(|err| external(location, err))?;
    // `s3://bucket/` or `file:///`: what the object paths are relative to.
    let base = match location.strip_prefix("s3://") {
        Some(rest) => format!("s3://{}/", rest.split('/').next().unwrap_or_default()),
        None => "file:///".to_owned(),
    };
    open_objects(store, path, &base).await
}

/// The object at `path` in `store`, or every object ending `.esdb` under it; `base` and the
/// object's path make the URL that names it.
async fn open_objects(store: Arc<dyn ObjectStore>, path: Path, base: &str) -> Result<Vec<(String, Db)>> {
    use esdb_object_store::object_store::{Error as StoreError, ObjectStoreExt};
    let location = format!("{base}{path}");
    // A key names one object, which a listing of it as a prefix would not return.
    let keys = match store.head(&path).await {
        Ok(_) => vec![path],
        Err(StoreError::NotFound { .. }) => {
            let mut keys: Vec<_> = store
                .list(Some(&path))
                .map_ok(|meta| meta.location)
                .try_filter(|key| std::future::ready(key.as_ref().ends_with(".esdb")))
                .try_collect()
                .await
                .map_err(|err| external(&location, err))?;
            keys.sort();
            if keys.is_empty() {
                return Err(DataFusionError::Plan(format!("{location}: no object ending .esdb under this prefix")));
            }
            keys
        }
        Err(err) => return Err(external(&location, err)),
    };
    let mut files = Vec::with_capacity(keys.len());
    for key in keys {
        let url = format!("{base}{key}");
        let db = esdb_object_store::AsyncDb::open(store.clone(), key, &url, Default::default())
            .await
            .map_err(|err| external(&url, err))?;
        files.push((url, db.db().clone()));
    }
    Ok(files)
}

#[async_trait]
impl datafusion::catalog::TableProvider for EsdbTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        let columns: Vec<String> = self.index_columns.iter().map(|column| column.column.clone()).collect();
        Ok(filters
            .iter()
            .map(|filter| {
                if is_supported(filter, &columns) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns: Vec<String> = self.index_columns.iter().map(|column| column.column.clone()).collect();
        let selection = Selection::from_filters(filters, &columns);
        let projection: Vec<usize> = match projection {
            Some(projection) => projection.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let target_partitions = state.config().target_partitions();
        let batch_size = state.config().batch_size();
        let files = self.files.clone();
        let index_columns = self.index_columns.clone();
        let plan_selection = selection.clone();
        let units = tokio::task::spawn_blocking(move || plan_units(&files, &index_columns, &plan_selection))
            .await
            .map_err(|err| DataFusionError::External(Box::new(err)))??;
        let exec = EsdbExec::new(ScanPlan {
            files: self.files.clone(),
            schema: self.schema.clone(),
            index_columns: self.index_columns.clone(),
            projection,
            selection,
            units,
            target_partitions,
            batch_size,
            limit,
        })?;
        Ok(Arc::new(exec))
    }

    fn statistics(&self) -> Option<Statistics> {
        let mut statistics = Statistics::new_unknown(&self.schema);
        statistics.num_rows = Precision::Exact(usize::try_from(self.len()).ok()?);
        Some(statistics)
    }
}
