//! [`StoreOptions`]: durability, the memory budget, seal and compaction thresholds, the options
//! a store records (partition window, time unit), producer clock limits, retention.

use std::time::Duration;

pub use esdb_format::TimeUnit;

/// When [`Store::append`](crate::Store::append) returns relative to the fsync of the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `append` returns only after the event is fsynced. Appenders that arrive while an fsync is
    /// running share the next one (group commit), so throughput grows with concurrency and batch
    /// size while each fsync costs the same. Readers see an event only once it is durable.
    Sync,
    /// `append` returns once the event is in the store's write buffer; a background thread
    /// writes and fsyncs the log every `interval`. Readers see an event as soon as `append`
    /// returns.
    ///
    /// What a crash can lose: a crash of the process or of the machine loses at most the events
    /// appended after the last completed background fsync, that is, within about `interval`
    /// (plus the duration of one fsync) before the crash. It never loses an event at or below
    /// [`Store::durable_through`](crate::Store::durable_through), never leaves a torn record
    /// behind after recovery, and never loses an event while keeping a later one. A follower may
    /// have seen events that a crash then loses.
    Buffered {
        /// Time between background fsyncs.
        interval: Duration,
    },
}

/// How long the log keeps sealed segments replayable. Segments that are not yet sealed are
/// never deleted, whatever the policy says: their events would otherwise vanish from queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LogRetention {
    /// Delete a sealed segment once its last event was appended longer ago than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest sealed segments while the log is larger than this many bytes.
    pub max_bytes: Option<u64>,
}

/// How long sealed partitions stay queryable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PartitionRetention {
    /// Delete a partition once its whole time window ended more than this many timestamp units
    /// before now: the wall clock in the store's [time unit](StoreOptions::time_unit), never the
    /// newest timestamp appended (one producer with a clock far ahead would delete history).
    /// [`Store::retain_at`](crate::Store::retain_at) measures against a given time instead.
    pub max_age: Option<i64>,
}

/// Both retention policies, applied by [`Store::retain`](crate::Store::retain).
///
/// ```
/// use std::time::Duration;
/// use esdb_store::{LogRetention, PartitionRetention, Retention};
/// let retention = Retention::default()
///     .with_log(LogRetention::default().with_max_bytes(Some(1 << 30)))
///     .with_partitions(PartitionRetention::default().with_max_age(Some(30 * 86_400)));
/// assert_eq!(retention.log.max_age, None::<Duration>);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Retention {
    /// Replayability of the log.
    pub log: LogRetention,
    /// Queryability of sealed history.
    pub partitions: PartitionRetention,
}

impl LogRetention {
    /// Sets [`max_age`](LogRetention::max_age).
    #[must_use]
    pub fn with_max_age(mut self, age: Option<Duration>) -> Self {
        self.max_age = age;
        self
    }

    /// Sets [`max_bytes`](LogRetention::max_bytes).
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: Option<u64>) -> Self {
        self.max_bytes = bytes;
        self
    }
}

impl PartitionRetention {
    /// Sets [`max_age`](PartitionRetention::max_age).
    #[must_use]
    pub fn with_max_age(mut self, age: Option<i64>) -> Self {
        self.max_age = age;
        self
    }
}

impl Retention {
    /// Sets [`log`](Retention::log).
    #[must_use]
    pub fn with_log(mut self, log: LogRetention) -> Self {
        self.log = log;
        self
    }

    /// Sets [`partitions`](Retention::partitions).
    #[must_use]
    pub fn with_partitions(mut self, partitions: PartitionRetention) -> Self {
        self.partitions = partitions;
        self
    }
}

