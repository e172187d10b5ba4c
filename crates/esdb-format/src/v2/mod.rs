//! Format major version 2: the version-1 blocks, plus zstd blocks, feature flags, a metadata
//! block and a footer that says where the file's tail region starts.
//!
//! Layout: docs/FORMAT.md. Every block kind of version 1 keeps its encoding (see [`crate::v1`]);
//! this module holds only what version 2 adds. Once released, nothing here changes meaning.

pub mod covering;
pub mod features;
pub mod footer;
pub mod metadata;

/// The minor version of format 2 this build writes when a file uses no feature of a later minor
/// version than 2.0, which keeps such files byte for byte what a 2.0 writer writes.
pub const MINOR: u16 = 0;
/// The minor version that defines covering indexes ([`covering`]): what the writer records in a
/// file that has them.
pub const MINOR_COVERING: u16 = 1;
/// The minor version that defines covering timelines
/// ([`CoveringTimelineCatalog`](covering::CoveringTimelineCatalog)): what the writer records in a
/// file that has them.
pub const MINOR_COVERING_TIMELINE: u16 = 2;

/// How many bytes at the end of a file a reader far away SHOULD read first: in files of this
/// writer with catalogs up to about 25 MB, the footer, the metadata block and the catalog's
/// upper levels at once (the footer's `tail_offset` says whether a second read is needed).
pub const SUFFIX_READ_LEN: u64 = 256 * 1024;
