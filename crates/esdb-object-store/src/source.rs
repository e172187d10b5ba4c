//! An ESDB [`Source`] over one object of an object store: pages of the object in a cache bounded
//! by bytes, fetched by ranged GETs that are aligned to pages, coalesced, limited in number,
//! retried, and sent ahead of a sequential scan.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::{Range, RangeInclusive};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bytes::{Bytes, BytesMut};
use esdb_read::{Distance, Source};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;

use crate::error::FetchError;
use crate::options::ObjectSourceOptions;

/// The bytes of one object, read in place by ranged requests. See the [crate] documentation.
///
/// Cheap to clone: clones share the cache, the requests in flight and the counters.
#[derive(Clone)]
pub struct ObjectSource {
    shared: Arc<Shared>,
}

/// What this source has asked of the store so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// GET requests sent, retries included.
    pub requests: u64,
    /// Bytes the store sent.
    pub bytes: u64,
    /// Reads that found all their pages in the cache or already in flight.
    pub hits: u64,
    /// Reads that had to send a request.
    pub misses: u64,
}

struct Shared {
    store: Arc<dyn ObjectStore>,
    path: Path,
    url: String,
    len: u64,
    etag: Option<String>,
    options: ObjectSourceOptions,
    runtime: Handle,
    cache: quick_cache::sync::Cache<u64, Bytes, PageWeight>,
    /// Pages being fetched, each to the fetch that brings it.
    pending: Mutex<HashMap<u64, Arc<Pending>>>,
    read_ahead: Mutex<ReadAhead>,
    limit: Arc<Semaphore>,
    requests: AtomicU64,
    bytes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Clone)]
struct PageWeight;

impl quick_cache::Weighter<u64, Bytes> for PageWeight {
    fn weight(&self, _page: &u64, bytes: &Bytes) -> u64 {
        bytes.len() as u64
    }
}

/// One fetch of a run of pages, which readers of any of its pages wait for.
struct Pending {
    first_page: u64,
    outcome: Mutex<Option<Result<Arc<[Bytes]>, FetchError>>>,
    done: Condvar,
}

