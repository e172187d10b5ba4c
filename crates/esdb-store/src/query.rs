//! Queries across sealed partitions and the unsealed tail: [`Space`] and the merging [`Scan`].

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::event::{Event, LogEvent, Record};
use crate::partition::{Handle, Partition};
use crate::store::Store;

/// One space across the store: a snapshot of its partitions and its unsealed events taken when
/// [`Store::space`] was called. Same operations and order as [`esdb_read::Space`].
#[derive(Debug, Clone)]
pub struct Space {
    id: Bytes,
    /// `(partition, its view of the space)`, oldest sequence number first. Holding the handle
    /// keeps the store from deleting the file while the snapshot lives.
    parts: Vec<(Handle, esdb_read::Space)>,
    /// Unsealed events of the space, by (timestamp, offset).
    tail: Arc<[LogEvent]>,
}

impl Store {
    /// The space `id` across sealed partitions and the unsealed tail, or `None` if no event of
    /// it is stored. The result is a snapshot: events appended later are not in it.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition's catalog is corrupt.
    pub fn space(&self, id: impl AsRef<[u8]>) -> Result<Option<Space>> {
        let id = id.as_ref();
        self.reloading(|| self.space_once(id))
    }

    /// Every space of the store, in ascending order of id, with its event count and time
    /// bounds across partitions and the unsealed tail: what `esdb spaces --counts` prints for
    /// one file holding the same events.
    ///
    /// ```
    /// use esdb_store::{NewEvent, Store, StoreOptions};
    /// let dir = tempfile::tempdir()?;
    /// let store = Store::open(dir.path(), StoreOptions::default())?;
    /// store.append(NewEvent::new("b", 7, "x"))?;
    /// store.seal()?;
    /// store.append(NewEvent::new("a", 9, "y"))?;
    /// store.append(NewEvent::new("b", 3, "z"))?;
    /// let spaces = store.spaces()?;
    /// assert_eq!(spaces.iter().map(|s| (&s.id[..], s.events, s.min_ts, s.max_ts)).collect::<Vec<_>>(),
    ///            [(&b"a"[..], 1, 9, 9), (&b"b"[..], 2, 3, 7)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition's catalog is corrupt.
    pub fn spaces(&self) -> Result<Vec<SpaceSummary>> {
        self.reloading(|| self.spaces_once())
    }

    /// The index names used by any event of the store, in ascending order.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition's catalog is corrupt.
    pub fn index_names(&self) -> Result<Vec<Bytes>> {
        self.reloading(|| {
            let shared = &self.shared;
            let visible = shared.visible.load(Ordering::Acquire);
            let mut names = std::collections::BTreeSet::new();
            let partitions = {
                let view = shared.read_view();
                for id in view.tail.spaces(visible) {
                    for event in view.tail.space(&id, visible) {
                        names.extend(event.indexes.iter().map(|(name, _)| name.clone()));
                    }
                }
                view.partitions.clone()
            };
            for partition in partitions.iter() {
                let db = shared.cache.get(&shared.dir, partition)?;
                for space in db.spaces() {
                    let space = space.map_err(|source| partition_error(partition, source))?;
                    for name in space.index_names() {
                        let name = name.map_err(|source| partition_error(partition, source))?;
                        names.insert(Bytes::copy_from_slice(&name));
                    }
                }
            }
            Ok(names.into_iter().collect())
        })
    }

    /// Runs `query`, and in a read-only store again after a reload when a writer in another
    /// process deleted a partition after this reader loaded the manifest that names it.
    fn reloading<T>(&self, query: impl Fn() -> Result<T>) -> Result<T> {
        let mut attempts = 0;
        loop {
            match query() {
                Err(
                    Error::Partition { source: esdb_read::Error::Open { source, .. }, .. } | Error::Io { source, .. },
                ) if self.shared.read_only && source.kind() == std::io::ErrorKind::NotFound && attempts < 20 => {
                    attempts += 1;
                    self.shared.reload()?;
                }
                Err(Error::Remote { source, .. })
                    if self.shared.read_only
                        && matches!(&*source, esdb_object_store::Error::Fetch(fetch) if fetch.kind() == std::io::ErrorKind::NotFound)
                        && attempts < 20 =>
                {
                    attempts += 1;
                    self.shared.reload()?;
                }
                other => return other,
            }
        }
    }

