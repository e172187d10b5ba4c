//! Reads ESDB files in place from object storage: S3 (and S3-compatible servers), a local
//! directory through the same API, and any other [`object_store`] backend given as a store.
//!
//! An [`ObjectSource`] is an [`esdb_read::Source`] over one object: the reader asks it for byte
//! ranges, and it answers from a cache of pages (bounded by bytes) or with ranged GETs. Each GET
//! that misses is a round trip, so the source is built around how few of them a query needs:
//!
//! - **Open** is one GET of the object's last 256 KiB (and a page): the footer, the metadata
//!   block and the catalog's upper levels, which format 2 places together at the end
//!   (FORMAT.md, "Tail region and placement"). The length comes with that answer: no HEAD. The
//!   reader does not read the header of a far file (the footer repeats it; `verify` checks it).
//! - **A lookup** then needs one GET for the catalog leaf, and one for the stream: the reader
//!   [hints](esdb_read::Source::hint) the source that it will read a stream's block index and
//!   the block after it, which format 2 places next to each other, and the source fetches both in
//!   one request. Open, lookup and first event: 3 requests.
//! - **A scan** that reads forward through the object is detected as sequential: each request
//!   then fetches a read-ahead with it (256 KiB, doubling to 8 MiB), in the background, so that
//!   the scan decodes one part while the next is on its way.
//! - Requests in flight are limited in number, retried with backoff when the error may pass,
//!   made conditional on the ETag seen at open (a replaced object is an error, never a mix of two
//!   files), and every error names the URL and the byte range.
//!
//! # Blocking or async
//!
//! [`Db`] is blocking, as `esdb-read` is: use [`open`] (or [`ObjectSource::open`] and
//! [`Db::from_source`]) from ordinary threads, as the `esdb` command does. Requests run on a
//! small runtime of this crate's own, so this works whether or not the thread belongs to an async
//! runtime, but a read that misses blocks its thread for a round trip. In an async host use
//! [`AsyncDb`]: it opens without blocking, and [`AsyncDb::run`] runs reads on the host runtime's
//! blocking threads, never on its workers.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL from the environment.
//! let db = esdb_object_store::open("s3://events/2026-11.esdb")?;
//! if let Some(space) = db.space("customer-42")? {
//!     for event in space.events()? {
//!         println!("{}", event?.timestamp());
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod asynchronous;
mod error;
mod location;
mod options;
mod runtime;
mod source;
mod upload;

use std::sync::Arc;

pub use asynchronous::AsyncDb;
pub use error::{Error, FetchError};
pub use esdb_read::Db;
pub use location::{is_object_url, store_for};
pub use object_store;
pub use options::ObjectSourceOptions;
pub use source::{ObjectSource, Stats};
pub use upload::{check_upload, delete, upload, upload_to};

/// Opens the ESDB file at `url` (`s3://BUCKET/KEY` or `file:///PATH`) with default options:
/// one request, then the reader's open from the cached end of the object.
///
/// S3 is configured from the standard environment variables (see [`store_for`]).
///
/// # Errors
/// [`Error`]: a URL this crate does not know, a store that cannot be configured, a failed
/// request (a missing object among them), or an object that is not a readable ESDB file.
pub fn open(url: &str) -> Result<Db, Error> {
    open_with(url, ObjectSourceOptions::default()).map(|(db, _)| db)
}

/// As [`open`], with `options`; also returns the source, whose [`stats`](ObjectSource::stats)
/// count the requests made.
///
/// # Errors
/// As [`open`].
pub fn open_with(url: &str, options: ObjectSourceOptions) -> Result<(Db, ObjectSource), Error> {
    let (store, path) = store_for(url)?;
    open_object(store, path, url, options)
}

/// Opens the object at `path` in `store` as an ESDB file; `url` names it in errors.
///
/// # Errors
/// As [`open`].
pub fn open_object(
    store: Arc<dyn object_store::ObjectStore>,
    path: object_store::path::Path,
    url: &str,
    options: ObjectSourceOptions,
) -> Result<(Db, ObjectSource), Error> {
    let source = ObjectSource::open(store, path, url, options)?;
    let db =
        Db::from_source(Arc::new(source.clone())).map_err(|source| Error::Decode { url: url.to_owned(), source })?;
    Ok((db, source))
}
