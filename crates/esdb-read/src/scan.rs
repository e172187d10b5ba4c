//! [`Scan`]: the double-ended iterator behind every query.
//!
//! A scan covers a window `[front, back)` of item numbers in one stream: events of a grouping, or
//! postings of an index value or timeline. The window is found from the time bounds by binary
//! search on the block index plus a search inside one block at each end, so a range query never
//! decodes blocks outside the range. Each end keeps its own decoded block, which is what makes
//! `next` and `next_back` on one iterator cheap to mix.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use bytes::Bytes;
use esdb_format::v1::block_index::{BlockIndex, ENTRY_LEN};
use esdb_format::v1::catalog::StreamRef;
use esdb_format::v1::data_block::{self, EventSpan};
use esdb_format::v1::frame::{self, Codec, Handle};
use esdb_format::v1::grouping_table::GroupingTable;
use esdb_format::v1::posting_block;
use esdb_format::DecodeError;

use crate::db::{Inner, Stored, StoredBlock};
use crate::error::{Error, Result};
use crate::event::{Event, EventRef};

/// Decoded data blocks a [`Resolver`] keeps, most recently used first.
const RESOLVER_BLOCKS: usize = 8;
/// Block indexes a [`Resolver`] keeps.
const RESOLVER_INDEXES: usize = 16;
/// Postings an index scan resolves in its first batch at each end; every next batch is
/// [`BATCH_GROWTH`] times larger, up to [`MAX_BATCH_POSTINGS`]. Small first batches keep the
/// first events quick to arrive; large later ones decode each data block once for many events.
const FIRST_BATCH_POSTINGS: u64 = 16;
const BATCH_GROWTH: u64 = 4;
const MAX_BATCH_POSTINGS: u64 = 1 << 18;
/// Event bytes one batch copies at most (beyond its last event); a batch that would copy more
/// is retried with half as many postings. With one batch per end, an index scan or
/// [`Space::events`](crate::Space::events) holds at most twice this (64 MiB) of event data.
/// Larger batches decode each data block for more events: on 1M events over 20,000 groupings,
/// 32 MiB batches read the merged timeline 1.9x as fast as 8 MiB ones.
const MAX_BATCH_BYTES: usize = 32 << 20;

/// A stream's block index, checked against the stream's item count.
#[derive(Debug, Clone)]
pub(crate) struct IndexView {
    payload: IndexPayload,
    at: u64,
    n_items: u64,
}

/// The bytes of a block index: its block, or for a one-block stream its one entry, held inline
/// so that making a scan of a small grouping allocates nothing (scans are often made on one
/// thread and dropped on another).
#[derive(Debug, Clone)]
enum IndexPayload {
    Block(Bytes),
    Single([u8; ENTRY_LEN]),
}

impl IndexPayload {
    fn bytes(&self) -> &[u8] {
        match self {
            IndexPayload::Block(bytes) => bytes,
            IndexPayload::Single(entry) => entry,
        }
    }
}

impl IndexView {
    /// The block index of `stream`, whose `n_items` items start at `min_ts`; a one-block stream
    /// has no index block, so its one entry is derived.
    pub(crate) fn load(
        inner: &Inner,
        stream: StreamRef,
        n_items: u64,
        min_ts: i64,
        referenced_at: u64,
    ) -> Result<IndexView> {
        let (payload, at) = match stream.single_block_entry(min_ts) {
            Some(entry) => (IndexPayload::Single(entry.to_bytes()), referenced_at),
            None => (
                IndexPayload::Block(inner.read_block(stream.handle, "block index", referenced_at)?),
                stream.handle.offset,
            ),
        };
        BlockIndex::decode(payload.bytes(), at, stream.n_blocks)?.check_start(n_items)?;
        Ok(IndexView { payload, at, n_items })
    }

