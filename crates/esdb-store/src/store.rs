//! [`Store`]: opening and recovery, appends with group commit, and the background thread that
//! fsyncs buffered appends and seals by thresholds.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};
use crate::event::NewEvent;
use crate::io::{Fs, IoHook, NoHook};
use crate::log::{self, LogWriter, WRITE_BUFFER_LEN};
use crate::manifest::{self, store_id_bytes, Manifest, LOG_DIR};
use crate::open;
use crate::options::{Durability, StoreOptions, TimeUnit, DEFAULT_PARTITION_WINDOW};
use crate::partition::{Cache, Handle, Partition};
use crate::record;
use crate::tail::Tail;
use crate::telemetry::Instruments;
use crate::tier::Tier;
use crate::transition::{write_manifest, Obsolete, WriteFailure};
use crate::watermark::{Publisher, Watermark};

/// What queries see: the partitions and the tail, swapped together by a seal.
#[derive(Debug)]
pub(crate) struct View {
    pub partitions: Arc<Vec<Handle>>,
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
///
/// Lock order (docs/STORE.md, "Locking"): a thread holding one of these locks takes only locks
/// further down the list: `maintenance` → `log` → `manifest` → `view` → `commit` → `obsolete` →
/// `watermark`; `cache`, `arrivals`, `wake`, `room_lock`, `async_wakers`, `unsettled` and
/// `background_error` are leaves,
/// held for a few statements with no other lock taken under them.
#[derive(Debug)]
pub(crate) struct Shared {
    pub dir: PathBuf,
    pub options: StoreOptions,
    pub fs: Fs,
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
    /// Open partitions, at most `max_open_partitions`.
    pub cache: Cache,
    /// Files installed changes stopped naming, not yet deleted.
    pub obsolete: Mutex<Vec<Obsolete>>,
    /// Set when an install failed after its rename: the store refuses changes until reopened.
    pub unsettled: Mutex<Option<String>>,
    /// The durable watermark, published after every fsync (writable stores only).
    pub watermark: Mutex<Option<Publisher>>,
    /// Opened by [`Store::open_read_only`]: no appends, no maintenance, replay from the files.
    pub read_only: bool,
    /// The store's recorded time unit.
    pub unit: Option<TimeUnit>,
    /// [`Tail::memory`] of the view's tail, for appenders to check without the view lock.
    pub tail_memory: AtomicU64,
    /// Counters, and handles on the `metrics` facade.
    pub instruments: Instruments,
    /// Wakers of async followers ([`crate::LogStream`]) waiting for new events, and how many.
    pub async_wakers: Mutex<Vec<std::task::Waker>>,
    pub async_waiting: AtomicUsize,
    /// Appenders waiting for room in the memory budget wait on `room`.
    pub room_lock: Mutex<()>,
    pub room: Condvar,
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

/// The wall clock in nanoseconds since the Unix epoch (negative before it).
pub(crate) fn now_nanos() -> i128 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// What [`Store::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Recovery {
    /// True when the directory held no store (or an unfinished creation) and one was created.
    pub created: bool,
    /// Bytes cut from the end of the active segment: a write a crash interrupted, never
    /// acknowledged as durable.
    pub torn_bytes: u64,
    /// Temporary files and files the manifest listed as obsolete, deleted.
    pub removed_orphans: Vec<PathBuf>,
    /// Files the manifest does not name (an interrupted seal, compaction or roll; a file put
    /// there by hand), moved into `quarantine/`, relative to the store directory.
    pub quarantined: Vec<PathBuf>,
    /// Unsealed events loaded into memory.
    pub tail_events: u64,
    /// Damage that opening stepped over: a read-only open of a damaged log, a sealed segment
    /// whose event ids could not be loaded.
    pub problems: Vec<String>,
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
    /// is: checking the manifest against the files, cutting a torn end off the active segment,
    /// deleting obsolete and temporary files, moving files the manifest does not name into
    /// `quarantine/`, and loading the unsealed tail into memory.
    ///
    /// # Errors
    /// [`Error::NotAStore`] if `dir` holds other files but no manifest; [`Error::Locked`] if
    /// another process writes it; [`Error::StaleManifest`] / [`Error::ForeignFile`] /
    /// [`Error::CorruptSegment`] / [`Error::Manifest`] for what only `esdb store repair` should
    /// resolve (nothing was changed); [`Error::Io`].
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store> {
        Store::open_with_io(dir, options, Arc::new(NoHook))
    }