/// Options of [`Store::open`](crate::Store::open). Every field has a default: start from
/// [`Default`] and change what you need with the `with_` setters (or assign the public fields);
/// new options may be added in minor versions, so the struct cannot be built as a literal outside
/// this crate.
///
/// ```
/// use esdb_store::{Durability, StoreOptions, TimeUnit};
/// let options = StoreOptions::default()
///     .with_durability(Durability::Sync)
///     .with_time_unit(Some(TimeUnit::Milliseconds));
/// assert_eq!(options.memory_budget, 256 << 20);
/// ```
///
/// ```compile_fail
/// let options = esdb_store::StoreOptions { auto_compact: false, ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreOptions {
    /// When `append` returns. Default: `Buffered` with a 100 ms interval.
    pub durability: Durability,
    /// A log segment is closed and a new one started past this many bytes. Default: 64 MiB.
    pub segment_bytes: u64,
    /// Width of a partition's time window, in timestamp units. Recorded when the store is
    /// created (default then: 86 400, one day of seconds). `None`: the recorded value; a
    /// different value for an existing store is [`Error::OptionMismatch`](crate::Error).
    pub partition_window: Option<i64>,
    /// Unit of the timestamps, recorded when the store is created. It is what retention by
    /// partition age and [`max_future_skew`](StoreOptions::max_future_skew) measure the wall
    /// clock in. `None`: the recorded unit (a store created without one records none). A unit for
    /// a store that records none is recorded; a different one is
    /// [`Error::OptionMismatch`](crate::Error).
    pub time_unit: Option<TimeUnit>,
    /// Appends whose timestamp lies further than this ahead of the wall clock are refused with
    /// [`Error::FutureTimestamp`](crate::Error), so that one producer's bad clock cannot make
    /// the rest of history look old. Needs the store's time unit (without one, nothing is
    /// checked). Default: one day. `None`: no limit.
    pub max_future_skew: Option<Duration>,
    /// Memory the store may use for unsealed events and for sealing them, in bytes. Default:
    /// 256 MiB. The unsealed tail may take `memory_budget - 2 * seal_memory_budget`; past that,
    /// appends wait for a seal to make room (at most
    /// [`max_append_wait`](StoreOptions::max_append_wait)), and a seal starts on its own once the
    /// tail takes half of it, whatever the seal thresholds say.
    pub memory_budget: u64,
    /// Longest an append waits for room in the memory budget before it fails with
    /// [`Error::Stalled`](crate::Error). Appends wait only while a seal is behind: about the
    /// time one seal of the tail takes (a second or two per 64 MiB of log on a laptop disk).
    /// Default: 60 s.
    pub max_append_wait: Duration,
    /// Seal automatically once this many bytes of log are unsealed. Default: 64 MiB. `None`: only
    /// on `seal()`, or when the memory budget requires it.
    pub seal_after_bytes: Option<u64>,
    /// Seal automatically once the oldest unsealed event was appended this long ago. Default:
    /// 10 minutes. `None`: never by age.
    pub seal_after_age: Option<Duration>,
    /// Compaction merges partitions (of one window and of neighbouring windows) into ones of at
    /// most this many bytes, and leaves alone those past half of it ([`Store::compact`]) or an
    /// eighth of it (the automatic compaction after a seal, which so rewrites an event only a
    /// few times while the store grows). Default: 256 MiB.
    ///
    /// [`Store::compact`]: crate::Store::compact
    pub compact_target_bytes: u64,
    /// After every automatic seal, compact what [`Store::compact`](crate::Store::compact) would
    /// merge. Default: true.
    pub auto_compact: bool,
    /// Appends carrying an event id already accepted among the last this many offsets are not
    /// stored again. Default: 1 000 000. Memory: about the id length plus 64 bytes per event
    /// that carries an id.
    pub dedupe_window: u64,
    /// Memory budget of the ESDB writer while sealing and compacting. Default: 64 MiB.
    pub seal_memory_budget: usize,
    /// Applied by [`Store::retain`](crate::Store::retain). Default: keep everything.
    pub retention: Retention,
    /// Largest event data accepted, in bytes. Default: 64 MiB.
    pub max_data_len: usize,
    /// Partitions kept open (memory-mapped) between queries; others are opened when a query
    /// needs them. Default: 256. A query holds open the partitions that contain its space.
    pub max_open_partitions: usize,
    /// Index names the partitions cover (`esdb_write::WriterOptions::covering_indexes`): index
    /// scans of sealed history then read each value's events in sequence, for about their size
    /// again on disk. Applies to the partitions sealed or compacted from now on, and is recorded
    /// in the manifest when it differs from the recorded names (names must be UTF-8); `None`:
    /// the recorded names (none in a new store). Default: `None`.
    pub covering_indexes: Option<Vec<Vec<u8>>>,
    /// Whether the partitions cover each space's timeline
    /// (`esdb_write::WriterOptions::covering_timeline`): [`Space::events`](crate::Space::events)
    /// of sealed history then reads a space's events in time order in sequence, instead of
    /// merging its groupings, for about the size of those events again on disk (spaces of one
    /// grouping need no copy). Applies to the partitions sealed or compacted from now on, and is
    /// recorded in the manifest when it differs; `None`: the recorded choice (`false` in a new
    /// store). Default: `None`.
    pub covering_timeline: Option<bool>,
    /// The remote tier: an object-store location (`s3://BUCKET/PREFIX`, configured from the
    /// standard `AWS_*` variables, or `file:///PATH`) that [`Store::tier`](crate::Store::tier)
    /// copies sealed partitions to, under `{remote}/{store_id}/`. Recorded by the first open
    /// that gives one; `None`: the recorded one, if any; a different one is
    /// [`Error::OptionMismatch`](crate::Error). Default: none.
    pub remote: Option<String>,
    /// With a remote tier: the most bytes of partitions kept in the store directory once
    /// they are also remote. [`Store::tier`](crate::Store::tier) deletes the local files of the
    /// partitions with the oldest windows first until the rest fit; those are then read in place
    /// from the tier. Partitions not yet copied are never deleted, whatever their size. `None`:
    /// keep every local file. Default: `None`.
    pub local_partition_bytes: Option<u64>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Buffered { interval: Duration::from_millis(100) },
            segment_bytes: 64 << 20,
            partition_window: None,
            time_unit: None,
            max_future_skew: Some(Duration::from_secs(86_400)),
            memory_budget: 256 << 20,
            max_append_wait: Duration::from_secs(60),
            seal_after_bytes: Some(64 << 20),
            seal_after_age: Some(Duration::from_secs(600)),
            compact_target_bytes: 256 << 20,
            auto_compact: true,
            dedupe_window: 1_000_000,
            seal_memory_budget: 64 << 20,
            retention: Retention::default(),
            max_data_len: 64 << 20,
            max_open_partitions: 256,
            covering_indexes: None,
            covering_timeline: None,
            remote: None,
            local_partition_bytes: None,
        }
    }
}

