//! SQL over ESDB files through [Apache DataFusion](https://datafusion.apache.org): a
//! [`TableProvider`](datafusion::catalog::TableProvider) over one file, a directory of them, or
//! an object-store prefix, whose filters on space, grouping, time and index values become ESDB
//! lookups.
//!
//! | column | type | |
//! |---|---|---|
//! | `space` | Utf8 | the space id |
//! | `grouping` | Utf8 | the grouping (`""` for the default one) |
//! | `timestamp` | Int64 | in the unit the file records |
//! | `data` | Utf8 | the event's data, as stored |
//! | one per index name | List&lt;Utf8&gt; | the event's values of that index |
//!
//! Pushed down, exactly (DataFusion does not filter again): `space = 'x'`, `space IN (…)`,
//! `grouping = 'g'`, comparisons and `BETWEEN` on `timestamp`, `array_has(index, 'v')`, and any
//! `AND` of them; also the projection (an index column that is not selected costs nothing) and
//! `LIMIT`. Other filters run in DataFusion on what the scan returns. `EXPLAIN` shows what reached
//! ESDB on the `EsdbExec` line. Each partition of the scan reads its share of the spaces (and of a
//! large space's groupings) on a blocking thread and declares its order to the planner: `space,
//! grouping, timestamp` (or `space, timestamp` when read through an index). Counts come from the
//! catalogs as statistics, so `SELECT count(*) … WHERE space = 'x'` reads no event.
//!
//! With the `proto` feature, `EsdbCodec` encodes ESDB scans and tables inside
//! `datafusion-proto` plans, for distributed engines (Ballista) that run them on other machines.
//!
//! Data, ids and values that are not UTF-8 cannot be Utf8 values: a query that reaches one fails
//! with an error naming the file, space and event, rather than altering it.
//!
//! ```no_run
//! # async fn example() -> datafusion::common::Result<()> {
//! use datafusion::prelude::SessionContext;
//! let ctx = SessionContext::new();
//! ctx.register_table("visits", std::sync::Arc::new(esdb_datafusion::EsdbTable::open("visits.esdb").await?))?;
//! let df = ctx.sql("SELECT space, count(*) FROM visits WHERE array_has(city, 'Paris') GROUP BY space").await?;
//! df.show().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "proto")]
mod codec;
mod exec;
mod pushdown;
mod table;

#[cfg(feature = "proto")]
pub use codec::EsdbCodec;
pub use exec::EsdbExec;
pub use table::{EsdbTable, FIXED_COLUMNS};