    /// [`open`](Store::open) with every file operation of the store passing through `hook`
    /// first, so that tests can fail any of them (see [`crate::io`]).
    ///
    /// # Errors
    /// As [`open`](Store::open).
    pub fn open_with_io(dir: impl AsRef<Path>, mut options: StoreOptions, hook: Arc<dyn IoHook>) -> Result<Store> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let _span = tracing::info_span!("esdb_store::open", dir = %dir.display()).entered();
        let fs = Fs::new(hook);
        let mut recovery = Recovery::default();
        fs.create_dir_all(&dir)?;
        let lock_file = take_lock(&fs, &dir)?;
        let mut manifest = match Manifest::load(&dir)? {
            Some(manifest) => manifest,
            None => {
                recovery.created = true;
                let window = options.partition_window.unwrap_or(DEFAULT_PARTITION_WINDOW);
                open::create(&fs, &dir, window, options.time_unit)?
            }
        };
        // Nothing is changed until every claim of the manifest checked out.
        check_recorded(&manifest, &options)?;
        open::check_files(&dir, &manifest)?;
        let mark = open::own_watermark(&dir, &manifest)?;
        let mut loaded = open::load_log(&dir, &manifest, mark, None, true)?;
        let settled = open::settle(&fs, &dir, &manifest)?;
        recovery.removed_orphans = settled.removed;
        recovery.quarantined = settled.quarantined;
        let active = manifest.segments.last().expect("an active segment").clone();
        let active_path = dir.join(active.file());
        let file = log::reopen_segment(&fs, &active_path, loaded.active_len)?;
        recovery.torn_bytes = loaded.torn_bytes;
        let record_unit = manifest.time_unit.is_none() && options.time_unit.is_some();
        let record_remote = manifest.remote.is_none() && options.remote.is_some();
        let layout = PartitionLayout::given_or_recorded(&options, &manifest);
        let record_layout = layout != PartitionLayout::recorded(&manifest);
        if manifest.store_id.is_empty()
            || manifest.version < manifest::VERSION
            || record_unit
            || record_remote
            || record_layout
        {
            // A store written by an earlier version: give it an id and record the new fields.
            let mut next = manifest.clone();
            next.version = manifest::VERSION;
            if next.store_id.is_empty() {
                next.store_id = manifest::new_store_id(&dir);
            }
            if record_unit {
                next.time_unit = options.time_unit.map(|unit| unit.as_str().to_owned());
            }
            if record_remote {
                next.remote = options.remote.as_deref().map(remote_location);
            }
            layout.record(&mut next);
            next.generation = manifest.generation + 1;
            write_manifest(&fs, &dir, &next).map_err(|failure| match failure {
                WriteFailure::BeforeRename(err) | WriteFailure::AfterRename(err) => err,
            })?;
            manifest = next;
        }
        layout.apply(&mut options);
        let dedupe = open::dedupe_window(&dir, &manifest, options.dedupe_window, &mut loaded);
        recovery.tail_events = loaded.tail.len();
        recovery.problems = std::mem::take(&mut loaded.problems);
        let store_id = store_id_bytes(&manifest.store_id);
        let publisher = Publisher::open(
            &fs,
            &dir,
            Watermark {
                store_id,
                offset: loaded.next_offset,
                segment_base: active.base,
                segment_len: loaded.active_len,
            },
        )?;
        let writer = LogWriter {
            file: Arc::new(file),
            path: active_path,
            base: active.base,
            len: loaded.active_len,
            buf: Vec::with_capacity(WRITE_BUFFER_LEN * 2),
            added: Vec::new(),
            arena: bytes::BytesMut::new(),
            next_offset: loaded.next_offset,
            last_append_ms: loaded.last_append_ms,
            dedupe,
            poisoned: None,
            fs: fs.clone(),
        };
        let tier = tier_of(&manifest)?;
        let shared = Shared::new(dir, options, fs, writer, manifest, loaded, tier, false, Some(lock_file));
        *lock(&shared.watermark) = Some(publisher);
        shared.delete_obsolete();
        tracing::info!(
            dir = %shared.dir.display(),
            created = recovery.created,
            tail_events = recovery.tail_events,
            torn_bytes = recovery.torn_bytes,
            removed = recovery.removed_orphans.len(),
            quarantined = recovery.quarantined.len(),
            problems = recovery.problems.len(),
            "opened"
        );
        let background = {
            let for_thread = shared.clone();
            std::thread::Builder::new()
                .name("esdb-store".into())
                .spawn(move || for_thread.background())
                .map_err(Error::io("start the background thread of", &shared.dir))?
        };
        Ok(Store { shared, background: Some(background), recovery })
    }