    fn spaces_once(&self) -> Result<Vec<SpaceSummary>> {
        let shared = &self.shared;
        let visible = shared.visible.load(Ordering::Acquire);
        let mut summaries: BTreeMap<Bytes, SpaceSummary> = BTreeMap::new();
        let mut add = |id: &[u8], events: u64, min_ts: i64, max_ts: i64| match summaries.get_mut(id) {
            Some(summary) => {
                summary.events += events;
                summary.min_ts = summary.min_ts.min(min_ts);
                summary.max_ts = summary.max_ts.max(max_ts);
            }
            None => {
                let id = Bytes::copy_from_slice(id);
                summaries.insert(id.clone(), SpaceSummary { id, events, min_ts, max_ts });
            }
        };
        let (partitions, tail) = {
            let view = shared.read_view();
            let tail: Vec<(Bytes, Vec<LogEvent>)> =
                view.tail.spaces(visible).into_iter().map(|id| (id.clone(), view.tail.space(&id, visible))).collect();
            (view.partitions.clone(), tail)
        };
        for partition in partitions.iter() {
            let db = shared.cache.get(&shared.dir, partition)?;
            for space in db.spaces() {
                let space = space.map_err(|source| partition_error(partition, source))?;
                let counts = space.counts();
                add(space.id(), counts.n_events, counts.min_ts, counts.max_ts);
            }
        }
        for (id, events) in tail {
            let (min, max) =
                events.iter().fold((i64::MAX, i64::MIN), |(lo, hi), e| (lo.min(e.timestamp), hi.max(e.timestamp)));
            add(&id, events.len() as u64, min, max);
        }
        Ok(summaries.into_values().collect())
    }

    fn space_once(&self, id: &[u8]) -> Result<Option<Space>> {
        let shared = &self.shared;
        let visible = shared.visible.load(Ordering::Acquire);
        let (partitions, mut tail) = {
            let view = shared.read_view();
            (view.partitions.clone(), view.tail.space(id, visible))
        };
        tail.sort_by_key(|event| (event.timestamp, event.offset));
        let mut parts = Vec::new();
        for partition in partitions.iter() {
            let db = shared.cache.get(&shared.dir, partition)?;
            if let Some(space) = db.space(id).map_err(|source| partition_error(partition, source))? {
                parts.push((partition.clone(), space));
            }
        }
        // Oldest first: ties between inputs go to the lowest offsets.
        parts.sort_by_key(|(partition, _)| partition.meta.seq);
        if parts.is_empty() && tail.is_empty() {
            return Ok(None);
        }
        Ok(Some(Space { id: Bytes::copy_from_slice(id), parts, tail: tail.into() }))
    }
}

/// A space of the store with its event count and time bounds, from [`Store::spaces`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SpaceSummary {
    /// The space id.
    pub id: Bytes,
    /// Its events across partitions and the unsealed tail.
    pub events: u64,
    /// Its smallest timestamp.
    pub min_ts: i64,
    /// Its largest timestamp.
    pub max_ts: i64,
}

fn partition_error(partition: &Partition, source: esdb_read::Error) -> Error {
    Error::Partition { path: partition.path.clone(), source }
}

impl Space {
    /// The space id.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// Events of the space in the snapshot.
    pub fn len(&self) -> u64 {
        self.parts.iter().map(|(_, space)| space.len()).sum::<u64>() + self.tail.len() as u64
    }

    /// True when the snapshot holds no event of the space.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The events of `grouping`, oldest first, ties in offset order.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition is corrupt.
    pub fn scan(&self, grouping: impl AsRef<[u8]>) -> Result<Scan> {
        let grouping = grouping.as_ref();
        self.build(|space| space.scan(grouping), |event| event.grouping == grouping)
    }