/// The partition window of a store created without one.
pub const DEFAULT_PARTITION_WINDOW: i64 = 86_400;

impl StoreOptions {
    /// Sets [`durability`](StoreOptions::durability).
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets [`segment_bytes`](StoreOptions::segment_bytes).
    #[must_use]
    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = bytes;
        self
    }

    /// Sets [`partition_window`](StoreOptions::partition_window).
    #[must_use]
    pub fn with_partition_window(mut self, window: Option<i64>) -> Self {
        self.partition_window = window;
        self
    }

    /// Sets [`time_unit`](StoreOptions::time_unit).
    #[must_use]
    pub fn with_time_unit(mut self, unit: Option<TimeUnit>) -> Self {
        self.time_unit = unit;
        self
    }

    /// Sets [`max_future_skew`](StoreOptions::max_future_skew).
    #[must_use]
    pub fn with_max_future_skew(mut self, skew: Option<Duration>) -> Self {
        self.max_future_skew = skew;
        self
    }

    /// Sets [`memory_budget`](StoreOptions::memory_budget).
    #[must_use]
    pub fn with_memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets [`max_append_wait`](StoreOptions::max_append_wait).
    #[must_use]
    pub fn with_max_append_wait(mut self, wait: Duration) -> Self {
        self.max_append_wait = wait;
        self
    }

    /// Sets [`seal_after_bytes`](StoreOptions::seal_after_bytes).
    #[must_use]
    pub fn with_seal_after_bytes(mut self, bytes: Option<u64>) -> Self {
        self.seal_after_bytes = bytes;
        self
    }

    /// Sets [`seal_after_age`](StoreOptions::seal_after_age).
    #[must_use]
    pub fn with_seal_after_age(mut self, age: Option<Duration>) -> Self {
        self.seal_after_age = age;
        self
    }

    /// Sets [`compact_target_bytes`](StoreOptions::compact_target_bytes).
    #[must_use]
    pub fn with_compact_target_bytes(mut self, bytes: u64) -> Self {
        self.compact_target_bytes = bytes;
        self
    }

    /// Sets [`auto_compact`](StoreOptions::auto_compact).
    #[must_use]
    pub fn with_auto_compact(mut self, auto_compact: bool) -> Self {
        self.auto_compact = auto_compact;
        self
    }

    /// Sets [`dedupe_window`](StoreOptions::dedupe_window).
    #[must_use]
    pub fn with_dedupe_window(mut self, offsets: u64) -> Self {
        self.dedupe_window = offsets;
        self
    }

    /// Sets [`seal_memory_budget`](StoreOptions::seal_memory_budget).
    #[must_use]
    pub fn with_seal_memory_budget(mut self, bytes: usize) -> Self {
        self.seal_memory_budget = bytes;
        self
    }

    /// Sets [`retention`](StoreOptions::retention).
    #[must_use]
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Sets [`max_data_len`](StoreOptions::max_data_len).
    #[must_use]
    pub fn with_max_data_len(mut self, bytes: usize) -> Self {
        self.max_data_len = bytes;
        self
    }

    /// Sets [`max_open_partitions`](StoreOptions::max_open_partitions).
    #[must_use]
    pub fn with_max_open_partitions(mut self, partitions: usize) -> Self {
        self.max_open_partitions = partitions;
        self
    }

    /// Sets [`remote`](StoreOptions::remote): the location of the remote tier.
    #[must_use]
    pub fn with_remote(mut self, remote: impl Into<String>) -> Self {
        self.remote = Some(remote.into());
        self
    }

    /// Sets [`local_partition_bytes`](StoreOptions::local_partition_bytes).
    #[must_use]
    pub fn with_local_partition_bytes(mut self, bytes: Option<u64>) -> Self {
        self.local_partition_bytes = bytes;
        self
    }

    /// Sets [`covering_indexes`](StoreOptions::covering_indexes): the index names to cover (an
    /// empty list covers none).
    #[must_use]
    pub fn with_covering_indexes<N: Into<Vec<u8>>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        self.covering_indexes = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Sets [`covering_timeline`](StoreOptions::covering_timeline).
    #[must_use]
    pub fn with_covering_timeline(mut self, covering_timeline: bool) -> Self {
        self.covering_timeline = Some(covering_timeline);
        self
    }

    /// Memory the unsealed tail may take before appends wait: the budget less one share for the
    /// writer of a seal or compaction and one for what reading partitions and the allocator take
    /// beside it.
    pub(crate) fn tail_limit(&self) -> u64 {
        self.memory_budget - 2 * self.seal_memory_budget as u64
    }

    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let invalid =
            |option: &'static str, reason: &str| Err(crate::Error::InvalidOption { option, reason: reason.to_owned() });
        if self.segment_bytes < 4096 {
            return invalid("segment_bytes", "must be at least 4096");
        }
        if self.partition_window.is_some_and(|window| window < 1) {
            return invalid("partition_window", "must be at least 1");
        }
        if self.memory_budget < 3 * self.seal_memory_budget as u64 {
            return invalid("memory_budget", "must be at least three times seal_memory_budget");
        }
        if self.seal_memory_budget < 1 << 20 {
            return invalid("seal_memory_budget", "must be at least 1 MiB");
        }
        if let Durability::Buffered { interval } = self.durability {
            if interval.is_zero() {
                return invalid("durability", "a buffered interval must be positive");
            }
        }
        if let Some(remote) = &self.remote {
            if !esdb_object_store::is_object_url(remote) {
                return invalid("remote", "must be an s3:// or file:// location");
            }
        }
        if self.max_data_len > esdb_format::v1::MAX_DATA_LEN {
            return invalid("max_data_len", "must be at most 1 GiB");
        }
        for name in self.covering_indexes.iter().flatten() {
            if name.is_empty() || name.len() > esdb_format::v1::MAX_KEY_PART_LEN || std::str::from_utf8(name).is_err() {
                return invalid("covering_indexes", "each name must be 1 to 65,535 bytes of UTF-8");
            }
        }
        Ok(())
    }
}
