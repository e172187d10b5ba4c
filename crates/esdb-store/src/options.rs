//! [`StoreOptions`]: durability, segment and seal thresholds, partition windows, retention.

use std::time::Duration;

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
pub struct LogRetention {
    /// Delete a sealed segment once its last event was appended longer ago than this.
    pub max_age: Option<Duration>,
    /// Delete the oldest sealed segments while the log is larger than this many bytes.
    pub max_bytes: Option<u64>,
}

/// How long sealed partitions stay queryable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartitionRetention {
    /// Delete a partition once its whole time window lies more than this many timestamp units
    /// before the newest sealed timestamp. Timestamps are in the caller's unit, so this is too.
    pub max_age: Option<i64>,
}

/// Both retention policies, applied by [`Store::retain`](crate::Store::retain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    /// Replayability of the log.
    pub log: LogRetention,
    /// Queryability of sealed history.
    pub partitions: PartitionRetention,
}

/// Options of [`Store::open`](crate::Store::open). Every field has a default; build with
/// struct update syntax:
///
/// ```
/// use esdb_store::{Durability, StoreOptions};
/// let options = StoreOptions { durability: Durability::Sync, ..StoreOptions::default() };
/// assert_eq!(options.partition_window, 86_400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// When `append` returns. Default: `Buffered` with a 100 ms interval.
    pub durability: Durability,
    /// A log segment is closed and a new one started past this many bytes. Default: 64 MiB.
    pub segment_bytes: u64,
    /// Width of a partition's time window, in timestamp units. Default: 86 400 (one day of
    /// seconds). Fixed when the store is created; reopening keeps the stored value.
    pub partition_window: i64,
    /// Seal automatically once this many bytes of log are unsealed. Default: 64 MiB. The unsealed
    /// tail is held in memory, so this also bounds the store's memory. `None`: only on `seal()`.
    pub seal_after_bytes: Option<u64>,
    /// Seal automatically once the oldest unsealed event was appended this long ago. Default:
    /// 10 minutes. `None`: never by age.
    pub seal_after_age: Option<Duration>,
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Buffered { interval: Duration::from_millis(100) },
            segment_bytes: 64 << 20,
            partition_window: 86_400,
            seal_after_bytes: Some(64 << 20),
            seal_after_age: Some(Duration::from_secs(600)),
            dedupe_window: 1_000_000,
            seal_memory_budget: 64 << 20,
            retention: Retention::default(),
            max_data_len: 64 << 20,
            max_open_partitions: 256,
        }
    }
}

impl StoreOptions {
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let invalid =
            |option: &'static str, reason: &str| Err(crate::Error::InvalidOption { option, reason: reason.to_owned() });
        if self.segment_bytes < 4096 {
            return invalid("segment_bytes", "must be at least 4096");
        }
        if self.partition_window < 1 {
            return invalid("partition_window", "must be at least 1");
        }
        if let Durability::Buffered { interval } = self.durability {
            if interval.is_zero() {
                return invalid("durability", "a buffered interval must be positive");
            }
        }
        if self.max_data_len > esdb_format::v1::MAX_DATA_LEN {
            return invalid("max_data_len", "must be at most 1 GiB");
        }
        Ok(())
    }
}