impl Pending {
    fn wait(&self) -> Result<Arc<[Bytes]>, FetchError> {
        let mut outcome = self.outcome.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(outcome) = outcome.as_ref() {
                return outcome.clone();
            }
            outcome = self.done.wait(outcome).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Read-aheads in flight at once ahead of a sequential scan: while the scan reads one, the next
/// is on its way.
const READ_AHEAD_DEPTH: usize = 2;

/// Where a sequential scan is, in pages: it reads at `cursor` or later, the read-aheads issued
/// so far end before `next`, and the next one will be `window` pages long.
#[derive(Debug, Default)]
struct ReadAhead {
    /// The page after the last page a missing read fetched.
    after_miss: u64,
    /// Whether a sequential scan is being followed.
    active: bool,
    cursor: u64,
    next: u64,
    window: u64,
    /// First pages of the read-aheads issued and not yet reached.
    ahead: std::collections::VecDeque<u64>,
}

impl ObjectSource {
    /// Opens `path` in `store` with one request: a GET of the object's last
    /// [`SUFFIX_READ_LEN`](esdb_read::SUFFIX_READ_LEN) bytes and a page, which also tells its
    /// length. `url` names the object in errors. Requests run on this crate's own runtime.
    ///
    /// # Errors
    /// [`FetchError`] if the request fails (a missing object is `NotFound` inside it).
    pub fn open(
        store: Arc<dyn ObjectStore>,
        path: Path,
        url: impl Into<String>,
        options: ObjectSourceOptions,
    ) -> Result<ObjectSource, FetchError> {
        let runtime = crate::runtime::shared();
        let url = url.into();
        let fetch = Self::open_on(store, path, url.clone(), options, runtime.clone());
        crate::runtime::wait(&runtime, fetch).unwrap_or_else(|| Err(shut_down(&url, 0..esdb_read::SUFFIX_READ_LEN)))
    }

    /// As [`open`](ObjectSource::open), awaiting the request, whose tasks (and every later
    /// request of this source) run on `runtime`.
    ///
    /// # Errors
    /// As [`open`](ObjectSource::open).
    pub async fn open_on(
        store: Arc<dyn ObjectStore>,
        path: Path,
        url: String,
        options: ObjectSourceOptions,
        runtime: Handle,
    ) -> Result<ObjectSource, FetchError> {
        let suffix = esdb_read::SUFFIX_READ_LEN + options.page_size;
        let get = GetOptions { range: Some(GetRange::Suffix(suffix)), ..GetOptions::default() };
        let mut attempt = 0;
        let (meta, range, body) = loop {
            attempt += 1;
            let sent = async {
                let result = store.get_opts(&path, get.clone()).await?;
                let (meta, range) = (result.meta.clone(), result.range.clone());
                Ok::<_, object_store::Error>((meta, range, result.bytes().await?))
            };
            match sent.await {
                Ok(answer) => break answer,
                Err(err) if retryable(&err) && attempt <= options.retries => {
                    tokio::time::sleep(options.retry_backoff * 2u32.saturating_pow(attempt - 1)).await
                }
                Err(err) => {
                    return Err(FetchError::Open { url, suffix_len: suffix, attempts: attempt, source: Arc::new(err) })
                }
            }
        };
        let len = meta.size;
        let etag = meta.e_tag;
        if body.len() as u64 != range.end - range.start {
            return Err(FetchError::Length { url, range, got: body.len() as u64 });
        }
        let cache_pages = options.cache_bytes / options.page_size + 1;
        let shared = Shared {
            store,
            path,
            url,
            len,
            etag,
            cache: quick_cache::sync::Cache::with_weighter(
                usize::try_from(cache_pages).unwrap_or(usize::MAX).min(1 << 20),
                options.cache_bytes,
                PageWeight,
            ),
            limit: Arc::new(Semaphore::new(options.max_concurrent_requests)),
            options,
            runtime,
            pending: Mutex::default(),
            read_ahead: Mutex::default(),
            requests: AtomicU64::new(u64::from(attempt)),
            bytes: AtomicU64::new(body.len() as u64),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(1),
        };
        // Only whole pages are kept: the first page the suffix covers in part is left out.
        let first_page = range.start.div_ceil(shared.options.page_size);
        for page in first_page..shared.page_count() {
            let span = shared.page_span(page);
            shared
                .cache
                .insert(page, body.slice((span.start - range.start) as usize..(span.end - range.start) as usize));
        }
        Ok(ObjectSource { shared: Arc::new(shared) })
    }

    /// The URL the source was opened with.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// What the source has asked of the store so far.
    pub fn stats(&self) -> Stats {
        let shared = &self.shared;
        Stats {
            requests: shared.requests.load(Ordering::Relaxed),
            bytes: shared.bytes.load(Ordering::Relaxed),
            hits: shared.hits.load(Ordering::Relaxed),
            misses: shared.misses.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for ObjectSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectSource").field("url", &self.shared.url).field("len", &self.shared.len).finish()
    }
}

impl Source for ObjectSource {
    fn len(&self) -> u64 {
        self.shared.len
    }

    fn read(&self, offset: u64, len: usize) -> io::Result<Bytes> {
        let shared = &self.shared;
        let end = offset.checked_add(len as u64).filter(|&end| end <= shared.len).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{}: range {offset}+{len} is past the end", shared.url),
            )
        })?;
        if len == 0 {
            return Ok(Bytes::new());
        }
        let pages = shared.page_of(offset)..=shared.page_of(end - 1);
        let bytes = Shared::pages(shared, pages.clone())?;
        let first_start = shared.page_span(*pages.start()).start;
        if bytes.len() == 1 {
            let start = (offset - first_start) as usize;
            return Ok(bytes[0].slice(start..start + len));
        }
        let mut out = BytesMut::with_capacity(len);
        let mut at = first_start;
        for page in &bytes {
            let from = offset.saturating_sub(at).min(page.len() as u64) as usize;
            let to = (end.min(at + page.len() as u64) - at) as usize;
            out.extend_from_slice(&page[from..to.max(from)]);
            at += page.len() as u64;
        }
        Ok(out.freeze())
    }

    fn distance(&self) -> Distance {
        Distance::Far
    }

    fn hint(&self, range: Range<u64>) {
        let shared = &self.shared;
        let end = range.end.min(shared.len);
        if range.start < end {
            let pages = shared.page_of(range.start)..=shared.page_of(end - 1);
            let _ = Shared::start_fetches(shared, pages, false);
        }
    }
}

impl Shared {
    fn page_of(&self, offset: u64) -> u64 {
        offset / self.options.page_size
    }

    fn page_count(&self) -> u64 {
        self.len.div_ceil(self.options.page_size)
    }

    /// The bytes of the object that page `page` holds (the last page may be short).
    fn page_span(&self, page: u64) -> Range<u64> {
        let start = page * self.options.page_size;
        start..(start + self.options.page_size).min(self.len)
    }

