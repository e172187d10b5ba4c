//! The reader for async hosts: opens without blocking, reads on the blocking threads.

use std::sync::Arc;

use esdb_read::Db;
use object_store::path::Path;
use object_store::ObjectStore;
use tokio::runtime::Handle;

use crate::error::Error;
use crate::options::ObjectSourceOptions;
use crate::source::ObjectSource;

/// An ESDB file in an object store, for use from async code.
///
/// Its requests run on the runtime it was opened on; every read of the [`Db`] goes through
/// [`run`](AsyncDb::run), which moves it to that runtime's blocking threads, so that a round trip
/// never holds up a worker. Do not call the [`Db`] of an `AsyncDb` on a worker thread directly:
/// on a runtime of one thread, a read that misses would wait for a request that cannot run.
///
/// ```no_run
/// # async fn example() -> Result<(), esdb_object_store::Error> {
/// use esdb_object_store::{AsyncDb, ObjectSourceOptions};
/// let (store, path) = esdb_object_store::store_for("s3://events/2026-11.esdb")?;
/// let db = AsyncDb::open(store, path, "s3://events/2026-11.esdb", ObjectSourceOptions::default()).await?;
/// let count = db.run(|db| db.space("customer-42").map(|space| space.map(|s| s.len()))).await;
/// # let _ = count;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AsyncDb {
    db: Db,
    source: ObjectSource,
}

impl AsyncDb {
    /// Opens the object at `path` in `store`: one request, awaited, then the reader's open on a
    /// blocking thread. Must be called within a tokio runtime, which then runs every request.
    ///
    /// # Errors
    /// As [`open`](crate::open).
    pub async fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        url: &str,
        options: ObjectSourceOptions,
    ) -> Result<AsyncDb, Error> {
        let source = ObjectSource::open_on(store, path, url.to_owned(), options, Handle::current()).await?;
        let for_db = source.clone();
        let url = url.to_owned();
        let db = tokio::task::spawn_blocking(move || Db::from_source(Arc::new(for_db)))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
            .map_err(|source| Error::Decode { url, source })?;
        Ok(AsyncDb { db, source })
    }

    /// Runs `read` on the file, on one of the runtime's blocking threads, and returns its result.
    pub async fn run<F, R>(&self, read: F) -> R
    where
        F: FnOnce(&Db) -> R + Send + 'static,
        R: Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .unwrap_or_else(|join| std::panic::resume_unwind(join.into_panic()))
    }

    /// The file, for reads on a blocking thread ([`run`](AsyncDb::run) or a thread of your
    /// own); see the note on worker threads above.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The source, whose [`stats`](ObjectSource::stats) count the requests made.
    pub fn source(&self) -> &ObjectSource {
        &self.source
    }
}
