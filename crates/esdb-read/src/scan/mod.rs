//! [`Scan`]: the double-ended iterator behind every query.
//!
//! A scan covers a window `[front, back)` of item numbers in one stream: events of a grouping, or
//! postings of an index value or timeline. The window is found from the time bounds by binary
//! search on the block index plus a search inside one block at each end, so a range query never
//! decodes blocks outside the range. Each end keeps its own decoded block, which is what makes
//! `next` and `next_back` on one iterator cheap to mix.

mod batches;
mod block;
mod covered;
mod cursors;
mod grouping;
mod postings;

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use esdb_format::v1::catalog::{IndexValueEntry, StreamRef};
use esdb_format::v2::covering::CoveringEntry;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::event::{Event, EventRef};

use block::DataBlock;
pub(crate) use block::IndexView;
use covered::CoveredStream;
use grouping::GroupingStream;
use postings::PostingBlock;
use postings::PostingStream;
pub(crate) use postings::{for_each_posting, Resolver};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// Which end of a scan's window an item is taken from.
pub(super) enum End {
    Front,
    Back,
}

#[derive(Debug)]
enum Kind {
    Empty,
    Grouping(Box<GroupingStream>),
    Postings(Box<PostingStream>),
    Covered(Box<CoveredStream>),
}

#[derive(Debug, Clone, Copy)]
enum State {
    Fresh,
    Running { front: u64, back: u64 },
    Done,
}

/// The events of one query, oldest first; `.rev()` (or `next_back`) for newest first.
///
/// Returned by [`Space::scan`](crate::Space::scan), [`Space::scan_index`](crate::Space::scan_index)
/// and [`Space::events`](crate::Space::events). Items are `Result`s because a block can turn out
/// to be corrupt halfway through a scan; after an error the scan yields `None` from both ends.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("f.esdb");
/// # let mut w = esdb_write::Writer::create(&path)?;
/// # for ts in 0..10 { w.add("s", ts, "", [("n", "v")], ts.to_string())?; }
/// # w.finish()?;
/// let db = esdb_read::Db::open(&path)?;
/// let space = db.space("s")?.expect("space exists");
/// let newest_first: Vec<i64> = space.scan("")?.range(3..6).rev().map(|e| e.map(|e| e.timestamp())).collect::<Result<_, _>>()?;
/// assert_eq!(newest_first, [5, 4, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a scan reads nothing until it is iterated"]
pub struct Scan {
    kind: Kind,
    lo: i128,
    hi: i128,
    state: State,
}

impl Scan {
    pub(crate) fn empty() -> Scan {
        Scan { kind: Kind::Empty, lo: i128::from(i64::MIN), hi: i128::from(i64::MAX) + 1, state: State::Fresh }
    }

    pub(crate) fn grouping(
        inner: Arc<Inner>,
        stream: StreamRef,
        n_events: u64,
        min_ts: i64,
        first_event: u64,
        referenced_at: u64,
    ) -> Result<Scan> {
        let index = IndexView::load(&inner, stream, n_events, min_ts, referenced_at)?;
        Ok(Scan {
            kind: Kind::Grouping(Box::new(GroupingStream { inner, index, first_event, front: None, back: None })),
            ..Scan::empty()
        })
    }

    pub(crate) fn postings(
        resolver: Resolver,
        stream: StreamRef,
        n_postings: u64,
        min_ts: i64,
        referenced_at: u64,
    ) -> Result<Scan> {
        let index = IndexView::load(&resolver.inner, stream, n_postings, min_ts, referenced_at)?;
        Ok(Scan { kind: Kind::Postings(Box::new(PostingStream::new(resolver, index))), ..Scan::empty() })
    }

    /// The events of a covered index value: `covered` (the covering catalog's entry, at
    /// `covered_at`) holds them, `value` (the index value's entry, at `value_at`) their ordinals
    /// among the space's `n_space_events`.
    pub(crate) fn covered(
        inner: Arc<Inner>,
        value: &IndexValueEntry,
        value_at: u64,
        covered: &CoveringEntry,
        covered_at: u64,
        n_space_events: u64,
    ) -> Result<Scan> {
        let (n_events, min_ts) = (value.stats.n_events, value.stats.min_ts);
        let index = IndexView::load(&inner, covered.stream, n_events, min_ts, covered_at)?;
        let postings = IndexView::load(&inner, value.stream, n_events, min_ts, value_at)?;
        let data = GroupingStream { inner, index, first_event: 0, front: None, back: None };
        Ok(Scan {
            kind: Kind::Covered(Box::new(CoveredStream { data, postings, n_space_events, front: None, back: None })),
            ..Scan::empty()
        })
    }

