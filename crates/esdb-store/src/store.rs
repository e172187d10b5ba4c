//! [`Store`]: opening and recovery, appends with group commit, and the background thread that
//! fsyncs buffered appends and seals by thresholds.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use esdb_read::Db;

use crate::error::{Error, Result};
use crate::event::NewEvent;
use crate::log::{self, Dedupe, LogWriter, WRITE_BUFFER_LEN};
use crate::manifest::{self, Manifest, PartitionMeta, LOG_DIR, MANIFEST, PARTITION_DIR};
use crate::options::{Durability, StoreOptions};
use crate::record;
use crate::segment;
use crate::tail::Tail;

/// A sealed partition, open.
#[derive(Debug)]
pub(crate) struct Partition {
    pub meta: PartitionMeta,
    pub path: PathBuf,
    pub db: Db,
}

/// What queries see: the partitions and the tail, swapped together by a seal.
#[derive(Debug)]
pub(crate) struct View {
    pub partitions: Arc<Vec<Arc<Partition>>>,
    pub tail: Tail,
}

#[derive(Debug, Default)]
pub(crate) struct CommitState {
    /// One past the last offset known fsynced.
    pub durable: u64,
    /// An fsync is running; others wait for it and then maybe run the next.
    pub syncing: bool,
    /// The first failed flush or fsync: waiters must not wait for durability that never comes.
    pub failed: Option<String>,
}

/// Everything the store's threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: StoreOptions,
    pub log: Mutex<LogWriter>,
    pub commit: Mutex<CommitState>,
    pub committed: Condvar,
    pub view: RwLock<View>,
    /// One past the last offset readers may see.
    pub visible: AtomicU64,
    pub arrivals: Mutex<()>,
    /// Followers waiting on `arrived`: publishing skips the wake-up syscall when there are none.
    pub waiting: AtomicUsize,
    /// Set when the store is dropped: the background thread ends, followers return.
    pub closing: AtomicBool,
    pub arrived: Condvar,
    pub manifest: Mutex<Manifest>,
    pub maintenance: Mutex<()>,
    pub wake: Mutex<bool>,
    pub woken: Condvar,
    pub background_error: Mutex<Option<String>>,
    /// Opened by [`Store::open_read_only`]: no appends, no maintenance, replay from the files.
    pub read_only: bool,
    /// Held for the store's lifetime by a writable store: one writer process per directory.
    pub _lock: Option<fs::File>,
}

/// Name of the lock file in the store directory.
pub const LOCK: &str = "LOCK";

/// Locks a mutex, going on after a panic elsewhere: every structure behind these locks is left
/// consistent between statements that can panic.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// What [`Store::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// True when the directory held no store and one was created.
    pub created: bool,
    /// Bytes cut from the end of the active segment: a write a crash interrupted, never
    /// acknowledged as durable.
    pub torn_bytes: u64,
    /// Files no manifest referenced (an interrupted seal, compaction, retention or segment
    /// roll; temporary files), removed.
    pub removed_orphans: Vec<PathBuf>,
    /// Unsealed events loaded into memory.
    pub tail_events: u64,
}

/// A live event store in one directory. See the [crate documentation](crate).
///
/// `Store` is `Send + Sync`: share it between appending, following and querying threads with an
/// `Arc`. Dropping it stops the background thread and fsyncs what was appended.
#[derive(Debug)]
pub struct Store {
    pub(crate) shared: Arc<Shared>,
    background: Option<JoinHandle<()>>,
    recovery: Recovery,
}

