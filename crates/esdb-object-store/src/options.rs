//! How an [`ObjectSource`](crate::ObjectSource) reads: its cache, its requests and its retries.

use std::time::Duration;

/// Settings of an [`ObjectSource`](crate::ObjectSource). Start from [`Default`] and change what
/// you need with the `with_` setters; new settings may be added in minor versions.
///
/// ```
/// use esdb_object_store::ObjectSourceOptions;
/// let options = ObjectSourceOptions::default().with_cache_bytes(256 << 20).with_max_concurrent_requests(16);
/// assert_eq!(options.cache_bytes, 256 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSourceOptions {
    /// The unit of caching and of every request's alignment, in bytes (64 KiB). A read that
    /// misses fetches whole pages.
    pub page_size: u64,
    /// Most bytes of pages the cache holds (64 MiB); least recently used pages go first.
    pub cache_bytes: u64,
    /// Most requests in flight at once, for all reads of this source together (8).
    pub max_concurrent_requests: usize,
    /// The first read-ahead of a sequential scan, in bytes (1 MiB); each further one doubles
    /// up to [`max_read_ahead`](ObjectSourceOptions::max_read_ahead).
    pub min_read_ahead: u64,
    /// The largest read-ahead of a sequential scan, in bytes (8 MiB).
    pub max_read_ahead: u64,
    /// How many times a failed request is tried again (3). Only errors that may pass are
    /// retried (a network error or a server error, not a missing object or a refusal).
    pub retries: u32,
    /// The wait before the first retry (100 ms); it doubles with every further one.
    pub retry_backoff: Duration,
}

impl Default for ObjectSourceOptions {
    fn default() -> ObjectSourceOptions {
        ObjectSourceOptions {
            page_size: 64 * 1024,
            cache_bytes: 64 << 20,
            max_concurrent_requests: 8,
            min_read_ahead: 1 << 20,
            max_read_ahead: 8 << 20,
            retries: 3,
            retry_backoff: Duration::from_millis(100),
        }
    }
}

impl ObjectSourceOptions {
    /// Sets [`page_size`](ObjectSourceOptions::page_size) (at least 4 KiB; smaller is raised).
    #[must_use]
    pub fn with_page_size(mut self, bytes: u64) -> Self {
        self.page_size = bytes.max(4096);
        self
    }

    /// Sets [`cache_bytes`](ObjectSourceOptions::cache_bytes).
    #[must_use]
    pub fn with_cache_bytes(mut self, bytes: u64) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// Sets [`max_concurrent_requests`](ObjectSourceOptions::max_concurrent_requests) (at least 1).
    #[must_use]
    pub fn with_max_concurrent_requests(mut self, requests: usize) -> Self {
        self.max_concurrent_requests = requests.max(1);
        self
    }

    /// Sets the read-ahead of sequential scans: it starts at `min` bytes and doubles up to `max`.
    #[must_use]
    pub fn with_read_ahead(mut self, min: u64, max: u64) -> Self {
        self.min_read_ahead = min;
        self.max_read_ahead = max.max(min);
        self
    }

    /// Sets [`retries`](ObjectSourceOptions::retries) and the first
    /// [`retry_backoff`](ObjectSourceOptions::retry_backoff).
    #[must_use]
    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.retry_backoff = backoff;
        self
    }

    /// Pages in `bytes`, rounded up, at least one.
    pub(crate) fn pages(&self, bytes: u64) -> u64 {
        bytes.div_ceil(self.page_size).max(1)
    }
}
