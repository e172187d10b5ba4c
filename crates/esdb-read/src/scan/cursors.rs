//! Grouping cursors: the events of one end of a posting scan, found through the grouping table
//! and read from a decoded block kept per grouping.
//!
//! Postings are in (timestamp, insertion) order, and so is each grouping's stream, so one end of
//! a scan asks each grouping for its events in stream order: keeping the block a grouping was
//! last read from decodes every data block once per end, however the groupings interleave in
//! time. The blocks held are bounded by a byte budget; past it every held block is dropped and
//! the groupings still wanted decode theirs again, as a scan of a space larger than the budget
//! must.

use std::sync::Arc;

use bytes::Bytes;

use esdb_format::v1::data_block::EventSpan;
use esdb_format::v1::grouping_table::GroupingTable;
use esdb_format::DecodeError;

use super::{DataBlock, End, IndexView};
use crate::db::Inner;
use crate::error::{Error, Result};

/// Decoded bytes (event data plus 16 bytes of span per event) the cursors of one end of a scan
/// hold at most before dropping their blocks: with both ends read, a scan holds twice this.
/// 1M visits over 20,000 groupings decode to 110 MB, which this holds whole. (An index scan
/// with a 16 MiB budget decoded a block for nearly every event of a value spread over 20,000
/// groupings, 3x slower.)
pub(super) const MAX_CURSOR_BYTES: usize = 128 << 20;

/// An event of a run located by [`Cursors::locate_run`]: the slot its block is in, its span
/// and its ordinal in the space.
#[derive(Debug, Clone, Copy)]
pub(super) struct Located {
    pos: u32,
    pub(super) span: EventSpan,
    pub(super) ordinal: u64,
}

/// Events located after which the cursors build a [`GroupingIndex`]: a scan that reads fewer events
/// binary-searches the grouping table instead.
const INDEX_AFTER: u32 = 1024;

/// The block of a grouping one end last read, and the grouping's block index.
#[derive(Debug)]
struct Slot {
    index: IndexView,
    block: Option<DataBlock>,
    /// Whether `holding` lists the slot.
    listed: bool,
}

/// Blocks whose events were all taken kept for their buffers, so that the next blocks decoded
/// reuse them instead of fresh memory.
const SPARE_BLOCKS: usize = 16;

/// One end's cursors over the groupings of a space.
#[derive(Debug)]
pub(super) struct Cursors {
    /// Per grouping ordinal: 0, or 1 + the position of its slot in `slots`. Zeroed on creation,
    /// so a scan that touches few groupings costs little more than the allocation.
    slot_of: Vec<u32>,
    /// The slots of the groupings read so far, in the order they were first read.
    slots: Vec<Slot>,
    /// Positions in `slots` of the slots that may hold a block, for dropping them all at once.
    holding: Vec<u32>,
    /// Slots whose block's last event (in the end's direction) the last run located: the end
    /// needs the block no more, so the next run releases it into `spare`.
    finished: Vec<u32>,
    spare: Vec<DataBlock>,
    /// Whether the end reads oldest first.
    forward: bool,
    /// Decoded bytes the held blocks take.
    held: usize,
    /// [`MAX_CURSOR_BYTES`], or less in tests that make the cursors drop their blocks.
    pub(super) budget: usize,
    lookup: Option<GroupingIndex>,
    /// The last run's (slot, item, first event) per event, kept for its buffer.
    wanted: Vec<(u32, u64, u64)>,
    /// Locates so far, until `index_after` ([`INDEX_AFTER`], or less in tests) builds `lookup`.
    locates: u32,
    pub(super) index_after: u32,
}

impl Cursors {
    pub(super) fn new(end: End) -> Cursors {
        Cursors {
            slot_of: Vec::new(),
            slots: Vec::new(),
            holding: Vec::new(),
            finished: Vec::new(),
            spare: Vec::new(),
            forward: end == End::Front,
            held: 0,
            budget: MAX_CURSOR_BYTES,
            lookup: None,
            wanted: Vec::new(),
            locates: 0,
            index_after: INDEX_AFTER,
        }
    }

    /// Locates the events numbered `events` (of the space, from postings at `posting_at`, each
    /// `< n_space_events` as decoding postings checks), in the order given, into `run`: as many
    /// as it can without replacing a block one of them lies in, and at least one.
    ///
    /// In two passes, so that the memory reads of many events overlap: first each event's
    /// grouping and slot (from small tables), then its block's span (a read anywhere in the
    /// decoded blocks, independent of the other events').
    pub(super) fn locate_run(
        &mut self,
        inner: &Arc<Inner>,
        table: GroupingTable<'_>,
        n_space_events: u64,
        events: impl Iterator<Item = u64>,
        posting_at: u64,
        run: &mut Vec<Located>,
    ) -> Result<()> {
        if self.slot_of.is_empty() {
            self.slot_of = vec![0; table.len()];
        }
        for pos in self.finished.drain(..) {
            if let Some(block) = self.slots[pos as usize].block.take() {
                self.held -= held_bytes(&block);
                if self.spare.len() < SPARE_BLOCKS {
                    self.spare.push(block);
                }
            }
        }
        let mut wanted = std::mem::take(&mut self.wanted);
        wanted.clear();
        for event in events {
            let (grouping, first_event) = match &self.lookup {
                Some(lookup) => lookup.grouping_of(event),
                None => {
                    self.locates += 1;
                    if self.locates >= self.index_after {
                        self.lookup = Some(GroupingIndex::build(table, n_space_events));
                    }
                    let grouping = table.grouping_of(event).ok_or_else(|| no_grouping(event, posting_at))?;
                    (grouping, table.first_event(grouping))
                }
            };
            let pos = match self.slot_of[grouping] {
                0 => self.new_slot(inner, table, grouping, event, posting_at)?,
                pos => pos - 1,
            };
            wanted.push((pos, event - first_event, first_event));
        }
        run.clear();
        for (nth, &(pos, item, first_event)) in wanted.iter().enumerate() {
            let block = match &self.slots[pos as usize].block {
                Some(block) if block.covers(item) => block,
                _ if nth == 0 => {
                    self.load(inner, pos, item, first_event)?;
                    self.slots[pos as usize].block.as_ref().expect("loaded above")
                }
                _ => break,
            };
            let offset = (item - block.first_item) as usize;
            let span = block.spans[offset];
            let last = if self.forward { offset + 1 == block.spans.len() } else { offset == 0 };
            if last {
                self.finished.push(pos);
            }
            run.push(Located { pos, span, ordinal: first_event + item });
        }
        self.wanted = wanted;
        Ok(())
    }

