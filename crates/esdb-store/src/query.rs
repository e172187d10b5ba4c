//! Queries across sealed partitions and the unsealed tail: [`Space`] and the merging [`Scan`].

use std::ops::{Bound, RangeBounds};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::event::{Event, LogEvent};
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
    tail: Arc<[Arc<LogEvent>]>,
}

impl Store {
    /// The space `id` across sealed partitions and the unsealed tail, or `None` if no event of
    /// it is stored. The result is a snapshot: events appended later are not in it.
    ///
    /// # Errors
    /// [`Error::Partition`] if a partition's catalog is corrupt.
    pub fn space(&self, id: impl AsRef<[u8]>) -> Result<Option<Space>> {
        let id = id.as_ref();
        let mut attempts = 0;
        loop {
            match self.space_once(id) {
                // A writer in another process deleted a partition after this reader loaded the
                // manifest that names it: load the new one.
                Err(
                    Error::Partition { source: esdb_read::Error::Open { source, .. }, .. } | Error::Io { source, .. },
                ) if self.shared.read_only && source.kind() == std::io::ErrorKind::NotFound && attempts < 20 => {
                    attempts += 1;
                    self.shared.reload()?;
                }
                other => return other,
            }
        }
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
        if parts.is_empty() && tail.is_empty() {
            return Ok(None);
        }
        Ok(Some(Space { id: Bytes::copy_from_slice(id), parts, tail: tail.into() }))
    }
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