    /// Restricts the scan to events whose timestamp lies in `range`, e.g. `t0..t1` (inclusive
    /// start, exclusive end) or `..=t1`. Calling it again narrows further.
    ///
    /// The scan seeks: a binary search on the block index and one block at each end, never
    /// filtering event by event. It restarts the scan from the ends of the new range.
    pub fn range(mut self, range: impl RangeBounds<i64>) -> Scan {
        let lo = match range.start_bound() {
            Bound::Included(&ts) => i128::from(ts),
            Bound::Excluded(&ts) => i128::from(ts) + 1,
            Bound::Unbounded => i128::from(i64::MIN),
        };
        let hi = match range.end_bound() {
            Bound::Included(&ts) => i128::from(ts) + 1,
            Bound::Excluded(&ts) => i128::from(ts),
            Bound::Unbounded => i128::from(i64::MAX) + 1,
        };
        self.lo = self.lo.max(lo);
        self.hi = self.hi.min(hi);
        if !matches!(self.state, State::Done) {
            self.state = State::Fresh;
        }
        self
    }

    fn n_items(&self) -> u64 {
        match &self.kind {
            Kind::Empty => 0,
            Kind::Grouping(stream) => stream.index.n_items,
            Kind::Postings(stream) => stream.index.n_items,
            Kind::Covered(stream) => stream.data.index.n_items,
        }
    }

    fn lower_bound(&mut self, ts: i128, end: End) -> Result<u64> {
        if ts <= i128::from(i64::MIN) {
            return Ok(0);
        }
        if ts > i128::from(i64::MAX) {
            return Ok(self.n_items());
        }
        match &mut self.kind {
            Kind::Empty => Ok(0),
            Kind::Grouping(stream) => stream.lower_bound(ts, end),
            Kind::Postings(stream) => stream.lower_bound(ts, end),
            Kind::Covered(stream) => stream.data.lower_bound(ts, end),
        }
    }

    fn window(&mut self) -> Result<(u64, u64)> {
        match self.state {
            State::Running { front, back } => Ok((front, back)),
            State::Done => Ok((0, 0)),
            State::Fresh => {
                let (front, back) = if self.lo >= self.hi {
                    (0, 0)
                } else {
                    let front = self.lower_bound(self.lo, End::Front)?;
                    let back = self.lower_bound(self.hi, End::Back)?;
                    (front, back.max(front))
                };
                self.state = State::Running { front, back };
                Ok((front, back))
            }
        }
    }

    /// Takes the next item from `end` and returns its event.
    fn step(&mut self, end: End) -> Option<Result<EventRef<'_>>> {
        let (front, back) = match self.window() {
            Ok(window) => window,
            Err(err) => return self.fail(err),
        };
        if front >= back {
            return None;
        }
        let item = if end == End::Front { front } else { back - 1 };
        let Scan { kind, state, .. } = self;
        *state = if end == End::Front {
            State::Running { front: front + 1, back }
        } else {
            State::Running { front, back: back - 1 }
        };
        let located = match kind {
            Kind::Empty => unreachable!("an empty scan has an empty window"),
            Kind::Grouping(stream) => stream.block_for(item, end).map(|block| block.event_ref(item)),
            Kind::Postings(stream) => stream.next_event(item, (front, back), end),
            Kind::Covered(stream) => stream.event_ref(item, end),
        };
        if located.is_err() {
            *state = State::Done;
        }
        Some(located)
    }

    /// The next event, oldest first, borrowed from the scan instead of sharing its block: no
    /// reference count is touched, which makes this the fastest way to read many events whose
    /// data is used and dropped at once. The `Iterator` methods return owned [`Event`]s.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f.esdb");
    /// # let mut w = esdb_write::Writer::create(&path)?;
    /// # for ts in 0..10 { w.add("s", ts, "", [("n", "v")], ts.to_string())?; }
    /// # w.finish()?;
    /// let db = esdb_read::Db::open(&path)?;
    /// let mut scan = db.space("s")?.expect("space exists").scan("")?;
    /// let mut bytes = 0;
    /// while let Some(event) = scan.next_ref() {
    ///     bytes += event?.data().len();
    /// }
    /// assert_eq!(bytes, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn next_ref(&mut self) -> Option<Result<EventRef<'_>>> {
        self.advance(End::Front)
    }

    /// Like [`Scan::next_ref`], newest first: the borrowing counterpart of `next_back`.
    #[inline]
    pub fn next_back_ref(&mut self) -> Option<Result<EventRef<'_>>> {
        self.advance(End::Back)
    }

    fn fail<T>(&mut self, err: Error) -> Option<Result<T>> {
        self.state = State::Done;
        Some(Err(err))
    }
}

