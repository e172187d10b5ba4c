//! Streams of blocks with their block index: data blocks of one grouping, or posting blocks of
//! one index value or timeline.

use std::io::{self, Write};

use esdb_format::v1::block_index::BlockIndexEntry;
use esdb_format::v1::catalog::{Stats, StreamRef};
use esdb_format::v1::frame::{self, Codec, Handle};
use esdb_format::v1::{block_index, data_block, posting_block, MAX_BLOCK_EVENTS};

use crate::output::Output;

/// Shared bookkeeping: the stream's blocks and block index, and its statistics.
///
/// A stream's blocks are held back, framed, until the stream ends or they pass `pending_limit`
/// bytes: the block index is then written first, right before the first data block, so that a
/// reader far away gets both with one ranged read. A longer stream is written as it goes, its
/// index after its last block.
struct IndexBuilder {
    entries: Vec<u8>,
    n_blocks: u64,
    last_block: Handle,
    stats: Stats,
    /// Framed blocks not yet written, and for each its first timestamp, first item and stored
    /// payload length.
    pending: Vec<u8>,
    pending_blocks: Vec<(i64, u64, u32)>,
    pending_limit: usize,
    /// Whether the blocks of this stream go straight to the output (it outgrew `pending_limit`).
    direct: bool,
}

impl IndexBuilder {
    fn new(pending_limit: usize) -> Self {
        IndexBuilder {
            entries: Vec::new(),
            n_blocks: 0,
            last_block: Handle::default(),
            stats: Stats::default(),
            pending: Vec::new(),
            pending_blocks: Vec::new(),
            pending_limit,
            direct: false,
        }
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

    /// Adds the stream's next block.
    fn add_block<W: Write>(
        &mut self,
        first_ts: i64,
        first_item: u64,
        payload: &[u8],
        codec: Codec,
        out: &mut Output<W>,
    ) -> io::Result<()> {
        if self.direct {
            let block = out.write_block(payload, codec)?;
            self.note_block(BlockIndexEntry { first_ts, first_item, block });
            return Ok(());
        }
        let len = out.frame_block(payload, codec, &mut self.pending)?;
        self.pending_blocks.push((first_ts, first_item, len));
        if self.pending.len() > self.pending_limit {
            self.write_pending(out)?;
            self.direct = true;
        }
        Ok(())
    }

    /// Writes the held-back blocks, the first of them at the output's offset.
    fn write_pending<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<()> {
        self.note_pending(out.offset());
        out.write_framed(&self.pending)?;
        self.pending.clear();
        self.pending_blocks.clear();
        Ok(())
    }

    /// Adds the index entries of the held-back blocks, as if written from `at`.
    fn note_pending(&mut self, at: u64) {
        let mut offset = at;
        for &(first_ts, first_item, len) in &self.pending_blocks {
            let block = Handle { offset, len };
            offset = block.end();
            BlockIndexEntry { first_ts, first_item, block }.encode(&mut self.entries);
            self.n_blocks += 1;
            self.last_block = block;
        }
    }

    fn finish<W: Write>(&mut self, out: &mut Output<W>) -> io::Result<(Stats, StreamRef)> {
        let handle = if !self.direct && self.pending_blocks.len() > 1 {
            // The index goes first; it is stored raw, so its framed length, and with it where
            // each block will start, is known before it is written.
            let index_len = (self.pending_blocks.len() * block_index::ENTRY_LEN) as u64;
            let first_block_at = out.offset() + index_len + frame::TRAILER_LEN as u64;
            self.note_pending(first_block_at);
            let index = out.write_block(&self.entries, Codec::Raw)?;
            debug_assert_eq!(index.end(), first_block_at);
            out.write_framed(&self.pending)?;
            self.pending.clear();
            self.pending_blocks.clear();
            index
        } else {
            if !self.pending_blocks.is_empty() {
                self.write_pending(out)?;
            }
            // A stream of one block needs no index: the reader derives its one entry.
            if self.n_blocks == 1 {
                self.last_block
            } else {
                // Block indexes stay raw so that a seek binary-searches them in place.
                out.write_block(&self.entries, Codec::Raw)?
            }
        };
        let result = (self.stats, StreamRef { handle, n_blocks: self.n_blocks });
        self.entries.clear();
        self.n_blocks = 0;
        self.stats = Stats::default();
        self.direct = false;
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
    pub(crate) fn new(block_size: usize, codec: Codec, pending_limit: usize) -> Self {
        DataStream {
            index: IndexBuilder::new(pending_limit),
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
        data_block::encode_v2(self.events.iter().map(|&(ts, start, end)| (ts, &data[start..end])), &mut self.payload);
        self.index.add_block(first_ts, self.block_first_item, &self.payload, self.codec, out)?;
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
    pub(crate) fn new(postings_per_block: usize, codec: Codec, pending_limit: usize) -> Self {
        PostingStream {
            index: IndexBuilder::new(pending_limit),
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
        self.index.add_block(self.block_first_ts, self.block_first_item, &self.payload, self.codec, out)?;
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