    /// The events carrying index value `(name, value)`, oldest first, ties in offset order.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition is corrupt.
    pub fn scan_index(&self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Scan> {
        let (name, value) = (name.as_ref(), value.as_ref());
        self.build(
            |space| space.scan_index(name, value),
            |event| event.indexes.iter().any(|(n, v)| n == name && v == value),
        )
    }

    /// Every event of the space, oldest first, ties in offset order.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition is corrupt.
    pub fn events(&self) -> Result<Scan> {
        self.build(|space| space.events(), |_| true)
    }

    /// Every event of the space with its grouping and index pairs, in (timestamp, offset)
    /// order: the order of [`esdb_read::Space::records`] for one file holding the same events
    /// appended in offset order.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition is corrupt.
    pub fn records(&self) -> Result<Records> {
        let mut sources: Vec<RecordSource> = Vec::with_capacity(self.parts.len() + 1);
        for (partition, space) in &self.parts {
            let path = partition.path.clone();
            let records = space.records().map_err(|source| partition_error(partition, source))?;
            sources.push(Box::new(records.map(move |record| {
                record
                    .map(|record| Record {
                        timestamp: record.event.timestamp(),
                        grouping: record.grouping,
                        indexes: record.indexes,
                        data: record.event.into_data(),
                    })
                    .map_err(|source| Error::Partition { path: path.clone(), source })
            })));
        }
        let tail = self.tail.clone();
        sources.push(Box::new((0..tail.len()).map(move |idx| {
            let event = &tail[idx];
            Ok(Record {
                timestamp: event.timestamp,
                grouping: event.grouping.clone(),
                indexes: event.indexes.clone(),
                data: event.data.clone(),
            })
        })));
        Records::new(sources)
    }

    fn build(
        &self,
        scan: impl Fn(&esdb_read::Space) -> esdb_read::Result<esdb_read::Scan>,
        keep: impl Fn(&LogEvent) -> bool,
    ) -> Result<Scan> {
        let mut sources = Vec::with_capacity(self.parts.len() + 1);
        for (partition, space) in &self.parts {
            let scan = scan(space).map_err(|source| partition_error(partition, source))?;
            sources.push(Source::new(Inner::Partition { scan, path: partition.path.clone() }));
        }
        let tail: Arc<[Event]> = self
            .tail
            .iter()
            .filter(|event| keep(event))
            .map(|event| Event { timestamp: event.timestamp, data: event.data.clone() })
            .collect();
        let len = tail.len();
        sources.push(Source::new(Inner::Tail { events: tail, lo: 0, hi: len, front: 0, back: len }));
        Ok(Scan { sources, failed: false })
    }
}

type RecordSource = Box<dyn Iterator<Item = Result<Record>> + Send>;

/// The records of a space in (timestamp, offset) order, from [`Space::records`]: a heap merge of
/// one sorted input per partition (oldest first) and the tail, ties taken from the oldest input.
#[must_use = "records are read only when iterated"]
pub struct Records {
    sources: Vec<RecordSource>,
    /// The next record of each input.
    pending: Vec<Option<Record>>,
    /// `(timestamp, input)` of every pending record.
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    failed: bool,
}

impl std::fmt::Debug for Records {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records").field("inputs", &self.sources.len()).field("failed", &self.failed).finish()
    }
}