    /// The payload of the block a [`Located`] of the last run lies in.
    #[inline]
    pub(super) fn payload(&self, located: &Located) -> &Bytes {
        &self.slots[located.pos as usize].block.as_ref().expect("held since the run was located").payload
    }

    /// Loads the block index of `grouping` into a new slot; returns the slot's position.
    #[cold]
    fn new_slot(
        &mut self,
        inner: &Arc<Inner>,
        table: GroupingTable<'_>,
        grouping: usize,
        event: u64,
        posting_at: u64,
    ) -> Result<u32> {
        let entry = table.entry(grouping);
        if event - entry.first_event >= entry.n_events {
            return Err(no_grouping(event, posting_at));
        }
        let index = IndexView::load(inner, entry.stream, entry.n_events, entry.min_ts, table.entry_offset(grouping))?;
        let pos = u32::try_from(self.slots.len()).expect("fewer groupings than u32::MAX");
        self.slots.push(Slot { index, block: None, listed: false });
        self.slot_of[grouping] = pos + 1;
        Ok(pos)
    }

    /// Decodes the block of slot `pos` holding `item`, first dropping every held block if they
    /// take the budget.
    fn load(&mut self, inner: &Arc<Inner>, pos: u32, item: u64, first_event: u64) -> Result<()> {
        if self.held >= self.budget {
            for held in self.holding.drain(..) {
                let slot = &mut self.slots[held as usize];
                slot.block = None;
                slot.listed = false;
            }
            self.finished.clear();
            self.held = 0;
        }
        let slot = &mut self.slots[pos as usize];
        if !slot.listed {
            slot.listed = true;
            self.holding.push(pos);
        }
        let previous = match slot.block.take() {
            Some(block) => {
                self.held -= held_bytes(&block);
                Some(block)
            }
            None => self.spare.pop(),
        };
        let block_idx = slot.index.index().block_of_item(item);
        let block = DataBlock::load(inner, &slot.index, block_idx, first_event, previous)?;
        self.held += held_bytes(&block);
        slot.block = Some(block);
        Ok(())
    }
}

/// Event numbers to grouping ordinals without touching the grouping table: the groupings'
/// first event numbers, and per bucket of `1 << shift` event numbers the grouping holding the
/// bucket's first, so that a lookup searches only the groupings starting in one bucket.
#[derive(Debug)]
struct GroupingIndex {
    first_events: Vec<u64>,
    buckets: Vec<u32>,
    shift: u32,
}

impl GroupingIndex {
    /// Over a checked table, whose groupings number events `0..n_space_events` without gaps.
    fn build(table: GroupingTable<'_>, n_space_events: u64) -> GroupingIndex {
        let first_events: Vec<u64> = (0..table.len()).map(|idx| table.first_event(idx)).collect();
        // At most two buckets per grouping.
        let mut shift = 0;
        while shift < 63 && n_space_events >> shift > 2 * table.len() as u64 {
            shift += 1;
        }
        let mut buckets = Vec::with_capacity((n_space_events >> shift) as usize + 1);
        let mut grouping = 0usize;
        for bucket in 0..=(n_space_events >> shift) {
            let first = bucket << shift;
            while grouping + 1 < first_events.len() && first_events[grouping + 1] <= first {
                grouping += 1;
            }
            buckets.push(grouping as u32);
        }
        GroupingIndex { first_events, buckets, shift }
    }

    /// The grouping holding `event` (`< n_space_events`) and its first event number.
    #[inline]
    fn grouping_of(&self, event: u64) -> (usize, u64) {
        let bucket = (event >> self.shift) as usize;
        let lo = self.buckets[bucket] as usize;
        let hi = self.buckets.get(bucket + 1).map_or(self.first_events.len(), |&next| next as usize + 1);
        let grouping = lo + self.first_events[lo..hi].partition_point(|&first| first <= event) - 1;
        (grouping, self.first_events[grouping])
    }
}

fn no_grouping(event: u64, posting_at: u64) -> Error {
    Error::from(DecodeError::invalid("posting", posting_at, format!("event number {event} is in no grouping")))
}

fn held_bytes(block: &DataBlock) -> usize {
    block.payload.len() + block.spans.len() * std::mem::size_of::<EventSpan>()
}