    /// The pages `pages`, from the cache, from fetches in flight, or fetched now.
    fn pages(shared: &Arc<Shared>, pages: RangeInclusive<u64>) -> io::Result<Vec<Bytes>> {
        let mut found: Vec<Option<Bytes>> = pages.clone().map(|page| shared.cache.get(&page)).collect();
        if found.iter().all(Option::is_some) {
            shared.hits.fetch_add(1, Ordering::Relaxed);
            Shared::advance_read_ahead(shared, &pages);
            return Ok(found.into_iter().flatten().collect());
        }
        let waits = Shared::start_fetches(shared, pages.clone(), true);
        let fetched_now = waits.iter().any(|(_, started_here)| *started_here);
        if fetched_now {
            shared.misses.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.hits.fetch_add(1, Ordering::Relaxed);
        }
        Shared::advance_read_ahead(shared, &pages);
        for (pending, _) in waits {
            let bytes = pending.wait()?;
            for (i, page_bytes) in bytes.iter().enumerate() {
                let page = pending.first_page + i as u64;
                if pages.contains(&page) {
                    found[(page - pages.start()) as usize] = Some(page_bytes.clone());
                }
            }
        }
        // A page that was cached when the fetches started but evicted since is fetched alone.
        let mut out = Vec::with_capacity(found.len());
        for (i, page_bytes) in found.into_iter().enumerate() {
            match page_bytes {
                Some(bytes) => out.push(bytes),
                None => {
                    let page = pages.start() + i as u64;
                    let again = Shared::start_fetches(shared, page..=page, false);
                    let bytes = match again.first() {
                        Some((pending, _)) => pending.wait()?[(page - pending.first_page) as usize].clone(),
                        None => shared.cache.get(&page).ok_or_else(|| {
                            io::Error::other(format!("{}: page {page} is neither cached nor fetched", shared.url))
                        })?,
                    };
                    out.push(bytes);
                }
            }
        }
        Ok(out)
    }

    /// Starts fetches for the pages of `pages` that are neither cached nor being fetched, one
    /// request per run of such pages, and returns every fetch that brings a page of `pages`,
    /// each with whether this call started it. With `read_ahead`, a miss that continues the last
    /// one starts following a sequential scan.
    fn start_fetches(shared: &Arc<Shared>, pages: RangeInclusive<u64>, read_ahead: bool) -> Vec<(Arc<Pending>, bool)> {
        let mut waits: Vec<(Arc<Pending>, bool)> = Vec::new();
        let mut runs: Vec<RangeInclusive<u64>> = Vec::new();
        {
            let mut pending = shared.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut run: Option<RangeInclusive<u64>> = None;
            for page in pages {
                if let Some(fetch) = pending.get(&page) {
                    if !waits.iter().any(|(known, _)| Arc::ptr_eq(known, fetch)) {
                        waits.push((fetch.clone(), false));
                    }
                    runs.extend(run.take());
                } else if shared.cache.get(&page).is_some() {
                    runs.extend(run.take());
                } else {
                    run = Some(match run {
                        Some(open) => *open.start()..=page,
                        None => page..=page,
                    });
                }
            }
            runs.extend(run);
            if let Some(first) = runs.first().filter(|_| read_ahead) {
                shared.note_miss(first, runs.last().map_or(*first.end(), |last| *last.end()));
            }
            for run in &runs {
                let fetch =
                    Arc::new(Pending { first_page: *run.start(), outcome: Mutex::new(None), done: Condvar::new() });
                for page in run.clone() {
                    pending.insert(page, fetch.clone());
                }
                waits.push((fetch, true));
            }
        }
        for (run, (fetch, _)) in runs.iter().zip(waits.iter().filter(|(_, new)| *new)) {
            Shared::spawn_fetch(shared, run.clone(), fetch.clone());
        }
        waits
    }

    /// A read missed pages `run.start()..=last`: when it starts where the last miss ended, a
    /// sequential scan begins (or goes on) there.
    fn note_miss(&self, run: &RangeInclusive<u64>, last: u64) {
        let mut state = self.read_ahead.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let within_scan = state.active && *run.start() >= state.cursor && *run.start() < state.next;
        if *run.start() == state.after_miss && *run.start() > 0 && !within_scan {
            state.active = true;
            state.cursor = *run.start();
            state.next = last + 1;
            state.window = self.options.pages(self.options.min_read_ahead);
            state.ahead.clear();
        }
        state.after_miss = last + 1;
    }