impl Scan {
    /// The next event from `end` when it lies in the grouping block already decoded there: the
    /// common case of a scan, served without the general path's dispatch.
    #[inline]
    fn step_in_block(&mut self, end: End) -> Option<EventRef<'_>> {
        let State::Running { front, back } = self.state else { return None };
        let Kind::Grouping(stream) = &self.kind else { return None };
        if front >= back {
            return None;
        }
        let (item, block) = match end {
            End::Front => (front, stream.front.as_ref()?),
            End::Back => (back - 1, stream.back.as_ref()?),
        };
        if !block.covers(item) {
            return None;
        }
        self.state = match end {
            End::Front => State::Running { front: front + 1, back },
            End::Back => State::Running { front, back: back - 1 },
        };
        Some(block.event_ref(item))
    }

    /// One step from `end`: the fast path when it applies, else the general one.
    #[inline]
    fn advance(&mut self, end: End) -> Option<Result<EventRef<'_>>> {
        // Checked before borrowing so that the general path can borrow `self` again.
        if self.step_in_block_applies(end) {
            return self.step_in_block(end).map(Ok);
        }
        self.step(end)
    }

    #[inline]
    fn step_in_block_applies(&self, end: End) -> bool {
        let (State::Running { front, back }, Kind::Grouping(stream)) = (&self.state, &self.kind) else { return false };
        front < back
            && match end {
                End::Front => stream.front.as_ref().is_some_and(|block| block.covers(*front)),
                End::Back => stream.back.as_ref().is_some_and(|block| block.covers(*back - 1)),
            }
    }
}

impl Iterator for Scan {
    type Item = Result<Event>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.advance(End::Front)?.map(|event| event.to_event()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let upper = match self.state {
            State::Fresh => self.n_items(),
            State::Running { front, back } => back - front,
            State::Done => 0,
        };
        (0, usize::try_from(upper).ok())
    }

    /// The number of events left, from the block index: no event is read (so a corrupt block
    /// further on is not noticed, as iterating would).
    fn count(mut self) -> usize {
        match self.window() {
            Ok((front, back)) => usize::try_from(back - front).unwrap_or(usize::MAX),
            Err(_) => 1,
        }
    }

    /// The newest event left: one step from the back.
    fn last(mut self) -> Option<Self::Item> {
        self.next_back()
    }

    /// Skips `n` events without reading them, then takes the next.
    fn nth(&mut self, n: usize) -> Option<Self::Item> {
        self.skip_items(n, End::Front)?;
        self.next()
    }
}

impl DoubleEndedIterator for Scan {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        Some(self.advance(End::Back)?.map(|event| event.to_event()))
    }

    /// Skips `n` events from the back without reading them, then takes the next.
    fn nth_back(&mut self, n: usize) -> Option<Self::Item> {
        self.skip_items(n, End::Back)?;
        self.next_back()
    }
}

impl Scan {
    /// Moves `end` of the window `n` events inwards; `None` once the scan has failed.
    fn skip_items(&mut self, n: usize, end: End) -> Option<()> {
        match self.window() {
            Err(err) => {
                self.state = State::Done;
                drop(err);
                None
            }
            Ok((front, back)) => {
                let skip = u64::try_from(n).unwrap_or(u64::MAX).min(back - front);
                self.state = match end {
                    End::Front => State::Running { front: front + skip, back },
                    End::Back => State::Running { front, back: back - skip },
                };
                Some(())
            }
        }
    }
}