    pub(crate) fn index(&self) -> BlockIndex<'_> {
        BlockIndex::decode(self.payload.bytes(), self.at, (self.payload.bytes().len() / ENTRY_LEN) as u64)
            .expect("checked by IndexView::load")
    }

    /// First item and item count of block `idx`.
    pub(crate) fn block_items(&self, idx: usize) -> Result<(u64, u64)> {
        Ok(self.index().block_items(idx, self.n_items)?)
    }
}

/// Compressed data blocks at least this long (raw) are first decompressed only as far as their
/// first event when a scan starts on them: what a lookup of the first event needs.
const PREFIX_MIN_BLOCK: usize = 8192;
/// The first prefix tried; it grows fourfold until it holds the block's event lengths.
const FIRST_PREFIX: usize = 2048;

/// One decoded data block.
#[derive(Debug)]
struct DataBlock {
    block_idx: usize,
    first_item: u64,
    /// Ordinal within the space of the grouping's first event.
    first_event: u64,
    payload: Bytes,
    spans: Vec<EventSpan>,
    /// Leading events whose data `payload` holds: all of them, unless the block was only
    /// decompressed in part, in which case `rest` keeps what completes it.
    n_ready: u64,
    rest: Option<Rest>,
}

/// What completes a block decompressed only in part: its stored payload, checksum already checked.
#[derive(Debug)]
struct Rest {
    /// The payload as read, or `None` when it lies in the file in memory at `handle`.
    read: Option<Bytes>,
    handle: Handle,
    raw_len: usize,
}

impl DataBlock {
    fn load(
        inner: &Inner,
        index: &IndexView,
        block_idx: usize,
        first_event: u64,
        previous: Option<DataBlock>,
    ) -> Result<DataBlock> {
        let (mut spans, reuse) = match previous {
            Some(block) => (block.spans, Some(block.payload)),
            None => (Vec::new(), None),
        };
        let (first_item, n_items) = index.block_items(block_idx)?;
        let entry = index.index().entry(block_idx);
        let payload =
            inner.read_block_reusing(entry.block, "data block", index.index().entry_offset(block_idx), reuse)?;
        data_block::decode_for(inner.header.major, &payload, entry.block.offset, entry.first_ts, n_items, &mut spans)?;
        let n_ready = spans.len() as u64;
        Ok(DataBlock { block_idx, first_item, first_event, payload, spans, n_ready, rest: None })
    }

    /// Like [`DataBlock::load`], but a large compressed block is decompressed only as far as its
    /// first event; [`DataBlock::complete`] does the rest when a later event is wanted.
    fn load_first(inner: &Inner, index: &IndexView, block_idx: usize, first_event: u64) -> Result<DataBlock> {
        let entry = index.index().entry(block_idx);
        let (stored, raw_len) =
            match inner.read_checked(entry.block, "data block", index.index().entry_offset(block_idx))? {
                StoredBlock::Compressed { codec: Codec::Lz4, stored, raw_len } if raw_len >= PREFIX_MIN_BLOCK => {
                    (stored, raw_len)
                }
                _ => return DataBlock::load(inner, index, block_idx, first_event, None),
            };
        let (first_item, n_items) = index.block_items(block_idx)?;
        let offset = entry.block.offset;
        let mut spans = Vec::new();
        let mut want = FIRST_PREFIX;
        let prefix = loop {
            let mut prefix = vec![0u8; want];
            frame::decompress_prefix(stored.bytes(), offset, &mut prefix)?;
            let major = inner.header.major;
            match data_block::decode_prefix_for(
                major,
                &prefix,
                raw_len as u64,
                offset,
                entry.first_ts,
                n_items,
                &mut spans,
            ) {
                Ok(()) => break prefix,
                Err(DecodeError::Truncated { .. }) if want < raw_len => want = (want * 4).min(raw_len),
                Err(err) => return Err(err.into()),
            }
        };
        let first_end = spans[0].end as usize;
        let prefix = if first_end > prefix.len() {
            let mut longer = vec![0u8; first_end];
            frame::decompress_prefix(stored.bytes(), offset, &mut longer)?;
            longer
        } else {
            prefix
        };
        let n_ready = spans.partition_point(|span| span.end as usize <= prefix.len()) as u64;
        Ok(DataBlock {
            block_idx,
            first_item,
            first_event,
            payload: Bytes::from(prefix),
            spans,
            n_ready,
            rest: Some(Rest {
                read: match stored {
                    Stored::InMemory(_) => None,
                    Stored::Read(bytes) => Some(bytes),
                },
                handle: entry.block,
                raw_len,
            }),
        })
    }