    /// Opens the store in `dir` for reading, while another process may write it or none does.
    /// Takes no lock, writes nothing (it works on read-only media and without write
    /// permission), never blocks a writer and changes nothing it finds, damage included:
    /// damage in the log makes the events from there on unavailable, reported in
    /// [`Recovery::problems`].
    ///
    /// Queries see the store as it was when opened, and reload transparently when a writer in
    /// another process deleted a partition meanwhile (after a compaction or retention).
    /// [`follow`](Store::follow) reads new records from the segment files as the writer makes
    /// them durable, checking every 10 ms when it has caught up.
    ///
    /// # Errors
    /// [`Error::NotAStore`] if `dir` has no manifest; [`Error::Manifest`] if it is unreadable;
    /// [`Error::Io`].
    pub fn open_read_only(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        let options = StoreOptions::default().with_seal_after_bytes(None).with_seal_after_age(None);
        let (manifest, mut loaded) = load_read_only(&dir)?;
        let active = manifest.segments.last().expect("an active segment").clone();
        let active_path = dir.join(active.file());
        let file = fs::File::open(&active_path).map_err(Error::io("open segment", &active_path))?;
        let recovery = Recovery {
            tail_events: loaded.tail.len(),
            problems: std::mem::take(&mut loaded.problems),
            ..Recovery::default()
        };
        let fs = Fs::default();
        let writer = LogWriter {
            file: Arc::new(file),
            path: active_path,
            base: active.base,
            len: loaded.active_len,
            buf: Vec::new(),
            added: Vec::new(),
            arena: bytes::BytesMut::new(),
            next_offset: loaded.next_offset,
            last_append_ms: loaded.last_append_ms,
            dedupe: log::Dedupe::new(0),
            poisoned: None,
            fs: fs.clone(),
        };
        let tier = tier_of(&manifest)?;
        let shared = Shared::new(dir, options, fs, writer, manifest, loaded, tier, true, None);
        Ok(Store { shared, background: None, recovery })
    }

    /// The unit of the store's timestamps, as it records it (`None`: it records none).
    pub fn time_unit(&self) -> Option<TimeUnit> {
        self.shared.unit
    }

    /// What opening found and repaired.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// True for a store opened with [`open_read_only`](Store::open_read_only).
    pub fn is_read_only(&self) -> bool {
        self.shared.read_only
    }

    /// Appends one event and returns its offset (or, for an id accepted within the dedupe
    /// window, the offset it got then). With [`Durability::Sync`] it returns once the event is
    /// fsynced.
    ///
    /// # Errors
    /// [`Error::FieldLength`] (nothing appended), [`Error::Io`] / [`Error::Poisoned`] /
    /// [`Error::Unsettled`].
    pub fn append(&self, event: NewEvent) -> Result<u64> {
        self.shared.append_one(&event)
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
        self.sync()?;
        self.shared.delete_obsolete();
        Ok(())
    }