impl Records {
    fn new(mut sources: Vec<RecordSource>) -> Result<Records> {
        let mut pending = Vec::with_capacity(sources.len());
        let mut heap = BinaryHeap::with_capacity(sources.len());
        for (idx, source) in sources.iter_mut().enumerate() {
            let next = source.next().transpose()?;
            if let Some(record) = &next {
                heap.push(Reverse((record.timestamp, idx)));
            }
            pending.push(next);
        }
        Ok(Records { sources, pending, heap, failed: false })
    }
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.failed {
            return None;
        }
        let Reverse((_, idx)) = self.heap.pop()?;
        let record = self.pending[idx].take().expect("a heap entry has its record");
        match self.sources[idx].next().transpose() {
            Ok(next) => {
                if let Some(next) = &next {
                    self.heap.push(Reverse((next.timestamp, idx)));
                }
                self.pending[idx] = next;
                Some(Ok(record))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

/// The events of one query in (timestamp, offset) order: a merge of one scan per partition and
/// the tail. Double-ended (`.rev()` for newest first) and restricted by [`Scan::range`].
#[derive(Debug)]
#[must_use = "a scan reads nothing until it is iterated"]
pub struct Scan {
    sources: Vec<Source>,
    failed: bool,
}

#[derive(Debug)]
enum Inner {
    Partition {
        scan: esdb_read::Scan,
        path: PathBuf,
    },
    /// `events[lo..hi]` is the range; `front..back` what is left of it.
    Tail {
        events: Arc<[Event]>,
        lo: usize,
        hi: usize,
        front: usize,
        back: usize,
    },
}

/// One sorted input with one look-ahead event at each end.
#[derive(Debug)]
struct Source {
    inner: Inner,
    front: Option<Event>,
    back: Option<Event>,
}

impl Source {
    fn new(inner: Inner) -> Source {
        Source { inner, front: None, back: None }
    }

    fn pull(&mut self, forwards: bool) -> Option<Result<Event>> {
        match &mut self.inner {
            Inner::Partition { scan, path } => {
                let next = if forwards { scan.next() } else { scan.next_back() };
                next.map(|result| {
                    result
                        .map(|event| Event { timestamp: event.timestamp(), data: event.into_data() })
                        .map_err(|source| Error::Partition { path: path.clone(), source })
                })
            }
            Inner::Tail { events, front, back, .. } => {
                if front == back {
                    return None;
                }
                let idx = if forwards {
                    *front += 1;
                    *front - 1
                } else {
                    *back -= 1;
                    *back
                };
                Some(Ok(events[idx].clone()))
            }
        }
    }

    /// The next event from this end: the look-ahead, the inner scan, or finally the other end's
    /// look-ahead (the last event may sit there).
    fn peek(&mut self, forwards: bool) -> Result<Option<&Event>> {
        let empty = if forwards { self.front.is_none() } else { self.back.is_none() };
        if empty {
            let pulled = match self.pull(forwards) {
                Some(result) => Some(result?),
                None if forwards => self.back.take(),
                None => self.front.take(),
            };
            if forwards {
                self.front = pulled;
            } else {
                self.back = pulled;
            }
        }
        Ok(if forwards { self.front.as_ref() } else { self.back.as_ref() })
    }

    fn take(&mut self, forwards: bool) -> Option<Event> {
        if forwards {
            self.front.take()
        } else {
            self.back.take()
        }
    }

    fn restrict(&mut self, lo: Bound<i64>, hi: Bound<i64>) {
        self.front = None;
        self.back = None;
        let empty = Inner::Tail { events: Arc::new([]), lo: 0, hi: 0, front: 0, back: 0 };
        self.inner = match std::mem::replace(&mut self.inner, empty) {
            Inner::Partition { scan, path } => Inner::Partition { scan: scan.range((lo, hi)), path },
            Inner::Tail { events, lo: old_lo, hi: old_hi, .. } => {
                let start = events.partition_point(|event| match lo {
                    Bound::Included(t) => event.timestamp < t,
                    Bound::Excluded(t) => event.timestamp <= t,
                    Bound::Unbounded => false,
                });
                let end = events.partition_point(|event| match hi {
                    Bound::Included(t) => event.timestamp <= t,
                    Bound::Excluded(t) => event.timestamp < t,
                    Bound::Unbounded => true,
                });
                let lo = start.max(old_lo);
                let hi = end.min(old_hi).max(lo);
                Inner::Tail { events, lo, hi, front: lo, back: hi }
            }
        };
    }
}

impl Scan {
    /// Restricts the scan to timestamps in `range`, as [`esdb_read::Scan::range`]: partitions
    /// seek, the tail binary-searches. Calling it again narrows further; the scan restarts from
    /// the ends of the new range.
    pub fn range(mut self, range: impl RangeBounds<i64>) -> Scan {
        let (lo, hi) = (range.start_bound().cloned(), range.end_bound().cloned());
        for source in &mut self.sources {
            source.restrict(lo, hi);
        }
        self
    }

    fn step(&mut self, forwards: bool) -> Option<Result<Event>> {
        if self.failed {
            return None;
        }
        let mut best: Option<(usize, i64)> = None;
        for (idx, source) in self.sources.iter_mut().enumerate() {
            match source.peek(forwards) {
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
                Ok(None) => {}
                Ok(Some(event)) => {
                    let ts = event.timestamp;
                    // Ties: forwards the earliest source (lowest offsets) first, backwards the latest.
                    let better = match best {
                        None => true,
                        Some((_, best_ts)) if forwards => ts < best_ts,
                        Some((_, best_ts)) => ts >= best_ts,
                    };
                    if better {
                        best = Some((idx, ts));
                    }
                }
            }
        }
        let (idx, _) = best?;
        self.sources[idx].take(forwards).map(Ok)
    }
}

impl Iterator for Scan {
    type Item = Result<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step(true)
    }
}

impl DoubleEndedIterator for Scan {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(false)
    }
}

impl std::iter::FusedIterator for Scan {}
