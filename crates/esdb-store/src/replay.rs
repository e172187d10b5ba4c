//! Replay of the log in offset order: [`Store::read_from`] up to the present, [`Store::follow`]
//! on into the future, waiting on a condition variable (never polling) for new events.

use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::event::LogEvent;
use crate::manifest::{Manifest, SegmentMeta};

use crate::manifest::store_id_bytes;
use crate::segment;
use crate::store::{lock, Shared, Store};
use crate::watermark;

/// How often a follower in another process than the writer looks for new records when it cannot
/// watch the store directory.
pub const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often it looks anyway while it watches the directory: a safety net for file systems that
/// do not report every change.
pub const WATCHED_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A watch on a store directory: the writer rewrites `DURABLE` in place after every fsync and
/// renames a new `MANIFEST` into place, and both show here.
struct Watch {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::Receiver<()>,
    /// The waker of an async follower waiting for a change, woken by the next one.
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    waker: Arc<std::sync::Mutex<Option<std::task::Waker>>>,
}

impl Watch {
    fn new(dir: &Path) -> Option<Watch> {
        use notify::Watcher as _;
        let (sender, changes) = mpsc::channel();
        let waker: Arc<std::sync::Mutex<Option<std::task::Waker>>> = Arc::default();
        let to_wake = waker.clone();
        let mut watcher = notify::recommended_watcher(move |_: notify::Result<notify::Event>| {
            let _ = sender.send(());
            if let Some(waker) = lock(&to_wake).take() {
                waker.wake();
            }
        })
        .ok()?;
        watcher.watch(dir, notify::RecursiveMode::NonRecursive).ok()?;
        Some(Watch { _watcher: watcher, changes, waker })
    }

    /// Waits until the directory changes or `timeout` passes, then forgets changes seen so far.
    fn wait(&self, timeout: Duration) {
        let _ = self.changes.recv_timeout(timeout);
        while self.changes.try_recv().is_ok() {}
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Watch")
    }
}

/// Events of the log in offset order with their offsets, from [`Store::read_from`] (ends when
/// it reaches the newest visible event) or [`Store::follow`] (waits for more).
///
/// Unsealed events come from memory, sealed ones from the segment files. A reader never blocks
/// appenders (it holds a read lock only to clone one event) and never sees a partly written
/// event: in `Sync` mode it sees an event once it is durable, in `Buffered` mode once `append`
/// returned.
#[derive(Debug)]
#[must_use = "a reader reads nothing until it is iterated"]
pub struct LogReader {
    shared: Arc<Shared>,
    next: u64,
    follow: bool,
    cursor: Option<segment::Cursor>,
    failed: bool,
    /// Following another process's writes: offsets below this are known durable, so records
    /// up to it are read without looking at the watermark again.
    durable: u64,
    /// The store's id, which the watermark must carry.
    store_id: [u8; 16],
    /// Following another process's writes: the watch that wakes the reader.
    watch: Option<Watch>,
    watch_failed: bool,
    /// A follower's position, for the store's follower count and lag.
    position: Option<Arc<std::sync::atomic::AtomicU64>>,
}

impl Store {
    /// Replays the log from `offset` to the newest visible event.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] if `offset` is below [`log_start`](Store::log_start) (removed
    /// by retention) or past [`next_offset`](Store::next_offset).
    pub fn read_from(&self, offset: u64) -> Result<LogReader> {
        self.reader(offset, false)
    }

    /// Replays the log from `offset` and then waits for new events: `next()` blocks until an
    /// event arrives or the store is dropped; [`LogReader::next_timeout`] waits at most a given
    /// time.
    ///
    /// # Errors
    /// As [`read_from`](Store::read_from).
    pub fn follow(&self, offset: u64) -> Result<LogReader> {
        self.reader(offset, true)
    }

    fn reader(&self, offset: u64, follow: bool) -> Result<LogReader> {
        let log_start = self.log_start();
        let next = self.next_offset();
        if offset < log_start || offset > next {
            return Err(Error::OffsetOutOfRange { offset, log_start, next });
        }
        let store_id = store_id_bytes(&lock(&self.shared.manifest).store_id);
        Ok(LogReader {
            shared: self.shared.clone(),
            next: offset,
            follow,
            cursor: None,
            failed: false,
            durable: 0,
            store_id,
            watch: None,
            watch_failed: false,
            position: follow.then(|| self.shared.instruments.follower(offset)),
        })
    }
}