    /// Keeps [`READ_AHEAD_DEPTH`] read-aheads in flight ahead of a sequential scan that has just
    /// read `pages`, each twice as long as the one before (up to the maximum).
    fn advance_read_ahead(shared: &Arc<Shared>, pages: &RangeInclusive<u64>) {
        let mut issue = Vec::new();
        {
            let mut state = shared.read_ahead.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let page = *pages.start();
            if !state.active || page < state.cursor || page > state.next {
                return;
            }
            state.cursor = page;
            while state.ahead.front().is_some_and(|&start| start <= *pages.end()) {
                state.ahead.pop_front();
            }
            let max = shared.options.pages(shared.options.max_read_ahead);
            let page_count = shared.page_count();
            while state.ahead.len() < READ_AHEAD_DEPTH && state.next < page_count {
                let from = state.next;
                let to = (from + state.window).min(page_count);
                issue.push(from..=to - 1);
                state.ahead.push_back(from);
                state.next = to;
                state.after_miss = to;
                state.window = (state.window * 2).min(max);
            }
            if state.next >= page_count && state.ahead.is_empty() {
                state.active = false;
            }
        }
        for pages in issue {
            let _ = Shared::start_fetches(shared, pages, false);
        }
    }

    /// Sends the request for the pages `run` on the runtime; when it ends, fills the cache,
    /// wakes the waiters and forgets the fetch.
    fn spawn_fetch(shared: &Arc<Shared>, run: RangeInclusive<u64>, fetch: Arc<Pending>) {
        let task_shared = shared.clone();
        let range = shared.page_span(*run.start()).start..shared.page_span(*run.end()).end;
        let task = async move {
            let shared = task_shared;
            let outcome = shared.fetch(range.clone()).await.map(|body| {
                let pages: Vec<Bytes> = run
                    .clone()
                    .map(|page| {
                        let span = shared.page_span(page);
                        body.slice((span.start - range.start) as usize..(span.end - range.start) as usize)
                    })
                    .collect();
                for (page, bytes) in run.clone().zip(&pages) {
                    shared.cache.insert(page, bytes.clone());
                }
                Arc::<[Bytes]>::from(pages)
            });
            {
                let mut pending = shared.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                for page in run {
                    if pending.get(&page).is_some_and(|known| Arc::ptr_eq(known, &fetch)) {
                        pending.remove(&page);
                    }
                }
            }
            *fetch.outcome.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(outcome);
            fetch.done.notify_all();
        };
        shared.runtime.spawn(task);
    }

    /// One ranged GET, within the limit on requests in flight, retried with backoff.
    async fn fetch(&self, range: Range<u64>) -> Result<Bytes, FetchError> {
        let _permit = self.limit.acquire().await.map_err(|_| shut_down(&self.url, range.clone()))?;
        let get = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: self.etag.clone(),
            ..GetOptions::default()
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let sent = async { self.store.get_opts(&self.path, get.clone()).await?.bytes().await }.await;
            match sent {
                Ok(body) if body.len() as u64 == range.end - range.start => {
                    self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    return Ok(body);
                }
                // A short answer is a connection cut mid-body: sent again like a network error.
                Ok(body) if attempt <= self.options.retries => {
                    self.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    tokio::time::sleep(self.options.retry_backoff * 2u32.saturating_pow(attempt - 1)).await
                }
                Ok(body) => return Err(FetchError::Length { url: self.url.clone(), range, got: body.len() as u64 }),
                Err(object_store::Error::Precondition { .. }) => {
                    return Err(FetchError::Changed {
                        url: self.url.clone(),
                        range,
                        etag: self.etag.clone().unwrap_or_default(),
                    })
                }
                Err(err) if retryable(&err) && attempt <= self.options.retries => {
                    tokio::time::sleep(self.options.retry_backoff * 2u32.saturating_pow(attempt - 1)).await
                }
                Err(err) => {
                    return Err(FetchError::Request {
                        url: self.url.clone(),
                        range,
                        attempts: attempt,
                        source: Arc::new(err),
                    })
                }
            }
        }
    }
}

/// Errors that may pass if the request is sent again: the store's catch-all (network errors,
/// server errors after the client's own retries), not a missing object, a refusal or a bad path.
fn retryable(err: &object_store::Error) -> bool {
    matches!(err, object_store::Error::Generic { .. } | object_store::Error::JoinError { .. })
}

fn shut_down(url: &str, range: Range<u64>) -> FetchError {
    FetchError::Request {
        url: url.to_owned(),
        range,
        attempts: 0,
        source: Arc::new(object_store::Error::Generic {
            store: "esdb-object-store",
            source: "the runtime that runs requests shut down".into(),
        }),
    }
}