    fn stop_background(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        *lock(&self.shared.wake) = true;
        self.shared.woken.notify_all();
        drop(lock(&self.shared.arrivals));
        self.shared.arrived.notify_all();
        self.shared.wake_async();
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

/// The manifest and the log of a store as a read-only reader sees them: up to the durable
/// watermark, damage stepped over. A manifest naming a segment that a writer deleted
/// meanwhile (retention) is loaded again.
pub(crate) fn load_read_only(dir: &Path) -> Result<(Manifest, open::Loaded)> {
    let mut attempts = 0;
    loop {
        let manifest = Manifest::load(dir)?.ok_or_else(|| Error::NotAStore { path: dir.to_path_buf() })?;
        let mark = open::own_watermark(dir, &manifest)?;
        let limit = mark.map(|mark| mark.offset);
        match open::load_log(dir, &manifest, mark, limit, false) {
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound && attempts < 20 => {
                attempts += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(err) => return Err(err),
            Ok(loaded) => return Ok((manifest, loaded)),
        }
    }
}

/// A remote tier location as the manifest records it: without a trailing `/`.
fn remote_location(remote: &str) -> String {
    remote.trim_end_matches('/').to_owned()
}

/// The remote tier the manifest records, if any.
pub(crate) fn tier_of(manifest: &Manifest) -> Result<Option<Tier>> {
    manifest.remote.as_deref().map(|remote| Tier::new(remote, &manifest.store_id)).transpose()
}

/// What the partitions sealed or compacted from now on cover: the manifest records it, and an
/// open whose options name it records the new choice.
#[derive(Debug, PartialEq, Eq)]
struct PartitionLayout {
    covering_indexes: Vec<String>,
    covering_timeline: bool,
}

impl PartitionLayout {
    fn recorded(manifest: &Manifest) -> PartitionLayout {
        PartitionLayout {
            covering_indexes: manifest.covering_indexes.clone(),
            covering_timeline: manifest.covering_timeline,
        }
    }

    /// The layout `options` give, the recorded one where they give none. Names are sorted and
    /// repeats dropped, as the manifest keeps them (`validate` checked they are UTF-8).
    fn given_or_recorded(options: &StoreOptions, manifest: &Manifest) -> PartitionLayout {
        let recorded = PartitionLayout::recorded(manifest);
        let covering_indexes = match &options.covering_indexes {
            None => recorded.covering_indexes,
            Some(names) => {
                let mut names: Vec<String> =
                    names.iter().map(|name| String::from_utf8_lossy(name).into_owned()).collect();
                names.sort();
                names.dedup();
                names
            }
        };
        let covering_timeline = options.covering_timeline.unwrap_or(recorded.covering_timeline);
        PartitionLayout { covering_indexes, covering_timeline }
    }

    fn record(&self, manifest: &mut Manifest) {
        manifest.covering_indexes.clone_from(&self.covering_indexes);
        manifest.covering_timeline = self.covering_timeline;
    }

    /// Puts the layout in `options`, which the seals and compactions of this open follow.
    fn apply(self, options: &mut StoreOptions) {
        options.covering_indexes = Some(self.covering_indexes.into_iter().map(String::into_bytes).collect());
        options.covering_timeline = Some(self.covering_timeline);
    }
}

/// Fails when `options` give a recorded option a value other than the one recorded.
fn check_recorded(manifest: &Manifest, options: &StoreOptions) -> Result<()> {
    if let (Some(recorded), Some(given)) = (&manifest.remote, &options.remote) {
        if *recorded != remote_location(given) {
            return Err(Error::OptionMismatch { option: "remote", recorded: recorded.clone(), given: given.clone() });
        }
    }
    if let Some(given) = options.partition_window.filter(|given| *given != manifest.partition_window) {
        return Err(Error::OptionMismatch {
            option: "partition_window",
            recorded: manifest.partition_window.to_string(),
            given: given.to_string(),
        });
    }
    if let (Some(recorded), Some(given)) = (manifest.unit(), options.time_unit) {
        if recorded != given {
            return Err(Error::OptionMismatch {
                option: "time_unit",
                recorded: recorded.to_string(),
                given: given.to_string(),
            });
        }
    }
    Ok(())
}

/// Takes the store's lock file, so that no second process opens it for writing.
pub(crate) fn take_lock(fs: &Fs, dir: &Path) -> Result<fs::File> {
    let path = dir.join(LOCK);
    let file = match fs::OpenOptions::new().write(true).open(&path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let file = fs.create(&path)?;
            fs.sync_dir(dir)?;
            file
        }
        Err(err) => return Err(Error::io("open", &path)(err)),
    };
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(Error::Locked { path }),
        Err(fs::TryLockError::Error(source)) => Err(Error::Io { action: "lock", path, source }),
    }
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: PathBuf,
        options: StoreOptions,
        fs: Fs,
        writer: LogWriter,
        manifest: Manifest,
        loaded: open::Loaded,
        tier: Option<Tier>,
        read_only: bool,
        lock_file: Option<fs::File>,
    ) -> Arc<Shared> {
        let next_offset = writer.next_offset;
        let tail_memory = loaded.tail.memory();
        let partitions = manifest.partitions.iter().map(|meta| Arc::new(Partition::new(&dir, meta.clone()))).collect();
        let obsolete = manifest.obsolete.iter().map(|file| Obsolete::segment(file.clone())).collect();
        let unit = manifest.unit();
        let instruments = Instruments::new(&dir.display().to_string());
        instruments.tail((loaded.tail.len(), loaded.tail.bytes(), tail_memory));
        instruments.partitions(manifest.partitions.len());
        Arc::new(Shared {
            instruments,
            cache: Cache::new(options.max_open_partitions, tier),
            dir,
            options,
            fs,
            log: Mutex::new(writer),
            commit: Mutex::new(CommitState { durable: next_offset, syncing: false, failed: None }),
            committed: Condvar::new(),
            view: RwLock::new(View { partitions: Arc::new(partitions), tail: loaded.tail }),
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
            obsolete: Mutex::new(obsolete),
            unsettled: Mutex::new(None),
            watermark: Mutex::new(None),
            read_only,
            unit,
            tail_memory: AtomicU64::new(tail_memory),
            async_wakers: Mutex::new(Vec::new()),
            async_waiting: AtomicUsize::new(0),
            room_lock: Mutex::new(()),
            room: Condvar::new(),
            _lock: lock_file,
        })
    }

