//! Reads ESDB files: immutable, single-file storage for timestamped event streams.
//!
//! A file holds **spaces** (e.g. one per customer); a space holds events ordered by timestamp,
//! split into **groupings** (`""` is the default grouping), with **secondary indexes** on
//! `(name, value)` pairs. Every query is a [`Scan`]: a double-ended iterator (oldest first,
//! `.rev()` for newest first) that [`Scan::range`] restricts to a time range by seeking.
//!
//! # Overview of types
//! - [`Db`]: an open file (memory-mapped, from [`bytes::Bytes`], or any [`Source`]); `Send +
//!   Sync`.
//! - [`Space`]: one space; [`Space::scan`], [`Space::scan_index`], [`Space::events`], and what
//!   exists: [`Space::groupings`], [`Space::index_names`], [`Space::index_values`].
//! - [`Scan`]: the iterator of [`Event`]s every query returns.
//! - [`Event`]: timestamp and data, sharing the file or block buffer it came from; [`EventRef`]
//!   borrows it from the scan instead ([`Scan::next_ref`]).
//! - [`Error`]: I/O with the path and range, or [`DecodeError`] naming the field and offset.
//!
//! # Reading from several threads
//! A [`Db`] is `Send + Sync` and cheap to clone. To read one space with `n` threads, give each
//! thread its own part of the groupings with [`Space::grouping_scans_part`]`(part, n)`: each
//! thread lists and reads only its part, and its scans share no counter with the other threads'
//! (2 threads read the benchmark file 1.85x as fast as one). Different spaces can simply go to
//! different threads.
//!
//! # What it pulls in
//! Kept small for services that only read: `esdb-format`, `bytes`, `memmap2` (the one `unsafe`
//! block, mapping the file), `xxhash-rust` (xxh3) and `lz4_flex` (safe decoding). No proc
//! macros: the error types are written by hand.
//!
//! Timestamps are plain `i64` in whatever unit the writer used (seconds, milliseconds, ...).
//! Within a grouping, events are ordered by timestamp, ties by insertion order; a reverse scan
//! yields exactly the reverse sequence. The format is specified in `docs/FORMAT.md`.
//!
//! # Example
//! ```
//! use esdb_read::Db;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("activity.esdb");
//! let mut writer = esdb_write::Writer::create(&path)?;
//! writer.add("1", 1_403_534_919, "", [("type", "page")], r#"{"url":"/"}"#)?;
//! writer.add("1", 1_403_534_920, "", [("type", "click")], r#"{"button":"Buy"}"#)?;
//! writer.add("1", 1_403_534_923, "", [("type", "purchase")], r#"{"total":"42.99"}"#)?;
//! writer.finish()?;
//!
//! let db = Db::open(&path)?;
//! let customer = db.space("1")?.expect("customer 1 exists");
//! for event in customer.scan("")?.rev() {
//!     let event = event?;
//!     println!("{} {}", event.timestamp(), String::from_utf8_lossy(event.data()));
//! }
//! let purchases: Vec<_> = customer.scan_index("type", "purchase")?.collect::<Result<_, _>>()?;
//! assert_eq!(purchases[0].data(), br#"{"total":"42.99"}"#);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]

mod cache;
mod catalog;
mod db;
mod error;
mod event;
mod mmap;
mod records;
mod scan;
mod source;
mod space;
pub mod verify;
mod walk;

pub use bytes::Bytes;
pub use db::{Db, FileGroupings, Spaces};
pub use error::{DecodeError, Error, Result};
pub use event::{Event, EventRef};
pub use records::{EventLabels, Record, Records};
pub use scan::Scan;
pub use source::{Distance, Source, SUFFIX_READ_LEN};
pub use space::{Counts, GroupingInfo, GroupingScans, Groupings, IndexNames, IndexValueInfo, IndexValues, Space};
pub use verify::{Report, SectionStats};
pub use walk::{CatalogStep, CatalogWalk};

/// The README's Rust examples, run as doctests so that they compile and run as written.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeExamples;
