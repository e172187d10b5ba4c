//! The ESDB on-disk format: every structure of an ESDB file as plain Rust data, with `encode`
//! into a `Vec<u8>` and `decode` from a byte slice at a known file offset.
//!
//! This crate does no I/O. The writer (`esdb-write`) and the reader (`esdb-read`) own files;
//! both describe bytes through this crate, and `docs/FORMAT.md` is the normative description of
//! the same bytes for other languages.
//!
//! # Overview of types
//! - [`v1::header::Header`] and [`v2::footer::Footer`]: the fixed-size ends of a file, decoded
//!   for either version by [`ends::decode`], the one place that dispatches on the version.
//! - [`v2::features`] and [`v2::metadata`]: what version 2 adds (feature flags, key/value
//!   metadata such as the time unit and the index names).
//! - [`v1::frame`]: every block's payload + trailer (codec, raw length, xxh3-64 checksum).
//! - [`v1::catalog`]: the tree of sorted `(key, value)` blocks that maps spaces, groupings and
//!   index values ([`v1::key`]) to their streams.
//! - [`v1::block_index`], [`v1::data_block`], [`v1::posting_block`], [`v1::grouping_table`]: the
//!   streams of events and postings.
//! - [`DecodeError`]: what was wrong, in which field, at which absolute file offset.
//!
//! Decoding never panics and never allocates more than the largest legal block; every length is
//! checked against the bounds of its section first.
//!
//! # Example
//! ```
//! use esdb_format::v1::frame::{self, Codec};
//! use esdb_format::v1::header::Header;
//!
//! let mut file = Vec::new();
//! Header::default().encode(&mut file);
//! let payload_at = file.len() as u64;
//! frame::encode(b"hello hello hello hello", Codec::Lz4, &mut file);
//!
//! assert_eq!(Header::decode(&file)?, Header::default());
//! let payload = frame::open(&file[payload_at as usize..], payload_at, frame::FrameLimits::v2(1024), "example block")?;
//! assert_eq!(&payload[..], b"hello hello hello hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod bitpack;
pub mod checksum;
pub mod cursor;
pub mod ends;
pub mod error;
pub mod time_unit;
pub mod v1;
pub mod v2;
pub mod varint;

pub use error::DecodeError;
pub use time_unit::TimeUnit;

/// The eight bytes at the start of the header and near the end of the footer.
///
/// `0x89` catches 7-bit transfers, `\r\n` catches line-ending conversion, `0x1a` stops `type` on
/// DOS (the same trick as PNG).
pub const MAGIC: [u8; 8] = *b"\x89ESDB\r\n\x1a";
/// The format major version this build writes (it reads every major in
/// [`ends::SUPPORTED_MAJORS`]).
pub const FORMAT_MAJOR: u16 = 2;
/// The format minor version this build writes.
pub const FORMAT_MINOR: u16 = v2::MINOR;