    /// Reloads a read-only store's manifest and tail (a writer in another process deleted a
    /// file the loaded manifest names).
    pub(crate) fn reload(&self) -> Result<()> {
        debug_assert!(self.read_only);
        let (manifest, loaded) = load_read_only(&self.dir)?;
        let partitions: Vec<Handle> =
            manifest.partitions.iter().map(|meta| Arc::new(Partition::new(&self.dir, meta.clone()))).collect();
        let mut log = lock(&self.log);
        let mut current = lock(&self.manifest);
        let mut view = self.write_view();
        log.next_offset = loaded.next_offset;
        *current = manifest;
        *view = View { partitions: Arc::new(partitions), tail: loaded.tail };
        self.tail_memory.store(view.tail.memory(), Ordering::Relaxed);
        self.visible.store(loaded.next_offset, Ordering::Release);
        lock(&self.commit).durable = loaded.next_offset;
        Ok(())
    }

    /// Publishes that offsets below `offset` are durable, the segment at `segment_base` being
    /// durable for its first `segment_len` bytes. A failure to write the watermark costs only
    /// other processes' view of the log, so it is noted, not fatal.
    fn publish_durable(&self, offset: u64, segment_base: u64, segment_len: u64) {
        let mut watermark = lock(&self.watermark);
        let Some(publisher) = watermark.as_mut() else { return };
        let mark = Watermark { store_id: publisher.last().store_id, offset, segment_base, segment_len };
        if let Err(err) = publisher.publish(&self.fs, mark) {
            drop(watermark);
            self.note_background_error(format!("publish the durable watermark: {}", err.chain()));
        }
    }

    pub(crate) fn append_batch(&self, events: &[NewEvent]) -> Result<Vec<u64>> {
        let mut offsets = Vec::with_capacity(events.len());
        self.append_each(events, |offset| offsets.push(offset))?;
        Ok(offsets)
    }

    pub(crate) fn append_one(&self, event: &NewEvent) -> Result<u64> {
        let mut got = 0;
        self.append_each(std::slice::from_ref(event), |offset| got = offset)?;
        Ok(got)
    }