impl Store {
    /// Opens the store in `dir`, creating it (and `dir`) if there is none, recovering it if there
    /// is: cutting a torn end off the active segment, removing files no manifest references and
    /// loading the unsealed tail into memory.
    ///
    /// # Errors
    /// [`Error::NotAStore`] if `dir` holds other files but no manifest;
    /// [`Error::CorruptSegment`] / [`Error::Manifest`] / [`Error::Partition`] for damage a crash
    /// cannot explain; [`Error::Io`].
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Store::open_mode(dir.as_ref(), options, false)
    }

    /// Opens the store in `dir` for reading while another process may append to it: no lock,
    /// no repairs, no appends or maintenance. Queries see the store as it was when opened;
    /// [`follow`](Store::follow) reads new records from the segment files as the writer adds
    /// them, checking for more every 10 ms when it has caught up. A reader in another process
    /// sees records once they are written, which in `Buffered` mode is before they are durable.
    ///
    /// # Errors
    /// [`Error::NotAStore`] if `dir` has no manifest; else as [`open`](Store::open).
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store> {
        Store::open_mode(
            dir.as_ref(),
            StoreOptions { seal_after_bytes: None, seal_after_age: None, ..StoreOptions::default() },
            true,
        )
    }

    fn open_mode(dir: &Path, options: StoreOptions, read_only: bool) -> Result<Store> {
        options.validate()?;
        let dir = dir.to_path_buf();
        let mut recovery = Recovery::default();
        let lock_file = if read_only {
            None
        } else {
            fs::create_dir_all(&dir).map_err(Error::io("create store directory", &dir))?;
            Some(take_lock(&dir)?)
        };
        let manifest = match Manifest::load(&dir)? {
            Some(manifest) => manifest,
            None if read_only => return Err(Error::NotAStore { path: dir }),
            None => {
                create(&dir, options.partition_window)?;
                recovery.created = true;
                Manifest::load(&dir)?.expect("just created")
            }
        };
        if !read_only {
            recovery.removed_orphans = remove_orphans(&dir, &manifest)?;
        }

        // The unsealed tail, from every segment that holds offsets at or past `sealed_through`.
        let mut tail = Tail::new(manifest.sealed_through);
        let mut tail_ids = Vec::new();
        let active_idx = manifest.segments.len() - 1;
        let mut next_offset = manifest.log_start;
        let mut active_scan = None;
        for (idx, meta) in manifest.segments.iter().enumerate() {
            let active = idx == active_idx;
            if !active && meta.end.is_some_and(|end| end <= manifest.sealed_through) {
                next_offset = meta.end.expect("closed");
                continue;
            }
            let path = dir.join(meta.file());
            let scanned = segment::scan(&path, meta.base, active, |event, len| {
                if event.offset >= manifest.sealed_through {
                    if let Some(id) = &event.id {
                        tail_ids.push((event.offset, id.clone()));
                    }
                    tail.push(Arc::new(event), len);
                }
            })?;
            if let Some(end) = meta.end {
                if scanned.end_offset != end {
                    return Err(Error::CorruptSegment {
                        path,
                        position: scanned.valid_len,
                        reason: format!("the segment ends at offset {}, the manifest says {end}", scanned.end_offset),
                    });
                }
            }
            next_offset = scanned.end_offset;
            if active {
                recovery.torn_bytes = scanned.torn_bytes;
                active_scan = Some((path, scanned));
            }
        }
        if next_offset < manifest.sealed_through {
            return Err(Error::Manifest {
                path: dir.join(MANIFEST),
                reason: format!(
                    "the log ends at offset {next_offset}, before sealed_through {}",
                    manifest.sealed_through
                ),
            });
        }
        recovery.tail_events = tail.len();
        let (active_path, scanned) = active_scan.expect("the manifest has an active segment");
        let file = if read_only {
            fs::File::open(&active_path).map_err(Error::io("open segment", &active_path))?
        } else {
            log::reopen_segment(&active_path, scanned.valid_len)?
        };
        let mut dedupe = Dedupe::new(options.dedupe_window);
        let window_start = next_offset.saturating_sub(options.dedupe_window);
        if options.dedupe_window > 0 {
            load_sealed_ids(&dir, &manifest, window_start, &mut dedupe)?;
        }
        for (offset, id) in tail_ids.into_iter().filter(|(offset, _)| *offset >= window_start) {
            dedupe.insert(&id, offset);
        }
        dedupe.expire(next_offset);

        let mut partitions = Vec::with_capacity(manifest.partitions.len());
        for meta in &manifest.partitions {
            partitions.push(Arc::new(open_partition(&dir, meta.clone())?));
        }

        let writer = LogWriter {
            file: Arc::new(file),
            path: active_path,
            base: manifest.segments[active_idx].base,
            len: scanned.valid_len,
            buf: Vec::with_capacity(WRITE_BUFFER_LEN * 2),
            next_offset,
            last_append_ms: scanned.last_append_ms,
            dedupe,
            poisoned: None,
        };
        let shared = Arc::new(Shared {
            dir,
            options,
            log: Mutex::new(writer),
            commit: Mutex::new(CommitState { durable: next_offset, syncing: false, failed: None }),
            committed: Condvar::new(),
            view: RwLock::new(View { partitions: Arc::new(partitions), tail }),
            visible: AtomicU64::new(next_offset),
            arrivals: Mutex::new(()),
            waiting: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            arrived: Condvar::new(),
            manifest: Mutex::new(manifest),
            maintenance: Mutex::new(()),
            wake: Mutex::new(false),
            woken: Condvar::new(),
            background_error: Mutex::new(None),
            read_only,
            _lock: lock_file,
        });
        if read_only {
            return Ok(Store { shared, background: None, recovery });
        }
        let background = {
            let for_thread = shared.clone();
            std::thread::Builder::new()
                .name("esdb-store".into())
                .spawn(move || for_thread.background())
                .map_err(Error::io("start the background thread of", &shared.dir))?
        };
        Ok(Store { shared, background: Some(background), recovery })
    }

    /// What opening found and repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Appends one event and returns its offset (or, for an id accepted within the dedupe
    /// window, the offset it got then). With [`Durability::Sync`] it returns once the event is
    /// fsynced.
    ///
    /// # Errors
    /// [`Error::FieldLength`] (nothing appended), [`Error::Io`] / [`Error::Poisoned`].
    pub fn append(&self, event: NewEvent) -> Result<u64> {
        Ok(self.append_batch(std::slice::from_ref(&event))?[0])
    }

    /// Appends events in order, atomically with respect to validation (a bad field rejects the
    /// whole batch), and returns their offsets. One fsync covers the whole batch in
    /// [`Durability::Sync`].
    ///
    /// # Errors
    /// As [`append`](Store::append).
    pub fn append_batch(&self, events: &[NewEvent]) -> Result<Vec<u64>> {
        self.shared.append_batch(events)
    }

    /// Writes and fsyncs everything appended so far and returns the highest durable offset.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Poisoned`].
    pub fn sync(&self) -> Result<Option<u64>> {
        let end = lock(&self.shared.log).next_offset;
        self.shared.sync_through(end)?;
        Ok(self.durable_through())
    }

    /// The highest offset known fsynced, or `None` when the log is empty.
    pub fn durable_through(&self) -> Option<u64> {
        lock(&self.shared.commit).durable.checked_sub(1)
    }

    /// The offset the next appended event gets.
    pub fn next_offset(&self) -> u64 {
        lock(&self.shared.log).next_offset
    }

    /// The first offset the log still holds for replay.
    pub fn log_start(&self) -> u64 {
        lock(&self.shared.manifest).log_start
    }

    /// An error of the background thread (a buffered fsync or an automatic seal), if any.
    pub fn background_error(&self) -> Option<String> {
        lock(&self.shared.background_error).clone()
    }

    /// Stops the background thread and fsyncs everything appended, reporting a failure.
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Poisoned`].
    pub fn close(mut self) -> Result<()> {
        self.stop_background();
        self.sync().map(|_| ())
    }

    fn stop_background(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        *lock(&self.shared.wake) = true;
        self.shared.woken.notify_all();
        drop(lock(&self.shared.arrivals));
        self.shared.arrived.notify_all();
        if let Some(handle) = self.background.take() {
            let _ = handle.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.background.is_some() {
            self.stop_background();
            let _ = self.sync();
        }
    }
}

/// Takes the store's lock file, so that no second process opens it for writing.
fn take_lock(dir: &Path) -> Result<fs::File> {
    let path = dir.join(LOCK);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(Error::io("create", &path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(fs::TryLockError::Error(source)) => Err(Error::Io { action: "lock", path, source }),
    }
}

/// Creates an empty store in `dir`, refusing a directory that holds anything else.
fn create(dir: &Path, partition_window: i64) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(Error::io("list", dir))?;
    for entry in entries {
        let entry = entry.map_err(Error::io("list", dir))?;
        let name = entry.file_name();
        if name == LOCK {
            continue;
        }
        let known_empty_dir = (name == LOG_DIR || name == PARTITION_DIR)
            && fs::read_dir(entry.path()).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !known_empty_dir {
            return Err(Error::NotAStore { path: dir.to_path_buf() });
        }
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        let path = dir.join(sub);
        fs::create_dir_all(&path).map_err(Error::io("create", &path))?;
    }
    let manifest = Manifest::new(partition_window);
    let segment = dir.join(manifest.segments[0].file());
    log::create_segment(&segment, 0)?;
    manifest::sync_dir(&dir.join(LOG_DIR))?;
    manifest.store(dir)
}

/// Removes every file in the store directory that the manifest does not reference.
fn remove_orphans(dir: &Path, manifest: &Manifest) -> Result<Vec<PathBuf>> {
    let referenced = manifest.referenced();
    let mut removed = Vec::new();
    let tmp = dir.join("MANIFEST.tmp");
    if tmp.exists() {
        fs::remove_file(&tmp).map_err(Error::io("remove", &tmp))?;
        removed.push(PathBuf::from("MANIFEST.tmp"));
    }
    for sub in [LOG_DIR, PARTITION_DIR] {
        let sub_dir = dir.join(sub);
        fs::create_dir_all(&sub_dir).map_err(Error::io("create", &sub_dir))?;
        let mut removed_here = false;
        for entry in fs::read_dir(&sub_dir).map_err(Error::io("list", &sub_dir))? {
            let entry = entry.map_err(Error::io("list", &sub_dir))?;
            let relative = Path::new(sub).join(entry.file_name());
            if referenced.contains(&relative) || !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                continue;
            }
            fs::remove_file(entry.path()).map_err(Error::io("remove orphan", entry.path()))?;
            removed.push(relative);
            removed_here = true;
        }
        if removed_here {
            manifest::sync_dir(&sub_dir)?;
        }
    }
    for meta in &manifest.segments {
        let path = dir.join(meta.file());
        if !path.is_file() {
            return Err(Error::Manifest {
                path: dir.join(MANIFEST),
                reason: format!("segment {} is missing", meta.file()),
            });
        }
    }
    Ok(removed)
}

/// Loads the ids of sealed events at or past `window_start` that the log still holds.
fn load_sealed_ids(dir: &Path, manifest: &Manifest, window_start: u64, dedupe: &mut Dedupe) -> Result<()> {
    for meta in &manifest.segments {
        let end = meta.end.unwrap_or(u64::MAX);
        if end <= window_start || meta.base >= manifest.sealed_through {
            continue;
        }
        let mut cursor = segment::Cursor::open(&dir.join(meta.file()), meta.base)?;
        while let Some(event) = cursor.next_event()? {
            if event.offset >= manifest.sealed_through {
                break;
            }
            if let (true, Some(id)) = (event.offset >= window_start, &event.id) {
                dedupe.insert(id, event.offset);
            }
        }
    }
    Ok(())
}

pub(crate) fn open_partition(dir: &Path, meta: PartitionMeta) -> Result<Partition> {
    let path = dir.join(&meta.file);
    let db = Db::open(&path).map_err(|source| Error::Partition { path: path.clone(), source })?;
    if db.len() != meta.events {
        return Err(Error::Manifest {
            path: dir.join(MANIFEST),
            reason: format!("partition {} holds {} events, the manifest says {}", meta.file, db.len(), meta.events),
        });
    }
    Ok(Partition { meta, path, db })
}

impl Shared {
    pub(crate) fn append_batch(&self, events: &[NewEvent]) -> Result<Vec<u64>> {
        self.writable("append")?;
        for (position, event) in events.iter().enumerate() {
            record::check_event(event, position, self.options.max_data_len)?;
        }
        let append_ms = now_ms();
        let mut offsets = Vec::with_capacity(events.len());
        let mut new = Vec::with_capacity(events.len());
        let mut log = lock(&self.log);
        log.check()?;
        for event in events {
            if let Some(original) = event.id.as_deref().and_then(|id| log.dedupe.get(id, log.next_offset)) {
                offsets.push(original);
                continue;
            }
            let offset = log.next_offset;
            let logged = record::log_event(event, offset, append_ms);
            let start = log.buf.len();
            record::encode_record(&logged, &mut log.buf);
            let len = log.buf.len() - start;
            if let Some(id) = &event.id {
                log.dedupe.insert(id, offset);
            }
            log.next_offset += 1;
            log.len += len as u64;
            log.last_append_ms = Some(append_ms);
            offsets.push(offset);
            new.push((Arc::new(logged), len as u32));
        }
        if !new.is_empty() {
            let mut view = self.write_view();
            for (event, len) in new {
                view.tail.push(event, len);
            }
            let seal_due = self.options.seal_after_bytes.is_some_and(|limit| view.tail.bytes() >= limit);
            drop(view);
            if seal_due {
                *lock(&self.wake) = true;
                self.woken.notify_all();
            }
        }
        if log.buf.len() >= WRITE_BUFFER_LEN {
            log.flush()?;
        }
        if log.len >= self.options.segment_bytes {
            self.roll(&mut log)?;
        }
        let end = log.next_offset;
        drop(log);
        match self.options.durability {
            Durability::Buffered { .. } => self.publish(end),
            Durability::Sync => self.sync_through(end)?,
        }
        Ok(offsets)
    }

    /// Makes offsets below `end` visible to readers and wakes followers.
    pub(crate) fn publish(&self, end: u64) {
        // SeqCst pairs with the follower's increment of `waiting` before it re-reads `visible`:
        // either the follower sees the new end, or this sees the follower and wakes it.
        if self.visible.fetch_max(end, Ordering::SeqCst) < end && self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.arrivals);
            self.arrived.notify_all();
        }
    }

    /// Returns once offsets below `end` are fsynced. Callers arriving while an fsync runs wait
    /// for it; then one of them runs the next fsync for everyone who arrived meanwhile.
    pub(crate) fn sync_through(&self, end: u64) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let mut state = lock(&self.commit);
        loop {
            if state.durable >= end {
                return Ok(());
            }
            if !state.syncing {
                state.syncing = true;
                drop(state);
                let result = self.sync_now();
                state = lock(&self.commit);
                state.syncing = false;
                match &result {
                    Ok(synced) => state.durable = state.durable.max(*synced),
                    Err(err) => {
                        state.failed.get_or_insert_with(|| err.to_string());
                    }
                }
                let durable = state.durable;
                self.committed.notify_all();
                if self.options.durability == Durability::Sync {
                    self.publish(durable);
                }
                result?;
                continue;
            }
            if let Some(reason) = &state.failed {
                return Err(Error::Poisoned { reason: reason.clone() });
            }
            // Lock order: `log` before `commit`, never the reverse (a roll holds `log` and takes
            // `commit`).
            state = self.committed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Writes the buffer and fsyncs the active segment; returns one past the offset now durable.
    fn sync_now(&self) -> Result<u64> {
        let (file, path, end) = {
            let mut log = lock(&self.log);
            log.flush()?;
            (log.file.clone(), log.path.clone(), log.next_offset)
        };
        // Outside the lock: appenders go on filling the buffer while the disk works.
        if let Err(err) = file.sync_data() {
            lock(&self.log).poisoned = Some(format!("fsync {}: {err}", path.display()));
            return Err(Error::Io { action: "fsync segment", path, source: err });
        }
        Ok(end)
    }

    /// Closes the active segment (written and fsynced) and starts a new one at the next offset.
    pub(crate) fn roll(&self, log: &mut LogWriter) -> Result<()> {
        if log.next_offset == log.base {
            return Ok(());
        }
        log.flush_and_sync()?;
        let base = log.next_offset;
        let relative = manifest::segment_file(base);
        let path = self.dir.join(&relative);
        let result = (|| {
            let file = log::create_segment(&path, base)?;
            manifest::sync_dir(&self.dir.join(LOG_DIR))?;
            let mut manifest = lock(&self.manifest);
            let mut next = manifest.clone();
            let active = next.segments.last_mut().expect("an active segment");
            active.end = Some(base);
            active.last_append_ms = log.last_append_ms;
            next.segments.push(manifest::SegmentMeta { base, end: None, last_append_ms: None });
            next.store(&self.dir)?;
            *manifest = next;
            Ok(file)
        })();
        let file = match result {
            Ok(file) => file,
            Err(err) => {
                log.poisoned = Some(format!("start segment {relative}: {err}"));
                return Err(err);
            }
        };
        log.file = Arc::new(file);
        log.path = path;
        log.base = base;
        log.len = record::SEGMENT_HEADER_LEN as u64;
        let durable = {
            let mut state = lock(&self.commit);
            state.durable = state.durable.max(base);
            state.durable
        };
        self.committed.notify_all();
        if self.options.durability == Durability::Sync {
            self.publish(durable);
        }
        Ok(())
    }

    /// The background thread: fsyncs buffered appends every interval and seals by thresholds.
    fn background(self: Arc<Self>) {
        let sync_interval = match self.options.durability {
            Durability::Buffered { interval } => Some(interval),
            Durability::Sync => None,
        };
        let tick = sync_interval.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1));
        let mut last_sync = Instant::now();
        loop {
            {
                let mut wake = lock(&self.wake);
                if !*wake {
                    wake = self.woken.wait_timeout(wake, tick).unwrap_or_else(|p| p.into_inner()).0;
                }
                if self.closing.load(Ordering::Acquire) {
                    return;
                }
                *wake = false;
            }
            if let Some(interval) = sync_interval {
                if last_sync.elapsed() >= interval {
                    last_sync = Instant::now();
                    let end = lock(&self.log).next_offset;
                    if let Err(err) = self.sync_through(end) {
                        self.note_background_error(format!("background fsync: {err}"));
                    }
                }
            }
            if self.seal_due() {
                if let Err(err) = self.seal() {
                    self.note_background_error(format!("automatic seal: {err}"));
                }
            }
        }
    }

    /// What queries see, for reading (after a panic elsewhere too, as [`lock`]).
    pub(crate) fn read_view(&self) -> std::sync::RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What queries see, for a seal, compaction or retention to swap or an append to extend.
    pub(crate) fn write_view(&self) -> std::sync::RwLockWriteGuard<'_, View> {
        self.view.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails for a read-only store.
    pub(crate) fn writable(&self, operation: &'static str) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly { operation });
        }
        Ok(())
    }

    fn seal_due(&self) -> bool {
        let view = self.read_view();
        let by_bytes = self.options.seal_after_bytes.is_some_and(|limit| view.tail.bytes() >= limit);
        let by_age = match (self.options.seal_after_age, view.tail.oldest_append_ms()) {
            (Some(age), Some(oldest)) => now_ms().saturating_sub(oldest) >= age.as_millis() as u64,
            _ => false,
        };
        by_bytes || by_age
    }

    fn note_background_error(&self, message: String) {
        let mut slot = lock(&self.background_error);
        if slot.is_none() {
            *slot = Some(message);
        }
    }
}
