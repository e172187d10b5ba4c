//! [`Error`]: what failed, naming the field, the file and the byte offset.

use std::path::PathBuf;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `StoreOptions` holds a value the store cannot work with.
    #[error("invalid store option {option}: {reason}")]
    InvalidOption {
        /// The option's field name.
        option: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A field of an appended event has a length outside its allowed range. The event was not
    /// appended; in a batch, no event of the batch was.
    #[error("{field} is {len} bytes long, allowed are {min}..={max} (event {event} of the batch)")]
    FieldLength {
        /// Which field: `space`, `grouping`, `index name`, `index value`, `data` or `id`.
        field: &'static str,
        /// Position of the event in the batch (0 for a single append).
        event: usize,
        /// The length given.
        len: usize,
        /// Smallest allowed length.
        min: usize,
        /// Largest allowed length.
        max: usize,
    },
    /// An I/O operation failed.
    #[error("cannot {action} {}", .path.display())]
    Io {
        /// What the store was doing, e.g. `fsync segment`.
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A log segment holds bytes that are not a valid record, where no crash could have left
    /// them (anywhere but the unacknowledged end of the active segment).
    #[error("corrupt log segment {} at byte {position}: {reason}", .path.display())]
    CorruptSegment {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record within the segment file.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The remote tier could not be reached, or refused or failed an upload, a check of an
    /// upload, a read or a deletion. Nothing the MANIFEST names was lost: a partition is named
    /// remote only once its copy was checked.
    #[error("remote tier: cannot {action} {file}")]
    Remote {
        /// What the store was doing: `upload`, `check the upload of`, `open`, `delete`.
        action: &'static str,
        /// The partition file, relative to the store directory.
        file: String,
        /// The object store's error, naming the URL.
        #[source]
        source: Box<esdb_object_store::Error>,
    },
    /// The manifest cannot be read or contradicts the files.
    #[error("bad store manifest {}: {reason}", .path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The directory holds files but no manifest: it is not a store, and opening it as one
    /// would delete them as orphans.
    #[error("{} is not an esdb store: it holds files but no MANIFEST", .path.display())]
    NotAStore {
        /// The directory.
        path: PathBuf,
    },
    /// A replay asked for an offset the log no longer holds or does not hold yet.
    #[error("offset {offset} is out of range: the log holds offsets {log_start}..{next}")]
    OffsetOutOfRange {
        /// The requested offset.
        offset: u64,
        /// First offset still in the log (older ones were removed by retention).
        log_start: u64,
        /// The next offset to be assigned.
        next: u64,
    },
    /// A sealed partition could not be read.
    #[error("cannot read partition {}", .path.display())]
    Partition {
        /// The partition file.
        path: PathBuf,
        /// Why.
        #[source]
        source: esdb_read::Error,
    },
    /// A partition could not be written while sealing or compacting.
    #[error("cannot write partition {}", .path.display())]
    Seal {
        /// The partition file.
        path: PathBuf,
        /// Why.
        #[source]
        source: esdb_write::WriteError,
    },
    /// Another process has the store open for writing.
    #[error("{} is locked: another process has the store open for writing", .path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A file in the store directory belongs to another store (its header or its recorded
    /// length and checksum say so).
    #[error("{} does not belong to this store: {reason}", .path.display())]
    ForeignFile {
        /// The file.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The MANIFEST is older than the files beside it (restored from a backup, or copied from
    /// another time): writing would lose or overwrite what the newer files hold.
    #[error("the MANIFEST of {} is older than its files: {reason}; run `esdb store repair`", .dir.display())]
    StaleManifest {
        /// The store directory.
        dir: PathBuf,
        /// What was found.
        reason: String,
    },
    /// A counter of the manifest would wrap.
    #[error("the store has used up its {what}")]
    Exhausted {
        /// Which counter.
        what: &'static str,
    },
    /// A new MANIFEST was renamed into place but the step after it failed, so whether the change
    /// survives a crash is unknown. Nothing was deleted; the store accepts no more changes until
    /// it is reopened, which settles it from what is on disk.
    #[error("the store changed but the change is not known durable ({reason}); reopen the store")]
    Unsettled {
        /// The failure after the rename.
        reason: String,
    },
    /// The store was opened with [`Store::open_read_only`](crate::Store::open_read_only).
    #[error("the store is open read-only; {operation} needs Store::open")]
    ReadOnly {
        /// What was refused.
        operation: &'static str,
    },
    /// An option given for an existing store differs from the value the store recorded when it
    /// was created. Nothing was changed.
    #[error("the store records {option} {recorded}, but {given} was given")]
    OptionMismatch {
        /// The option, e.g. `partition_window`.
        option: &'static str,
        /// The value the store records.
        recorded: String,
        /// The value given.
        given: String,
    },
    /// An appended event's timestamp lies further ahead of the wall clock than
    /// [`StoreOptions::max_future_skew`](crate::StoreOptions::max_future_skew) allows. No event of
    /// the batch was appended.
    #[error(
        "timestamp {timestamp} (event {event} of the batch) is {ahead} {unit} ahead of the clock ({now} {unit}); \
         at most {max} {unit} are allowed"
    )]
    FutureTimestamp {
        /// Position of the event in the batch.
        event: usize,
        /// Its timestamp.
        timestamp: i64,
        /// The wall clock in the store's unit.
        now: i64,
        /// How far ahead it is.
        ahead: i64,
        /// The largest skew allowed, in the store's unit.
        max: i64,
        /// The store's time unit.
        unit: crate::TimeUnit,
    },
    /// The operation measures time against the wall clock, and the store records no time unit.
    #[error("{operation} needs the store's time unit, and it records none; open it with a time_unit")]
    NoTimeUnit {
        /// What was refused.
        operation: &'static str,
    },
    /// An append waited [`StoreOptions::max_append_wait`](crate::StoreOptions::max_append_wait)
    /// for a seal to make room in the memory budget, in vain. Nothing of it was appended.
    #[error(
        "append waited {waited_ms} ms for room: the unsealed tail takes {tail_memory} bytes of its \
         {limit}-byte budget and sealing is behind{}", .reason.as_ref().map(|r| format!(" ({r})")).unwrap_or_default()
    )]
    Stalled {
        /// How long it waited.
        waited_ms: u64,
        /// Memory the tail takes.
        tail_memory: u64,
        /// Memory it may take.
        limit: u64,
        /// The last error of an automatic seal, if one failed.
        reason: Option<String>,
    },
    /// An earlier write or fsync of the log failed, so what is on disk is unknown; the store
    /// accepts no more appends until it is reopened (which recovers the log).
    #[error("the log failed earlier ({reason}); reopen the store")]
    Poisoned {
        /// The first failure.
        reason: String,
    },
}

impl Error {
    /// The message with the messages of its sources, `: `-separated.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(err) = source {
            text.push_str(": ");
            text.push_str(&err.to_string());
            source = err.source();
        }
        text
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { action, path, source }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