    /// Appends `events`, calling `on_offset` with the offset of each in order.
    fn append_each(&self, events: &[NewEvent], mut on_offset: impl FnMut(u64)) -> Result<()> {
        self.writable("append")?;
        self.check_settled()?;
        for (position, event) in events.iter().enumerate() {
            record::check_event(event, position, self.options.max_data_len)?;
        }
        self.check_clock(events)?;
        self.wait_for_room()?;
        let append_ms = now_ms();
        let mut guard = lock(&self.log);
        let log = &mut *guard;
        log.check()?;
        // Records are encoded once, into the write buffer; the tail gets one copy of them.
        let from = log.buf.len();
        let mut added = std::mem::take(&mut log.added);
        added.clear();
        for (idx, event) in events.iter().enumerate() {
            if let Some(original) = event.id.as_deref().and_then(|id| log.dedupe.get(id, log.next_offset)) {
                on_offset(original);
                continue;
            }
            let offset = log.next_offset;
            let start = log.buf.len();
            record::encode_new(event, offset, append_ms, &mut log.buf);
            if let Some(id) = &event.id {
                log.dedupe.insert(id, offset);
            }
            log.next_offset += 1;
            on_offset(offset);
            added.push((start - from, log.buf.len() - from, idx));
        }
        if !added.is_empty() {
            let encoded = log.copy_added(from);
            log.len += encoded.len() as u64;
            log.last_append_ms = Some(append_ms);
            let mut view = self.write_view();
            for &(start, end, idx) in &added {
                view.tail.push(encoded.slice(start + 4..end - 8), &events[idx].space);
            }
            self.tail_memory.store(view.tail.memory(), Ordering::Relaxed);
            let tail = (view.tail.len(), view.tail.bytes(), view.tail.memory());
            self.instruments.appended(added.len() as u64, encoded.len() as u64, tail);
            let seal_due = self.seal_due_by_size(&view.tail);
            drop(view);
            if seal_due {
                self.wake_background();
            }
        }
        log.added = added;
        let mut log = guard;
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
        Ok(())
    }

    /// Refuses a batch holding a timestamp further ahead of the wall clock than the store allows.
    fn check_clock(&self, events: &[NewEvent]) -> Result<()> {
        let (Some(unit), Some(skew)) = (self.unit, self.options.max_future_skew) else { return Ok(()) };
        let max = unit.ticks_in(skew);
        let now = unit.from_unix_nanos(now_nanos());
        for (event, position) in events.iter().zip(0..) {
            let ahead = i128::from(event.timestamp) - i128::from(now);
            if ahead > i128::from(max) {
                let ahead = i64::try_from(ahead).unwrap_or(i64::MAX);
                return Err(Error::FutureTimestamp {
                    event: position,
                    timestamp: event.timestamp,
                    now,
                    ahead,
                    max,
                    unit,
                });
            }
        }
        Ok(())
    }