    /// Decompresses the rest of a block loaded by [`DataBlock::load_first`].
    fn complete(&mut self, inner: &Inner) -> Result<()> {
        if let Some(rest) = &self.rest {
            let stored = rest.read.as_deref().unwrap_or_else(|| inner.in_memory(rest.handle));
            self.payload =
                crate::db::decompress_reusing(Codec::Lz4, stored, rest.raw_len, rest.handle.offset, None, None)?;
            self.n_ready = self.spans.len() as u64;
            self.rest = None;
        }
        Ok(())
    }

    fn covers(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.n_ready
    }

    /// Whether `item` is one of the block's events, its data decompressed or not.
    fn holds(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.spans.len() as u64
    }

    fn event(&self, item: u64) -> Event {
        self.event_ref(item).to_event()
    }

    fn event_ref(&self, item: u64) -> EventRef<'_> {
        EventRef {
            payload: &self.payload,
            span: self.spans[(item - self.first_item) as usize],
            ordinal: self.first_event + item,
        }
    }
}

/// One decoded posting block.
#[derive(Debug)]
struct PostingBlock {
    first_item: u64,
    postings: Vec<u64>,
}

impl PostingBlock {
    fn covers(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.postings.len() as u64
    }

    /// The block of `index` holding posting `item`: `cached` when it does, else decoded into
    /// `cached`'s place (reusing its buffer).
    fn for_item<'c>(
        inner: &Inner,
        index: &IndexView,
        n_space_events: u64,
        item: u64,
        cached: &'c mut Option<PostingBlock>,
    ) -> Result<&'c PostingBlock> {
        if !cached.as_ref().is_some_and(|block| block.covers(item)) {
            let block_idx = index.index().block_of_item(item);
            let (first_item, n_items) = index.block_items(block_idx)?;
            let entry = index.index().entry(block_idx);
            let payload = inner.read_block(entry.block, "posting block", index.index().entry_offset(block_idx))?;
            let mut postings = cached.take().map(|block| block.postings).unwrap_or_default();
            posting_block::decode(&payload, entry.block.offset, n_items, n_space_events, &mut postings)?;
            *cached = Some(PostingBlock { first_item, postings });
        }
        Ok(cached.as_ref().expect("filled above"))
    }
}

/// The events of a run of postings, resolved together: in event-number order, so that each data
/// block is decoded once for all of its events in the run, then kept in posting order.
#[derive(Debug, Default)]
struct Batch {
    /// Item number of the first posting of the run.
    first_item: u64,
    /// The events' data, copied out of their blocks.
    arena: Bytes,
    /// Per posting: timestamp and position in `arena`.
    spans: Vec<EventSpan>,
    /// Per posting: the event's ordinal in the space.
    ordinals: Vec<u64>,
}

impl Batch {
    fn covers(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.spans.len() as u64
    }

    fn event_ref(&self, item: u64) -> EventRef<'_> {
        let idx = (item - self.first_item) as usize;
        EventRef { payload: &self.arena, span: self.spans[idx], ordinal: self.ordinals[idx] }
    }
}

/// Finds events by their number within a space, through the grouping table.
#[derive(Debug)]
pub(crate) struct Resolver {
    inner: Arc<Inner>,
    table: Bytes,
    table_at: u64,
    indexes: Vec<(usize, IndexView)>,
    blocks: Vec<(usize, DataBlock)>,
}

impl Resolver {
    /// `table` must have passed [`GroupingTable::decode`].
    pub(crate) fn new(inner: Arc<Inner>, table: Bytes, table_at: u64) -> Resolver {
        Resolver { inner, table, table_at, indexes: Vec::new(), blocks: Vec::new() }
    }

