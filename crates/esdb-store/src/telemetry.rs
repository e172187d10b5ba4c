//! What the store counts: the [`Metrics`] snapshot of [`Store::metrics`], and the same figures
//! through the [`metrics`] crate facade, so that a host application exports them with whatever
//! recorder it installs (a Prometheus exporter, say; `examples/prometheus.rs`). Without a
//! recorder the facade calls do nothing.
//!
//! Names (all with the label `store`, the store directory):
//! - counters `esdb_store_appended_events_total`, `esdb_store_appended_bytes_total`,
//!   `esdb_store_fsyncs_total`, `esdb_store_seals_total`, `esdb_store_compactions_total`,
//!   `esdb_store_append_stalls_total`, `esdb_store_errors_total`;
//! - histograms (seconds) `esdb_store_fsync_seconds`, `esdb_store_seal_seconds`,
//!   `esdb_store_compaction_seconds`;
//! - gauges `esdb_store_tail_events`, `esdb_store_tail_bytes`, `esdb_store_tail_memory_bytes`,
//!   `esdb_store_durable_lag_events`, `esdb_store_partitions`, `esdb_store_followers`,
//!   `esdb_store_follower_lag_events`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::store::{lock, Store};

/// A snapshot of what a store did since it was opened (counters) and of its state now (gauges),
/// from [`Store::metrics`]. Counters count this process's work on the store.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// Events appended (retries the dedupe window absorbed not counted).
    pub appended_events: u64,
    /// Log bytes of those events.
    pub appended_bytes: u64,
    /// fsyncs of the log.
    pub fsyncs: u64,
    /// Time spent in them.
    pub fsync_time: Duration,
    /// The longest one.
    pub fsync_max: Duration,
    /// The offset the next event gets.
    pub next_offset: u64,
    /// Events appended but not yet known durable.
    pub durable_lag: u64,
    /// Unsealed events.
    pub tail_events: u64,
    /// Their log bytes.
    pub tail_bytes: u64,
    /// Memory they take, by the estimate checked against the memory budget.
    pub tail_memory: u64,
    /// What the tail may take before appends wait.
    pub tail_limit: u64,
    /// Partitions.
    pub partitions: u64,
    /// Seals completed, and the time they took.
    pub seals: u64,
    /// Time spent sealing.
    pub seal_time: Duration,
    /// Compactions that merged something, and the time they took.
    pub compactions: u64,
    /// Time spent compacting.
    pub compaction_time: Duration,
    /// Appends that had to wait for a seal (backpressure).
    pub append_stalls: u64,
    /// Failures of background work (fsync, automatic seal or compaction, watermark).
    pub errors: u64,
    /// Readers following the log ([`Store::follow`]) in this process.
    pub followers: u64,
    /// How far the slowest of them is behind the next offset, in events.
    pub follower_lag: u64,
}

/// The store's counters and its handles on the facade.
#[derive(Debug)]
pub(crate) struct Instruments {
    appended_events: (AtomicU64, Counter),
    appended_bytes: (AtomicU64, Counter),
    fsyncs: (AtomicU64, Counter),
    fsync_nanos: AtomicU64,
    fsync_max_nanos: AtomicU64,
    fsync_seconds: Histogram,
    seals: (AtomicU64, Counter),
    seal_nanos: AtomicU64,
    seal_seconds: Histogram,
    compactions: (AtomicU64, Counter),
    compaction_nanos: AtomicU64,
    compaction_seconds: Histogram,
    stalls: (AtomicU64, Counter),
    errors: (AtomicU64, Counter),
    tail_events: Gauge,
    tail_bytes: Gauge,
    tail_memory: Gauge,
    durable_lag: Gauge,
    partitions: Gauge,
    followers: Gauge,
    follower_lag: Gauge,
    /// Positions of the followers alive.
    positions: Mutex<Vec<Weak<AtomicU64>>>,
}

impl Instruments {
    pub(crate) fn new(store: &str) -> Instruments {
        let label = [("store", store.to_owned())];
        let counter = |name: &'static str| (AtomicU64::new(0), metrics::counter!(name, &label));
        Instruments {
            appended_events: counter("esdb_store_appended_events_total"),
            appended_bytes: counter("esdb_store_appended_bytes_total"),
            fsyncs: counter("esdb_store_fsyncs_total"),
            fsync_nanos: AtomicU64::new(0),
            fsync_max_nanos: AtomicU64::new(0),
            fsync_seconds: metrics::histogram!("esdb_store_fsync_seconds", &label),
            seals: counter("esdb_store_seals_total"),
            seal_nanos: AtomicU64::new(0),
            seal_seconds: metrics::histogram!("esdb_store_seal_seconds", &label),
            compactions: counter("esdb_store_compactions_total"),
            compaction_nanos: AtomicU64::new(0),
            compaction_seconds: metrics::histogram!("esdb_store_compaction_seconds", &label),
            stalls: counter("esdb_store_append_stalls_total"),
            errors: counter("esdb_store_errors_total"),
            tail_events: metrics::gauge!("esdb_store_tail_events", &label),
            tail_bytes: metrics::gauge!("esdb_store_tail_bytes", &label),
            tail_memory: metrics::gauge!("esdb_store_tail_memory_bytes", &label),
            durable_lag: metrics::gauge!("esdb_store_durable_lag_events", &label),
            partitions: metrics::gauge!("esdb_store_partitions", &label),
            followers: metrics::gauge!("esdb_store_followers", &label),
            follower_lag: metrics::gauge!("esdb_store_follower_lag_events", &label),
            positions: Mutex::new(Vec::new()),
        }
    }

