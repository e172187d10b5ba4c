//! Reading a stream's blocks: its block index, checked against its item count, and its data
//! blocks, decoded whole or, for a lookup's first block, only as far as the first event.

use bytes::Bytes;
use esdb_format::v1::block_index::{BlockIndex, ENTRY_LEN};
use esdb_format::v1::catalog::StreamRef;
use esdb_format::v1::data_block::{self, EventSpan};
use esdb_format::v1::frame::{self, Codec, Handle};
use esdb_format::DecodeError;

use crate::db::{Inner, Stored, StoredBlock};
use crate::error::Result;
use crate::event::{Event, EventRef};

/// A stream's block index, checked against the stream's item count.
#[derive(Debug, Clone)]
pub(crate) struct IndexView {
    pub(super) payload: IndexPayload,
    pub(super) at: u64,
    pub(super) n_items: u64,
}

/// The bytes of a block index: its block, or for a one-block stream its one entry, held inline
/// so that making a scan of a small grouping allocates nothing (scans are often made on one
/// thread and dropped on another).
#[derive(Debug, Clone)]
pub(super) enum IndexPayload {
    Block(Bytes),
    Single([u8; ENTRY_LEN]),
}

impl IndexPayload {
    pub(super) fn bytes(&self) -> &[u8] {
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
            None => {
                inner.hint_stream(stream.handle);
                (
                    IndexPayload::Block(inner.read_block(stream.handle, "block index", referenced_at)?),
                    stream.handle.offset,
                )
            }
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
/// first event when a scan starts on them: what a lookup of the first event needs. Low, since
/// most spaces' first blocks are small; a scan that reads on decompresses the prefix twice.
pub(super) const PREFIX_MIN_BLOCK: usize = 1024;
/// The first prefix tried; it grows fourfold until it holds the first event's length.
pub(super) const FIRST_PREFIX: usize = 512;

/// One decoded data block.
#[derive(Debug)]
pub(super) struct DataBlock {
    pub(super) block_idx: usize,
    pub(super) first_item: u64,
    /// Ordinal within the space of the grouping's first event.
    pub(super) first_event: u64,
    pub(super) payload: Bytes,
    pub(super) spans: Vec<EventSpan>,
    /// Leading events whose data `payload` holds: all of them, unless the block was only
    /// decompressed in part, in which case `rest` keeps what completes it.
    pub(super) n_ready: u64,
    /// Events in the block; `spans` holds all of them unless the block was only decompressed
    /// in part, in which case it holds the first.
    pub(super) n_items: u64,
    pub(super) rest: Option<Rest>,
}

/// What completes a block decompressed only in part: its stored payload, checksum already checked.
#[derive(Debug)]
pub(super) struct Rest {
    /// The payload as read, or `None` when it lies in the file in memory at `handle`.
    pub(super) read: Option<Bytes>,
    pub(super) handle: Handle,
    pub(super) raw_len: usize,
    /// The block index's `first_ts`, to decode the other events' spans with.
    pub(super) first_ts: i64,
}

impl DataBlock {
    pub(super) fn load(
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
        Ok(DataBlock { block_idx, first_item, first_event, payload, spans, n_ready, n_items, rest: None })
    }

    /// Like [`DataBlock::load`], but a large compressed block is decompressed only as far as its
    /// first event; [`DataBlock::complete`] does the rest when a later event is wanted.
    pub(super) fn load_first(
        inner: &Inner,
        index: &IndexView,
        block_idx: usize,
        first_event: u64,
    ) -> Result<DataBlock> {
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
        let mut want = FIRST_PREFIX;
        let (prefix, first) = loop {
            let mut prefix = vec![0u8; want];
            frame::decompress_prefix(stored.bytes(), offset, &mut prefix)?;
            let major = inner.header.major;
            match data_block::decode_first_for(major, &prefix, raw_len as u64, offset, entry.first_ts, n_items) {
                Ok(first) => break (prefix, first),
                Err(DecodeError::Truncated { .. }) if want < raw_len => want = (want * 4).min(raw_len),
                Err(err) => return Err(err.into()),
            }
        };
        let prefix = if first.end as usize > prefix.len() {
            let mut longer = vec![0u8; first.end as usize];
            frame::decompress_prefix(stored.bytes(), offset, &mut longer)?;
            longer
        } else {
            prefix
        };
        // Room for every span (the header check bounds the count), which `complete` fills.
        let mut spans = Vec::with_capacity(n_items as usize);
        spans.push(first);
        Ok(DataBlock {
            block_idx,
            first_item,
            first_event,
            payload: Bytes::from(prefix),
            spans,
            n_ready: 1,
            n_items,
            rest: Some(Rest {
                read: match stored {
                    Stored::InMemory(_) => None,
                    Stored::Read(bytes) => Some(bytes),
                },
                handle: entry.block,
                raw_len,
                first_ts: entry.first_ts,
            }),
        })
    }

    /// Decompresses the rest of a block loaded by [`DataBlock::load_first`] and decodes its
    /// events' spans. On an error the block stays as it was, so it never claims events it cannot
    /// give.
    pub(super) fn complete(&mut self, inner: &Inner) -> Result<()> {
        if let Some(rest) = &self.rest {
            let stored = rest.read.as_deref().unwrap_or_else(|| inner.in_memory(rest.handle));
            let payload =
                crate::db::decompress_reusing(Codec::Lz4, stored, rest.raw_len, rest.handle.offset, None, None)?;
            let first = self.spans[0];
            let major = inner.header.major;
            let decoded = data_block::decode_for(
                major,
                &payload,
                rest.handle.offset,
                rest.first_ts,
                self.n_items,
                &mut self.spans,
            );
            if let Err(err) = decoded {
                self.spans.push(first);
                return Err(err.into());
            }
            self.payload = payload;
            self.n_ready = self.n_items;
            self.rest = None;
        }
        Ok(())
    }

    pub(super) fn covers(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.n_ready
    }

    /// Whether `item` is one of the block's events, its data decompressed or not.
    pub(super) fn holds(&self, item: u64) -> bool {
        item >= self.first_item && item - self.first_item < self.n_items
    }

    pub(super) fn event(&self, item: u64) -> Event {
        self.event_ref(item).to_event()
    }

    pub(super) fn event_ref(&self, item: u64) -> EventRef<'_> {
        EventRef {
            payload: &self.payload,
            span: self.spans[(item - self.first_item) as usize],
            ordinal: self.first_event + item,
        }
    }
}