    pub(crate) fn table(&self) -> GroupingTable<'_> {
        GroupingTable::view(&self.table, self.table_at)
    }

    /// The event with number `event` in the space.
    pub(crate) fn event(&mut self, event: u64, posting_at: u64) -> Result<Event> {
        let (block, item) = self.locate(event, posting_at)?;
        Ok(block.event(item))
    }

    /// The decoded block holding event number `event` of the space, and the event's item number
    /// in its grouping.
    fn locate(&mut self, event: u64, posting_at: u64) -> Result<(&DataBlock, u64)> {
        let table = self.table();
        let grouping = table.grouping_of(event).ok_or_else(|| {
            Error::from(DecodeError::invalid("posting", posting_at, format!("event number {event} is in no grouping")))
        })?;
        let entry = table.entry(grouping);
        let item = event - entry.first_event;
        if let Some(pos) = self.blocks.iter().position(|(g, block)| *g == grouping && block.covers(item)) {
            if pos != 0 {
                let hit = self.blocks.remove(pos);
                self.blocks.insert(0, hit);
            }
            return Ok((&self.blocks[0].1, item));
        }
        let index_pos = match self.indexes.iter().position(|(g, _)| *g == grouping) {
            Some(pos) => pos,
            None => {
                let view = IndexView::load(
                    &self.inner,
                    entry.stream,
                    entry.n_events,
                    entry.min_ts,
                    table.entry_offset(grouping),
                )?;
                if self.indexes.len() == RESOLVER_INDEXES {
                    self.indexes.pop();
                }
                self.indexes.insert(0, (grouping, view));
                0
            }
        };
        let index = &self.indexes[index_pos].1;
        let block_idx = index.index().block_of_item(item);
        let evicted =
            if self.blocks.len() == RESOLVER_BLOCKS { self.blocks.pop().map(|(_, block)| block) } else { None };
        let block = DataBlock::load(&self.inner, index, block_idx, entry.first_event, evicted)?;
        self.blocks.insert(0, (grouping, block));
        Ok((&self.blocks[0].1, item))
    }
}