    fn add((count, counter): &(AtomicU64, Counter), n: u64) {
        count.fetch_add(n, Ordering::Relaxed);
        counter.increment(n);
    }

    /// `events` appended, `bytes` of log; the tail now holds `tail` (events, bytes, memory).
    pub(crate) fn appended(&self, events: u64, bytes: u64, tail: (u64, u64, u64)) {
        Self::add(&self.appended_events, events);
        Self::add(&self.appended_bytes, bytes);
        self.tail(tail);
    }

    /// The tail holds `(events, bytes, memory)`.
    pub(crate) fn tail(&self, (events, bytes, memory): (u64, u64, u64)) {
        self.tail_events.set(events as f64);
        self.tail_bytes.set(bytes as f64);
        self.tail_memory.set(memory as f64);
    }

    /// An fsync of the log took `took`; `lag` events are appended but not known durable.
    pub(crate) fn fsynced(&self, took: Duration, lag: u64) {
        Self::add(&self.fsyncs, 1);
        let nanos = took.as_nanos() as u64;
        self.fsync_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.fsync_max_nanos.fetch_max(nanos, Ordering::Relaxed);
        self.fsync_seconds.record(took.as_secs_f64());
        self.durable_lag.set(lag as f64);
    }

    /// A seal took `took`; the store has `partitions` now.
    pub(crate) fn sealed(&self, took: Duration, partitions: usize) {
        Self::add(&self.seals, 1);
        self.seal_nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.seal_seconds.record(took.as_secs_f64());
        self.partitions.set(partitions as f64);
    }

    /// A compaction took `took`; the store has `partitions` now.
    pub(crate) fn compacted(&self, took: Duration, partitions: usize) {
        Self::add(&self.compactions, 1);
        self.compaction_nanos.fetch_add(took.as_nanos() as u64, Ordering::Relaxed);
        self.compaction_seconds.record(took.as_secs_f64());
        self.partitions.set(partitions as f64);
    }

    /// The store has `partitions` now.
    pub(crate) fn partitions(&self, partitions: usize) {
        self.partitions.set(partitions as f64);
    }

    /// An append waited for room.
    pub(crate) fn stalled(&self) {
        Self::add(&self.stalls, 1);
    }

    /// Background work failed.
    pub(crate) fn failed(&self) {
        Self::add(&self.errors, 1);
    }

    /// A new follower, at `position`: the reader keeps the returned position up to date.
    pub(crate) fn follower(&self, position: u64) -> Arc<AtomicU64> {
        let position = Arc::new(AtomicU64::new(position));
        let mut positions = lock(&self.positions);
        positions.retain(|p| p.strong_count() > 0);
        positions.push(Arc::downgrade(&position));
        self.followers.set(positions.len() as f64);
        position
    }

    /// Sets the follower gauges for a log whose next offset is `next_offset`.
    pub(crate) fn refresh_followers(&self, next_offset: u64) {
        let (followers, slowest) = self.followers_now();
        self.followers.set(followers as f64);
        self.follower_lag.set(slowest.map_or(0, |position| next_offset.saturating_sub(position)) as f64);
    }

    /// `(followers alive, smallest position)`.
    fn followers_now(&self) -> (u64, Option<u64>) {
        let mut positions = lock(&self.positions);
        positions.retain(|p| p.strong_count() > 0);
        let min = positions.iter().filter_map(Weak::upgrade).map(|p| p.load(Ordering::Relaxed)).min();
        (positions.len() as u64, min)
    }
}

fn nanos(counter: &AtomicU64) -> Duration {
    Duration::from_nanos(counter.load(Ordering::Relaxed))
}

impl Store {
    /// What the store did since it was opened and its state now; the same figures go to the
    /// [`metrics`] facade as they change (see the module list in `docs/STORE.md`, "Metrics").
    ///
    /// ```
    /// use esdb_store::{NewEvent, Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// store.append(NewEvent::new("a", 1, "x"))?;
    /// store.sync()?;
    /// let metrics = store.metrics();
    /// assert_eq!((metrics.appended_events, metrics.tail_events, metrics.durable_lag), (1, 1, 0));
    /// assert!(metrics.fsyncs >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(&self) -> Metrics {
        let shared = &self.shared;
        let instruments = &shared.instruments;
        let next_offset = self.next_offset();
        let durable = self.durable_through().map_or(0, |offset| offset + 1);
        let (tail_events, tail_bytes, tail_memory, partitions) = {
            let view = shared.read_view();
            (view.tail.len(), view.tail.bytes(), view.tail.memory(), view.partitions.len() as u64)
        };
        let (followers, slowest) = instruments.followers_now();
        let load = |(count, _): &(AtomicU64, Counter)| count.load(Ordering::Relaxed);
        Metrics {
            appended_events: load(&instruments.appended_events),
            appended_bytes: load(&instruments.appended_bytes),
            fsyncs: load(&instruments.fsyncs),
            fsync_time: nanos(&instruments.fsync_nanos),
            fsync_max: nanos(&instruments.fsync_max_nanos),
            next_offset,
            durable_lag: next_offset.saturating_sub(durable),
            tail_events,
            tail_bytes,
            tail_memory,
            tail_limit: shared.options.tail_limit(),
            partitions,
            seals: load(&instruments.seals),
            seal_time: nanos(&instruments.seal_nanos),
            compactions: load(&instruments.compactions),
            compaction_time: nanos(&instruments.compaction_nanos),
            append_stalls: load(&instruments.stalls),
            errors: load(&instruments.errors),
            followers,
            follower_lag: slowest.map_or(0, |position| next_offset.saturating_sub(position)),
        }
    }
}
