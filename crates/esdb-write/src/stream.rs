//! Streams of blocks with their block index: data blocks of one grouping, or posting blocks of
//! one index value or timeline.

use std::io::{self, Write};

use esdb_format::v1::block_index::BlockIndexEntry;
use esdb_format::v1::catalog::{Stats, StreamRef};
use esdb_format::v1::frame::{Codec, Handle};
use esdb_format::v1::{data_block, posting_block, MAX_BLOCK_EVENTS};

use crate::output::Output;

/// Shared bookkeeping: the block index being built and the stream's statistics.
struct IndexBuilder {
    entries: Vec<u8>,
    n_blocks: u64,
    last_block: Handle,
    stats: Stats,
}

impl IndexBuilder {
    fn new() -> Self {
        IndexBuilder { entries: Vec::new(), n_blocks: 0, last_block: Handle::default(), stats: Stats::default() }
    }

    fn note_block(&mut self, entry: BlockIndexEntry) {
        entry.encode(&mut self.entries);
        self.n_blocks += 1;
        self.last_block = entry.block;
    }

    fn note_item(&mut self, ts: i64) {
        if self.stats.n_events == 0 {
            self.stats.min_ts = ts;
        }
        self.stats.n_events += 1;
        self.stats.max_ts = ts;
    }

    fn finish<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<(Stats, StreamRef)> {
        // A stream of one block needs no index: the reader derives its one entry.
        let handle = if self.n_blocks == 1 {
            self.last_block
        } else {
            // Block indexes stay raw so that a seek binary-searches them in place.
            out.write_block(&self.entries, Codec::Raw)?
        };
        let result = (self.stats, StreamRef { handle, n_blocks: self.n_blocks });
        self.entries.clear();
        self.n_blocks = 0;
        self.stats = Stats::default();
        Ok(result)
    }
}

/// Writes the data blocks of one grouping at a time.
pub(crate) struct DataStream {
    index: IndexBuilder,
    block_size: usize,
    codec: Codec,
    // Events of the open block: timestamps and data ranges in `data`.
    events: Vec<(i64, usize, usize)>,
    data: Vec<u8>,
    payload: Vec<u8>,
    block_first_item: u64,
}

impl DataStream {
    pub(crate) fn new(block_size: usize, codec: Codec) -> Self {
        DataStream {
            index: IndexBuilder::new(),
            block_size,
            codec,
            events: Vec::new(),
            data: Vec::new(),
            payload: Vec::new(),
            block_first_item: 0,
        }
    }

    /// Adds the next event; events must come in (timestamp, insertion) order.
    pub(crate) fn add<W: Write>(&mut self, ts: i64, data: &[u8], out: &mut Output<W>) -> io::Result<()> {
        self.index.note_item(ts);
        let start = self.data.len();
        self.data.extend_from_slice(data);
        self.events.push((ts, start, self.data.len()));
        // Two bytes per event approximate the packed timestamp delta and length.
        if self.data.len() + 2 * self.events.len() >= self.block_size || self.events.len() as u64 >= MAX_BLOCK_EVENTS {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<()> {
        let Some(&(first_ts, _, _)) = self.events.first() else { return Ok(()) };
        self.payload.clear();
        let data = &self.data;
        data_block::encode(self.events.iter().map(|&(ts, start, end)| (ts, &data[start..end])), &mut self.payload);
        let block = out.write_block(&self.payload, self.codec)?;
        self.index.note_block(BlockIndexEntry { first_ts, first_item: self.block_first_item, block });
        self.block_first_item += self.events.len() as u64;
        self.events.clear();
        self.data.clear();
        Ok(())
    }

    /// Closes the grouping: writes its last block and its block index.
    pub(crate) fn finish<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<(Stats, StreamRef)> {
        self.flush(out)?;
        self.block_first_item = 0;
        self.index.finish(out)
    }
}

/// Writes the posting blocks of one index value (or timeline) at a time.
pub(crate) struct PostingStream {
    index: IndexBuilder,
    postings_per_block: usize,
    codec: Codec,
    block: Vec<u64>,
    block_first_ts: i64,
    payload: Vec<u8>,
    block_first_item: u64,
}

impl PostingStream {
    pub(crate) fn new(postings_per_block: usize, codec: Codec) -> Self {
        PostingStream {
            index: IndexBuilder::new(),
            postings_per_block,
            codec,
            block: Vec::new(),
            block_first_ts: 0,
            payload: Vec::new(),
            block_first_item: 0,
        }
    }

    /// Adds a posting to event number `event` whose timestamp is `ts`.
    pub(crate) fn add<W: Write>(&mut self, ts: i64, event: u64, out: &mut Output<W>) -> io::Result<()> {
        self.index.note_item(ts);
        if self.block.is_empty() {
            self.block_first_ts = ts;
        }
        self.block.push(event);
        if self.block.len() >= self.postings_per_block {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        self.payload.clear();
        posting_block::encode(&self.block, &mut self.payload);
        let block = out.write_block(&self.payload, self.codec)?;
        self.index.note_block(BlockIndexEntry {
            first_ts: self.block_first_ts,
            first_item: self.block_first_item,
            block,
        });
        self.block_first_item += self.block.len() as u64;
        self.block.clear();
        Ok(())
    }

    /// Closes the stream: writes its last block and its block index.
    pub(crate) fn finish<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<(Stats, StreamRef)> {
        self.flush(out)?;
        self.block_first_item = 0;
        self.index.finish(out)
    }
}
