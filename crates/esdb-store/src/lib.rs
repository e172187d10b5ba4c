//! A live event store: a durable append-only log that readers can follow, sealing settled
//! history into immutable ESDB partitions, with queries across both.
//!
//! A store is one directory:
//! - `log/*.log`: append-only segments of checksummed records, each with its offset;
//! - `partitions/*.esdb`: sealed history, one or more ordinary ESDB files per time window, which
//!   `esdb-read` and the `esdb` CLI open as they are;
//! - `MANIFEST`: the single source of truth naming the segments and partitions, replaced
//!   atomically by one transition function;
//! - `DURABLE`: the durable watermark readers in other processes read up to;
//! - `quarantine/`: files the store found but could not use, never deleted.
//!
//! The directory layout, the record format and the recovery rules are in `docs/STORE.md`.
//!
//! # Overview of types
//! - [`Store`]: `open` (creates or recovers), `append` / `append_batch`, `read_from` / `follow`,
//!   `space` (queries), `seal`, `compact`, `retain`, `info`, `verify`.
//! - [`Store::open_read_only`]: no lock, no writes; never blocks a writer.
//! - [`verify()`] and [`repair()`]: check a store directory, rebuild its MANIFEST from the files.
//! - [`StoreOptions`], [`Durability`], [`Retention`]; [`io::IoHook`] to fail any file operation in
//!   tests.
//! - [`NewEvent`] in, [`LogEvent`] out of replay, [`Event`] out of queries ([`Space`], [`Scan`]).
//!
//! # Example
//! ```
//! use esdb_store::{NewEvent, Store, StoreOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let store = Store::open(dir.path(), StoreOptions::default())?;
//! store.append(NewEvent::new("customer-1", 100, "page").index("type", "page"))?;
//! store.append(NewEvent::new("customer-1", 105, "buy").index("type", "purchase").id("order-1"))?;
//! // A retry of the same event is not stored twice.
//! assert_eq!(store.append(NewEvent::new("customer-1", 105, "buy").id("order-1"))?, 1);
//!
//! store.seal()?; // into ESDB partitions
//! store.append(NewEvent::new("customer-1", 110, "page").index("type", "page"))?;
//!
//! // Queries see sealed partitions and the unsealed tail together.
//! let customer = store.space("customer-1")?.expect("stored");
//! let newest_first: Vec<i64> = customer.events()?.rev().map(|e| e.map(|e| e.timestamp())).collect::<Result<_, _>>()?;
//! assert_eq!(newest_first, [110, 105, 100]);
//!
//! // Replay in offset order.
//! let offsets: Vec<u64> = store.read_from(0)?.map(|e| e.map(|e| e.offset)).collect::<Result<_, _>>()?;
//! assert_eq!(offsets, [0, 1, 2]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod error;
mod event;
pub mod io;
mod log;
mod maintenance;
mod manifest;
mod open;
mod options;
mod partition;
mod query;
pub mod record;
mod repair;
mod replay;
mod segment;
mod store;
mod tail;
mod telemetry;
mod tier;
mod tiering;
mod transition;
mod verify;
mod watermark;

pub use error::{Error, Result};
pub use event::{Event, LogEvent, NewEvent, Record};
pub use maintenance::{CompactReport, RetainReport, SealReport, StoreInfo};
pub use manifest::{Manifest, PartitionMeta, SegmentMeta};
pub use options::{Durability, LogRetention, PartitionRetention, Retention, StoreOptions, TimeUnit};
pub use query::{Records, Scan, Space, SpaceSummary};
pub use repair::{repair, repair_with, RepairReport};
pub use replay::LogReader;
#[cfg(feature = "stream")]
pub use replay::LogStream;
pub use store::{Recovery, Store};
pub use telemetry::Metrics;
pub use tiering::TierReport;
pub use verify::{verify, VerifyReport};