/// Calls `f` with every event number of a posting stream, in stream order, without resolving
/// the events.
pub(crate) fn for_each_posting(
    inner: &Inner,
    stream: StreamRef,
    n_postings: u64,
    min_ts: i64,
    n_space_events: u64,
    referenced_at: u64,
    mut f: impl FnMut(u64),
) -> Result<()> {
    let index = IndexView::load(inner, stream, n_postings, min_ts, referenced_at)?;
    let mut postings = Vec::new();
    for block_idx in 0..index.index().len() {
        let (_, n_items) = index.block_items(block_idx)?;
        let entry = index.index().entry(block_idx);
        let payload = inner.read_block(entry.block, "posting block", index.index().entry_offset(block_idx))?;
        posting_block::decode(&payload, entry.block.offset, n_items, n_space_events, &mut postings)?;
        postings.iter().copied().for_each(&mut f);
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Front,
    Back,
}

#[derive(Debug)]
struct GroupingStream {
    inner: Arc<Inner>,
    index: IndexView,
    first_event: u64,
    front: Option<DataBlock>,
    back: Option<DataBlock>,
}

impl GroupingStream {
    fn cached(&mut self, end: End) -> &mut Option<DataBlock> {
        match end {
            End::Front => &mut self.front,
            End::Back => &mut self.back,
        }
    }

    fn block_for(&mut self, item: u64, end: End) -> Result<&DataBlock> {
        match self.cached(end) {
            Some(block) if block.covers(item) => {}
            Some(block) if block.holds(item) => {
                let cached = match end {
                    End::Front => &mut self.front,
                    End::Back => &mut self.back,
                };
                cached.as_mut().expect("matched above").complete(&self.inner)?;
            }
            cached => {
                let previous = cached.take();
                let block_idx = self.index.index().block_of_item(item);
                // The first block a scan reads from the front may be all a lookup wants of it.
                let mut block = if end == End::Front && previous.is_none() {
                    DataBlock::load_first(&self.inner, &self.index, block_idx, self.first_event)?
                } else {
                    DataBlock::load(&self.inner, &self.index, block_idx, self.first_event, previous)?
                };
                // A scan that skipped ahead (`nth`) wants an event past the decompressed prefix.
                if !block.covers(item) {
                    block.complete(&self.inner)?;
                }
                *self.cached(end) = Some(block);
            }
        }
        Ok(self.cached(end).as_ref().expect("filled above"))
    }

    /// Number of the first event with a timestamp `>= ts`.
    fn lower_bound(&mut self, ts: i128, end: End) -> Result<u64> {
        let n_before = self.index.index().count_first_ts_below(ts);
        let Some(block_idx) = n_before.checked_sub(1) else { return Ok(0) };
        let first_item = self.index.block_items(block_idx)?.0;
        let block = self.block_for(first_item, end)?;
        debug_assert_eq!(block.block_idx, block_idx);
        let pos = block.spans.partition_point(|span| i128::from(span.ts) < ts);
        Ok(block.first_item + pos as u64)
    }
}

#[derive(Debug)]
struct PostingStream {
    inner: Arc<Inner>,
    resolver: Resolver,
    index: IndexView,
    n_space_events: u64,
    front: Option<PostingBlock>,
    back: Option<PostingBlock>,
    /// The batch each end reads from, and the size of its next one.
    front_batch: Batch,
    back_batch: Batch,
    front_batch_len: u64,
    back_batch_len: u64,
    /// [`MAX_BATCH_BYTES`], or less in tests that make batches shorten.
    max_batch_bytes: usize,
}

impl PostingStream {
    fn block_for(&mut self, item: u64, end: End) -> Result<&PostingBlock> {
        let cached = match end {
            End::Front => &mut self.front,
            End::Back => &mut self.back,
        };
        PostingBlock::for_item(&self.inner, &self.index, self.n_space_events, item, cached)
    }

    fn event_at(&mut self, item: u64, end: End) -> Result<Event> {
        let (block, item) = self.locate(item, end)?;
        Ok(block.event(item))
    }

    /// The decoded data block holding the event of posting `item`, and the event's item number
    /// in its grouping.
    fn locate(&mut self, item: u64, end: End) -> Result<(&DataBlock, u64)> {
        let block = self.block_for(item, end)?;
        let event = block.postings[(item - block.first_item) as usize];
        let at = self.index.at;
        self.resolver.locate(event, at)
    }

    /// The event of posting `item`, the next one to be taken from `end` of the window
    /// `[front, back)`: served from the end's batch, which is refilled with the next run of
    /// postings from that end when `item` is past it.
    fn batched_event(&mut self, item: u64, window: (u64, u64), end: End) -> Result<EventRef<'_>> {
        if !self.batch(end).0.covers(item) {
            let (batch, len) = self.batch(end);
            let want = (*len).max(FIRST_BATCH_POSTINGS);
            *len = (want * BATCH_GROWTH).min(MAX_BATCH_POSTINGS);
            let mut batch = std::mem::take(batch);
            let run = match end {
                End::Front => item..(item + want).min(window.1),
                End::Back => (item + 1).saturating_sub(want).max(window.0)..item + 1,
            };
            let filled = self.fill_batch(run, end, &mut batch);
            *self.batch(end).0 = batch;
            filled?;
        }
        Ok(self.batch(end).0.event_ref(item))
    }

    /// The batch `end` reads from, and the size of its next one.
    fn batch(&mut self, end: End) -> (&mut Batch, &mut u64) {
        match end {
            End::Front => (&mut self.front_batch, &mut self.front_batch_len),
            End::Back => (&mut self.back_batch, &mut self.back_batch_len),
        }
    }

    /// Resolves the postings `run` into `batch`, reusing its buffers. Copies at most
    /// `max_batch_bytes` beyond one event: a run whose events hold more is shortened (keeping
    /// the posting nearest the end the run was taken for) and resolved again.
    fn fill_batch(&mut self, run: std::ops::Range<u64>, end: End, batch: &mut Batch) -> Result<()> {
        let mut run = run;
        let mut postings = Vec::with_capacity((run.end - run.start) as usize);
        let mut block = self.index.index().block_of_item(run.start);
        let mut decoded = Vec::new();
        // Where each block's first posting lands in `postings` (if the run holds it), with the
        // block's `first_ts`, for the cross-check below.
        let mut block_starts = Vec::new();
        while (postings.len() as u64) < run.end - run.start {
            let (first_item, n_items) = self.index.block_items(block)?;
            let entry = self.index.index().entry(block);
            let payload =
                self.inner.read_block(entry.block, "posting block", self.index.index().entry_offset(block))?;
            posting_block::decode(&payload, entry.block.offset, n_items, self.n_space_events, &mut decoded)?;
            let from = run.start.max(first_item) - first_item;
            let to = (run.end - first_item).min(n_items);
            if from == 0 {
                block_starts.push((postings.len(), entry.first_ts, entry.block.offset));
            }
            postings.extend_from_slice(&decoded[from as usize..to as usize]);
            block += 1;
        }
        // Taken apart so that a failure leaves `batch` empty rather than half filled.
        let mut arena = std::mem::take(&mut batch.arena).try_into_mut().map(Vec::from).unwrap_or_default();
        let mut spans = std::mem::take(&mut batch.spans);
        let mut ordinals = std::mem::take(&mut batch.ordinals);
        let at = self.index.at;
        loop {
            let mut order: Vec<(u64, usize)> = postings.iter().enumerate().map(|(pos, &event)| (event, pos)).collect();
            order.sort_unstable();
            arena.clear();
            spans.clear();
            spans.resize(postings.len(), EventSpan { ts: 0, start: 0, end: 0 });
            ordinals.clear();
            ordinals.resize(postings.len(), 0);
            let mut fits = true;
            for &(event, pos) in &order {
                // A run of one posting always fits: its one event is what must be returned.
                if arena.len() > self.max_batch_bytes && postings.len() > 1 {
                    fits = false;
                    break;
                }
                let (block, item) = self.resolver.locate(event, at)?;
                let event = block.event_ref(item);
                let start = arena.len();
                arena.extend_from_slice(event.data());
                // The arena holds at most MAX_BATCH_BYTES plus one event of a block, which fits
                // in u32 like the block itself.
                spans[pos] = EventSpan { ts: event.timestamp(), start: start as u32, end: arena.len() as u32 };
                ordinals[pos] = event.ordinal();
            }
            if fits {
                check_posting_times(&spans, &block_starts, at)?;
                break;
            }
            let keep = postings.len() / 2;
            match end {
                End::Front => {
                    postings.truncate(keep);
                    run.end = run.start + keep as u64;
                }
                End::Back => {
                    let dropped = postings.len() - keep;
                    postings.drain(..dropped);
                    run.start = run.end - keep as u64;
                    // The block starts that remain move down with the postings.
                    block_starts.retain_mut(|(pos, _, _)| match pos.checked_sub(dropped) {
                        Some(moved) => {
                            *pos = moved;
                            true
                        }
                        None => false,
                    });
                }
            }
        }
        *batch = Batch { first_item: run.start, arena: Bytes::from(arena), spans, ordinals };
        Ok(())
    }

    /// Number of the first posting whose event has a timestamp `>= ts`.
    fn lower_bound(&mut self, ts: i128, end: End) -> Result<u64> {
        let n_before = self.index.index().count_first_ts_below(ts);
        let Some(block_idx) = n_before.checked_sub(1) else { return Ok(0) };
        let (first_item, n_items) = self.index.block_items(block_idx)?;
        let (mut lo, mut hi) = (0u64, n_items);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if i128::from(self.event_at(first_item + mid, end)?.ts) < ts {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(first_item + lo)
    }
}

/// Postings are ordered by the timestamps of their events, and a block index entry's
/// `first_ts` is its first posting's: a resolved batch that breaks either comes from a forged
/// file (its checksums sealed again), and is an error rather than events out of order. Costs one
/// comparison per event; `verify` checks the rest of the postings' invariants.
fn check_posting_times(spans: &[EventSpan], block_starts: &[(usize, i64, u64)], at: u64) -> Result<()> {
    if let Some(pos) = spans.windows(2).position(|pair| pair[1].ts < pair[0].ts) {
        return Err(DecodeError::invalid(
            "posting",
            at,
            format!("postings out of time order: an event at {} follows one at {}", spans[pos + 1].ts, spans[pos].ts),
        )
        .into());
    }
    for &(pos, first_ts, block_at) in block_starts {
        if let Some(span) = spans.get(pos).filter(|span| span.ts != first_ts) {
            return Err(DecodeError::invalid(
                "block index first timestamp",
                block_at,
                format!("{first_ts} differs from the first posting's timestamp {}", span.ts),
            )
            .into());
        }
    }
    Ok(())
}

/// A covered index value: its events from a data stream of their own, in posting order, and
/// their ordinals from its postings (item `i` of one is item `i` of the other).
#[derive(Debug)]
struct CoveredStream {
    data: GroupingStream,
    postings: IndexView,
    n_space_events: u64,
    front: Option<PostingBlock>,
    back: Option<PostingBlock>,
}

impl CoveredStream {
    fn event_ref(&mut self, item: u64, end: End) -> Result<EventRef<'_>> {
        let cached = match end {
            End::Front => &mut self.front,
            End::Back => &mut self.back,
        };
        let block = PostingBlock::for_item(&self.data.inner, &self.postings, self.n_space_events, item, cached)?;
        let ordinal = block.postings[(item - block.first_item) as usize];
        let mut event = self.data.block_for(item, end)?.event_ref(item);
        event.ordinal = ordinal;
        Ok(event)
    }
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
        let inner = resolver.inner.clone();
        let index = IndexView::load(&inner, stream, n_postings, min_ts, referenced_at)?;
        let n_space_events = {
            let table = resolver.table();
            table.len().checked_sub(1).map_or(0, |last| table.entry(last).first_event + table.entry(last).n_events)
        };
        Ok(Scan {
            kind: Kind::Postings(Box::new(PostingStream {
                inner,
                resolver,
                index,
                n_space_events,
                front: None,
                back: None,
                front_batch: Batch::default(),
                back_batch: Batch::default(),
                front_batch_len: FIRST_BATCH_POSTINGS,
                back_batch_len: FIRST_BATCH_POSTINGS,
                max_batch_bytes: MAX_BATCH_BYTES,
            })),
            ..Scan::empty()
        })
    }

    /// The events of a covered index value: `data` holds them, `postings` their ordinals.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn covered(
        inner: Arc<Inner>,
        data: StreamRef,
        postings: StreamRef,
        n_events: u64,
        min_ts: i64,
        n_space_events: u64,
        data_at: u64,
        postings_at: u64,
    ) -> Result<Scan> {
        let index = IndexView::load(&inner, data, n_events, min_ts, data_at)?;
        let postings = IndexView::load(&inner, postings, n_events, min_ts, postings_at)?;
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
            Kind::Postings(stream) => stream.batched_event(item, (front, back), end),
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

        /// Index scans resolve postings in batches; with a 100-byte batch budget most batches are
        /// shortened, from whichever end they were taken for. Every order of taking events from
        /// both ends, owned or borrowed, must still give the model's events.
        #[test]
        fn shortened_batches_keep_posting_order(
            events in proptest::collection::vec((0i64..50, 0u8..4, 0usize..60, any::<bool>()), 1..300),
            steps in proptest::collection::vec((any::<bool>(), any::<bool>()), 0..400),
            range in (0i64..50, 0i64..60),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("batches.esdb");
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
            // A 100-byte budget: most batches are shortened.
            if let super::Kind::Postings(stream) = &mut scan.kind {
                stream.max_batch_bytes = 100;
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