impl std::iter::FusedIterator for Scan {}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use crate::Db;

    /// A scan starts on a large compressed block by decompressing only its first event; taking
    /// more events, from either end or after a seek, must see the whole block.
    #[test]
    fn partly_decompressed_first_blocks_complete_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prefix.esdb");
        let mut writer = esdb_write::Writer::create(&path).unwrap();
        let model: Vec<(i64, Vec<u8>)> = (0..2000i64)
            .map(|seq| {
                (seq / 3, format!("{{\"seq\":{seq},\"pad\":\"{}\"}}", "x".repeat((seq % 90) as usize)).into_bytes())
            })
            .collect();
        for (ts, data) in &model {
            writer.add("s", *ts, "g", [("k", "v")], data).unwrap();
        }
        writer.finish().unwrap();
        // The map borrows blocks from memory; a plain source hands out each block as read.
        let bytes = bytes::Bytes::from(std::fs::read(&path).unwrap());
        for db in [Db::open(&path).unwrap(), Db::from_source(std::sync::Arc::new(bytes)).unwrap()] {
            check_prefix_completion(&db, &model);
        }
    }

    fn check_prefix_completion(db: &Db, model: &[(i64, Vec<u8>)]) {
        let space = db.space("s").unwrap().unwrap();
        let owned = |scan: super::Scan| {
            scan.map(|e| e.map(|e| (e.timestamp(), e.data().to_vec()))).collect::<crate::Result<Vec<_>>>().unwrap()
        };

        let mut scan = space.scan("g").unwrap();
        let first = scan.next_ref().unwrap().unwrap();
        assert_eq!((first.timestamp(), first.data().to_vec()), model[0]);
        let mut got = vec![model[0].clone()];
        got.extend(owned(scan));
        assert_eq!(got, model);

        let mut scan = space.scan("g").unwrap();
        let first = scan.next().unwrap().unwrap();
        let last = scan.next_back().unwrap().unwrap();
        assert_eq!((first.timestamp(), first.data().to_vec()), model[0]);
        assert_eq!((last.timestamp(), last.data().to_vec()), model[model.len() - 1]);
        assert_eq!(owned(scan), model[1..model.len() - 1]);

        // Skipping ahead into a large first block wants an event past its decompressed prefix.
        // See: issue 16 (`nth` over a large compressed block read past the prefix and panicked).
        for n in [0, 1, 7, 500, 1999, 2000] {
            let got = space.scan("g").unwrap().nth(n).map(|e| e.map(|e| (e.timestamp(), e.data().to_vec())).unwrap());
            assert_eq!(got, model.get(n).cloned(), "nth({n})");
            let got =
                space.scan("g").unwrap().nth_back(n).map(|e| e.map(|e| (e.timestamp(), e.data().to_vec())).unwrap());
            assert_eq!(got, model.len().checked_sub(n + 1).map(|at| model[at].clone()), "nth_back({n})");
        }
        assert_eq!(space.scan("g").unwrap().count(), model.len());

        for (lo, hi) in [(0, 1), (10, 400), (333, 334), (650, 700)] {
            let want: Vec<_> = model.iter().filter(|e| (lo..hi).contains(&e.0)).cloned().collect();
            assert_eq!(owned(space.scan("g").unwrap().range(lo..hi)), want, "range {lo}..{hi}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Index scans read postings' events through per-grouping cursors or through batches.
        /// With a 100-byte budget the cursors drop their blocks at nearly every event, and most
        /// batches are shortened, from whichever end they were taken for. Every order of taking
        /// events from both ends, owned or borrowed, must still give the model's events.
        #[test]
        fn posting_resolutions_keep_posting_order(
            events in proptest::collection::vec((0i64..50, 0u8..4, 0usize..60, any::<bool>()), 1..300),
            steps in proptest::collection::vec((any::<bool>(), any::<bool>()), 0..400),
            range in (0i64..50, 0i64..60),
            cursors in any::<bool>(),
            early_index in any::<bool>(),
            small_budget in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("cursors.esdb");
            let mut writer = esdb_write::Writer::create(&path).unwrap();
            let mut model = Vec::new();
            for (seq, &(ts, grouping, len, indexed)) in events.iter().enumerate() {
                let data = format!("{seq:0len$}");
                let pairs: Vec<(&str, &str)> = if indexed { vec![("k", "v")] } else { Vec::new() };
                writer.add("s", ts, [b'g', grouping], pairs, &data).unwrap();
                if indexed {
                    model.push((ts, seq, data.into_bytes()));
                }
            }
            writer.finish().unwrap();
            model.sort();
            let model: Vec<(i64, Vec<u8>)> =
                model.into_iter().filter(|e| (range.0..range.1).contains(&e.0)).map(|(ts, _, data)| (ts, data)).collect();

            let db = Db::open(&path).unwrap();
            let space = db.space("s").unwrap().unwrap();
            let mut scan = space.scan_index("k", "v").unwrap().range(range.0..range.1);
            // Half the cursor cases find groupings through the grouping index from the first event.
            let budget = if small_budget { 100 } else { usize::MAX };
            if let super::Kind::Postings(stream) = &mut scan.kind {
                stream.resolution = if cursors {
                    let mut ends = super::postings::CursorEnds::default();
                    for cursors in [&mut ends.front_cursors, &mut ends.back_cursors] {
                        cursors.budget = budget;
                        cursors.index_after = if early_index { 0 } else { u32::MAX };
                    }
                    super::postings::Resolution::Cursors(Box::new(ends))
                } else {
                    let batches = super::batches::Batches { max_bytes: budget, ..Default::default() };
                    super::postings::Resolution::Batches(Box::new(batches))
                };
            }
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for &(from_front, borrowed) in steps.iter().chain(std::iter::repeat(&(true, false))) {
                let event = match (from_front, borrowed) {
                    (true, false) => scan.next(),
                    (false, false) => scan.next_back(),
                    (true, true) => scan.next_ref().map(|e| e.map(|e| e.to_event())),
                    (false, true) => scan.next_back_ref().map(|e| e.map(|e| e.to_event())),
                };
                let Some(event) = event else { break };
                let event = event.unwrap();
                let item = (event.timestamp(), event.data().to_vec());
                if from_front { front.push(item) } else { back.push(item) }
            }
            back.reverse();
            front.extend(back);
            prop_assert_eq!(front, model);
        }
    }
}