impl LogReader {
    /// The offset of the next event this reader yields.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// The next event, waiting at most `timeout` for one to arrive when following. `Ok(None)`
    /// when none arrived in time, or at the end of a [`read_from`](Store::read_from) replay.
    ///
    /// # Errors
    /// [`Error::OffsetOutOfRange`] when retention removed the segment holding the next offset;
    /// [`Error::CorruptSegment`] / [`Error::Io`] reading a segment.
    pub fn next_timeout(&mut self, timeout: Duration) -> Result<Option<LogEvent>> {
        self.next_until(Some(Instant::now() + timeout))
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Result<Option<LogEvent>> {
        let event = self.step(deadline)?;
        if let Some(position) = &self.position {
            position.store(self.next, Ordering::Relaxed);
        }
        Ok(event)
    }

    fn step(&mut self, deadline: Option<Instant>) -> Result<Option<LogEvent>> {
        let shared = &self.shared;
        loop {
            if self.next < shared.visible.load(Ordering::Acquire) {
                {
                    let view = shared.read_view();
                    if let Some(payload) = view.tail.payload(self.next).cloned() {
                        drop(view);
                        let event = crate::tail::decode(payload);
                        self.next += 1;
                        return Ok(Some(event));
                    }
                }
                let event = self.read_sealed()?;
                self.next += 1;
                return Ok(Some(event));
            }
            if !self.follow || shared.closing.load(Ordering::Acquire) {
                return Ok(None);
            }
            if shared.read_only {
                return self.follow_files(deadline);
            }
            let guard = lock(&shared.arrivals);
            shared.waiting.fetch_add(1, Ordering::SeqCst);
            let ready = self.next < shared.visible.load(Ordering::SeqCst) || shared.closing.load(Ordering::Acquire);
            let timed_out = match deadline {
                _ if ready => false,
                None => {
                    drop(shared.arrived.wait(guard).unwrap_or_else(|p| p.into_inner()));
                    false
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now < deadline {
                        drop(shared.arrived.wait_timeout(guard, deadline - now).unwrap_or_else(|p| p.into_inner()));
                    }
                    now >= deadline
                }
            };
            shared.waiting.fetch_sub(1, Ordering::SeqCst);
            if timed_out {
                return Ok(None);
            }
        }
    }

    /// Follows a writer in another process: reads new records from the segment files, waking
    /// when the store directory changes (inotify) and, as a fallback, every [`POLL_INTERVAL`].
    fn follow_files(&mut self, deadline: Option<Instant>) -> Result<Option<LogEvent>> {
        loop {
            if let Some(event) = self.next_live_record()? {
                self.next += 1;
                return Ok(Some(event));
            }
            let poll = if self.watch().is_some() { WATCHED_POLL_INTERVAL } else { POLL_INTERVAL };
            let wait = match deadline {
                None => poll,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(poll)
                }
            };
            match self.watch() {
                Some(watch) => watch.wait(wait),
                None => std::thread::sleep(wait),
            }
        }
    }

    /// The watch on the store directory, set up when first needed; `None` when the platform or
    /// the file system gives none (then the follower polls).
    fn watch(&mut self) -> Option<&Watch> {
        if self.watch.is_none() && !self.watch_failed {
            self.watch = Watch::new(&self.shared.dir);
            self.watch_failed = self.watch.is_none();
        }
        self.watch.as_ref()
    }

    /// The record at `self.next` if the writer made it durable. Costs one read of the 56-byte
    /// watermark when caught up and one record read otherwise; the manifest is read only to find
    /// a segment (at the start and when one ends).
    fn next_live_record(&mut self) -> Result<Option<LogEvent>> {
        if self.cursor.as_ref().is_some_and(|cursor| cursor.next_offset > self.next) {
            self.cursor = None;
        }
        if self.next >= self.durable {
            // Only what the writer made durable: in Sync mode no one sees an event before its
            // producer is told it is durable.
            self.durable = match watermark::read(&self.shared.dir)?
                .filter(|mark| mark.store_id == self.store_id && self.store_id != [0; 16])
            {
                Some(mark) => mark.offset,
                None => u64::MAX,
            };
            if self.next >= self.durable {
                return Ok(None);
            }
        }
        loop {
            if self.cursor.is_none() {
                let manifest = self.manifest()?;
                let segment = manifest.segments.iter().rev().find(|s| s.base <= self.next);
                let (Some(segment), true) = (segment, self.next >= manifest.log_start) else {
                    return Err(Error::OffsetOutOfRange {
                        offset: self.next,
                        log_start: manifest.log_start,
                        next: self.next,
                    });
                };
                self.cursor = Some(segment::Cursor::open_live(&self.shared.dir.join(segment.file()), segment.base)?);
            }
            let cursor = self.cursor.as_mut().expect("opened above");
            while let Some(event) = cursor.next_event()? {
                if event.offset == self.next {
                    return Ok(Some(event));
                }
            }
            // The end of what this segment holds, before the durable end: the segment is closed
            // and the next record starts the following one (which the manifest names before the
            // watermark moves into it), unless retention removed what comes next.
            let end = cursor.next_offset;
            let manifest = self.manifest()?;
            if self.next < manifest.log_start {
                self.cursor = None;
                return Err(Error::OffsetOutOfRange {
                    offset: self.next,
                    log_start: manifest.log_start,
                    next: self.next,
                });
            }
            if end <= self.next && manifest.segments.iter().any(|s| s.base == end) {
                self.cursor = None;
                continue;
            }
            return Ok(None);
        }
    }

    /// The manifest as it is now.
    fn manifest(&self) -> Result<Manifest> {
        Manifest::load(&self.shared.dir)?.ok_or_else(|| Error::NotAStore { path: self.shared.dir.clone() })
    }