    /// Waits while the unsealed tail takes its whole share of the memory budget: a seal is
    /// behind. Fails after `max_append_wait`.
    fn wait_for_room(&self) -> Result<()> {
        let limit = self.options.tail_limit();
        if self.tail_memory.load(Ordering::Relaxed) < limit {
            return Ok(());
        }
        let started = Instant::now();
        self.instruments.stalled();
        let mut guard = lock(&self.room_lock);
        loop {
            let used = self.tail_memory.load(Ordering::Relaxed);
            if used < limit {
                return Ok(());
            }
            self.wake_background();
            let waited = started.elapsed();
            if waited >= self.options.max_append_wait || self.closing.load(Ordering::Acquire) {
                return Err(Error::Stalled {
                    waited_ms: waited.as_millis() as u64,
                    tail_memory: used,
                    limit,
                    reason: lock(&self.background_error).clone(),
                });
            }
            let left = self.options.max_append_wait - waited;
            guard = self
                .room
                .wait_timeout(guard, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Tells appenders waiting for room that a seal trimmed the tail.
    pub(crate) fn made_room(&self, tail: &Tail) {
        self.tail_memory.store(tail.memory(), Ordering::Relaxed);
        self.instruments.tail((tail.len(), tail.bytes(), tail.memory()));
        drop(lock(&self.room_lock));
        self.room.notify_all();
    }

    /// Wakes the background thread (to seal).
    pub(crate) fn wake_background(&self) {
        *lock(&self.wake) = true;
        self.woken.notify_all();
    }

    /// True when the tail is large enough to seal: by `seal_after_bytes`, or at half the memory
    /// budget's share for the tail whatever the options say.
    fn seal_due_by_size(&self, tail: &Tail) -> bool {
        self.options.seal_after_bytes.is_some_and(|limit| tail.bytes() >= limit)
            || tail.memory() >= self.options.tail_limit() / 2
    }

    /// Makes offsets below `end` visible to readers and wakes followers.
    pub(crate) fn publish(&self, end: u64) {
        // SeqCst pairs with the follower's increment of `waiting` before it re-reads `visible`:
        // either the follower sees the new end, or this sees the follower and wakes it.
        let advanced = self.visible.fetch_max(end, Ordering::SeqCst) < end;
        if advanced && self.waiting.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.arrivals);
            self.arrived.notify_all();
        }
        if advanced && self.async_waiting.load(Ordering::SeqCst) > 0 {
            self.wake_async();
        }
    }

    /// Wakes every async follower waiting.
    pub(crate) fn wake_async(&self) {
        let wakers = {
            let mut wakers = lock(&self.async_wakers);
            self.async_waiting.store(0, Ordering::SeqCst);
            std::mem::take(&mut *wakers)
        };
        wakers.into_iter().for_each(std::task::Waker::wake);
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
        let (file, path, end, base, len) = {
            let mut log = lock(&self.log);
            log.flush()?;
            (log.file.clone(), log.path.clone(), log.next_offset, log.base, log.len)
        };
        // Outside the lock: appenders go on filling the buffer while the disk works.
        let started = Instant::now();
        if let Err(err) = self.fs.sync_data(&file, &path) {
            lock(&self.log).poisoned = Some(err.to_string());
            return Err(err);
        }
        self.instruments.fsynced(started.elapsed(), self.visible.load(Ordering::Relaxed).saturating_sub(end));
        self.publish_durable(end, base, len);
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
            let mut manifest = lock(&self.manifest);
            let store_id = store_id_bytes(&manifest.store_id);
            let file = log::create_segment(&self.fs, &path, base, store_id)?;
            if let Err(err) = self.fs.sync_dir(&self.dir.join(LOG_DIR)) {
                let _ = self.fs.remove(&path);
                return Err(err);
            }
            let mut next = manifest.clone();
            let active = next.segments.last_mut().expect("an active segment");
            active.end = Some(base);
            active.last_append_ms = log.last_append_ms;
            next.segments.push(manifest::SegmentMeta { base, end: None, last_append_ms: None });
            self.install(&mut manifest, next, std::slice::from_ref(&path), Vec::new())?;
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
        self.publish_durable(base, base, log.len);
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
                        self.note_background_error(format!("background fsync: {}", err.chain()));
                    }
                }
            }
            if self.seal_due() {
                match self.seal() {
                    Err(err) => self.note_background_error(format!("automatic seal: {}", err.chain())),
                    Ok(_) => {
                        if self.options.auto_compact {
                            if let Err(err) = self.compact(true) {
                                self.note_background_error(format!("automatic compaction: {}", err.chain()));
                            }
                        }
                        if self.cache.tier().is_some() {
                            if let Err(err) = self.tier() {
                                self.note_background_error(format!("automatic tiering: {}", err.chain()));
                            }
                        }
                    }
                }
            }
            self.delete_obsolete();
            self.instruments.refresh_followers(self.visible.load(Ordering::Relaxed));
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
        let by_bytes = self.seal_due_by_size(&view.tail);
        let by_age = match (self.options.seal_after_age, view.tail.oldest_append_ms()) {
            (Some(age), Some(oldest)) => now_ms().saturating_sub(oldest) >= age.as_millis() as u64,
            _ => false,
        };
        by_bytes || by_age
    }

    pub(crate) fn note_background_error(&self, message: String) {
        self.instruments.failed();
        let mut slot = lock(&self.background_error);
        if slot.is_none() {
            *slot = Some(message);
        }
    }
}
