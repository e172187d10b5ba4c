//! A grouping's data stream, read from both ends.

use std::sync::Arc;

use super::{DataBlock, End, IndexView};
use crate::db::Inner;
use crate::error::Result;

#[derive(Debug)]
pub(super) struct GroupingStream {
    pub(super) inner: Arc<Inner>,
    pub(super) index: IndexView,
    pub(super) first_event: u64,
    pub(super) front: Option<DataBlock>,
    pub(super) back: Option<DataBlock>,
}

impl GroupingStream {
    pub(super) fn cached(&mut self, end: End) -> &mut Option<DataBlock> {
        match end {
            End::Front => &mut self.front,
            End::Back => &mut self.back,
        }
    }

    pub(super) fn block_for(&mut self, item: u64, end: End) -> Result<&DataBlock> {
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
    pub(super) fn lower_bound(&mut self, ts: i128, end: End) -> Result<u64> {
        let n_before = self.index.index().count_first_ts_below(ts);
        let Some(block_idx) = n_before.checked_sub(1) else { return Ok(0) };
        let first_item = self.index.block_items(block_idx)?.0;
        self.block_for(first_item, end)?;
        // The search needs every timestamp of the block, not only its first event's.
        let cached = match end {
            End::Front => &mut self.front,
            End::Back => &mut self.back,
        };
        let block = cached.as_mut().expect("loaded by block_for");
        block.complete(&self.inner)?;
        debug_assert_eq!(block.block_idx, block_idx);
        let pos = block.spans.partition_point(|span| i128::from(span.ts) < ts);
        Ok(block.first_item + pos as u64)
    }
}