    /// Reads the event at `self.next` from the segment files: it is sealed, so fully written.
    fn read_sealed(&mut self) -> Result<LogEvent> {
        if self.cursor.as_ref().is_none_or(|cursor| cursor.next_offset > self.next) {
            self.cursor = None;
        }
        loop {
            if self.cursor.is_none() {
                // Lock order: never `log` under `manifest` (a roll holds `log` and takes
                // `manifest`); the visible end stands in for the next offset.
                let next = self.shared.visible.load(Ordering::Acquire);
                let (log_start, segment) = {
                    let manifest = lock(&self.shared.manifest);
                    let segment: Option<SegmentMeta> =
                        manifest.segments.iter().rev().find(|segment| segment.base <= self.next).cloned();
                    (manifest.log_start, segment)
                };
                let Some(segment) = segment.filter(|_| self.next >= log_start) else {
                    return Err(Error::OffsetOutOfRange { offset: self.next, log_start, next });
                };
                let path = self.shared.dir.join(segment.file());
                self.cursor = Some(match segment::Cursor::open(&path, segment.base) {
                    Ok(cursor) => cursor,
                    Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                        return Err(Error::OffsetOutOfRange { offset: self.next, log_start: self.next + 1, next })
                    }
                    Err(err) => return Err(err),
                });
            }
            let cursor = self.cursor.as_mut().expect("opened above");
            match cursor.next_event()? {
                Some(event) if event.offset == self.next => return Ok(event),
                Some(_) => {}
                // The end of this segment: the next offset is in the following one, unless the
                // segment ended early.
                None => {
                    let (path, end) = (cursor.path().to_path_buf(), cursor.next_offset);
                    self.cursor = None;
                    if end <= self.next {
                        let following = lock(&self.shared.manifest).segments.iter().any(|s| s.base == end);
                        if !following {
                            return Err(Error::CorruptSegment {
                                path,
                                position: 0,
                                reason: format!("the segment ends at offset {end}, before offset {}", self.next),
                            });
                        }
                    }
                }
            }
        }
    }
}

impl Iterator for LogReader {
    type Item = Result<LogEvent>;

    /// The next event; when following, blocks until one arrives or the store is dropped.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_until(None) {
            Ok(event) => event.map(Ok),
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

/// A follower as a [`futures_core::Stream`], from [`LogReader::into_stream`]: for async hosts,
/// which then do not park a thread per follower. Polling never blocks: when no event is ready it
/// registers the task's waker, which the writer wakes when it publishes new events (in its own
/// process) or the store directory's watch wakes when the writer in another process changes it.
/// A reader from [`Store::read_from`] ends at the newest event; one from [`Store::follow`] ends
/// when the store is closed.
#[cfg(feature = "stream")]
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct LogStream {
    reader: LogReader,
}

#[cfg(feature = "stream")]
impl LogReader {
    /// This reader as a [`futures_core::Stream`] of events (feature `stream`, on by default).
    ///
    /// ```
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    /// use futures_core::Stream;
    /// use esdb_store::{NewEvent, Store, StoreOptions};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// let mut events = pin!(store.follow(0)?.into_stream());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(events.as_mut().poll_next(&mut cx).is_pending(), "nothing yet: the task waits");
    /// store.append(NewEvent::new("a", 1, "x"))?;
    /// let Poll::Ready(Some(event)) = events.as_mut().poll_next(&mut cx) else { panic!("an event") };
    /// assert_eq!(event?.offset, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_stream(self) -> LogStream {
        LogStream { reader: self }
    }

    /// Arranges for `waker` to be woken when new events may be there.
    fn register(&mut self, waker: &std::task::Waker) {
        let shared = self.shared.clone();
        if !shared.read_only {
            let mut wakers = lock(&shared.async_wakers);
            if !wakers.iter().any(|known| known.will_wake(waker)) {
                wakers.push(waker.clone());
            }
            shared.async_waiting.store(wakers.len(), Ordering::SeqCst);
            return;
        }
        match self.watch() {
            Some(watch) => *lock(&watch.waker) = Some(waker.clone()),
            // No watch on this file system: look again after the polling interval.
            None => {
                let waker = waker.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(POLL_INTERVAL);
                    waker.wake();
                });
            }
        }
    }
}

#[cfg(feature = "stream")]
impl futures_core::Stream for LogStream {
    type Item = Result<LogEvent>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<LogEvent>>> {
        use std::task::Poll;
        let reader = &mut self.reader;
        if reader.failed {
            return Poll::Ready(None);
        }
        // Look, register the waker, look again: an event published between the first look and
        // the registration is found by the second.
        for attempt in 0..2 {
            match reader.next_timeout(Duration::ZERO) {
                Ok(Some(event)) => return Poll::Ready(Some(Ok(event))),
                Err(err) => {
                    reader.failed = true;
                    return Poll::Ready(Some(Err(err)));
                }
                Ok(None) if !reader.follow || reader.shared.closing.load(Ordering::Acquire) => {
                    return Poll::Ready(None)
                }
                Ok(None) if attempt == 0 => reader.register(cx.waker()),
                Ok(None) => {}
            }
        }
        Poll::Pending
    }
}
