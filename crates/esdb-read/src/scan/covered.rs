//! A covered index value: its own data stream, and its postings for the events' ordinals.

use super::{End, GroupingStream, IndexView, PostingBlock};
use crate::error::Result;
use crate::event::EventRef;

/// A covered index value: its events from a data stream of their own, in posting order, and
/// their ordinals from its postings (item `i` of one is item `i` of the other).
#[derive(Debug)]
pub(super) struct CoveredStream {
    pub(super) data: GroupingStream,
    pub(super) postings: IndexView,
    pub(super) n_space_events: u64,
    pub(super) front: Option<PostingBlock>,
    pub(super) back: Option<PostingBlock>,
}

impl CoveredStream {
    pub(super) fn event_ref(&mut self, item: u64, end: End) -> Result<EventRef<'_>> {
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
