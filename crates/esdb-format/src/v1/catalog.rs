//! Catalog blocks and the values stored in them.
//!
//! Layout: docs/FORMAT.md#catalog.
//!
//! The catalog is a tree of blocks of sorted `(key, value)` entries. Leaves (level 0) map the
//! keys of [`crate::v1::key`] to a [`SpaceSummary`], [`GroupingEntry`] or [`IndexValueEntry`];
//! a block at level `n > 0` maps the last key of each child block at level `n - 1` to that
//! child's [`Handle`].

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::frame::Handle;

/// Size of one entry offset in the offset array.
pub const OFFSET_LEN: usize = size_of::<u32>();
/// Size of the fixed tail: entry count, then level.
pub const TAIL_LEN: usize = size_of::<u32>() + size_of::<u8>();

/// Builds the payload of one catalog block.
#[derive(Debug, Default, Clone)]
pub struct CatalogBlockBuilder {
    entries: Vec<u8>,
    offsets: Vec<u32>,
}

impl CatalogBlockBuilder {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an entry; keys must be added in strictly increasing order.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        self.offsets.push(u32::try_from(self.entries.len()).expect("catalog blocks stay far below 4 GiB"));
        crate::varint::encode(key.len() as u64, &mut self.entries);
        crate::varint::encode(value.len() as u64, &mut self.entries);
        self.entries.extend_from_slice(key);
        self.entries.extend_from_slice(value);
    }

    /// Number of entries so far.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// True when no entry was pushed.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Payload size if finished now.
    pub fn encoded_len(&self) -> usize {
        self.entries.len() + self.offsets.len() * OFFSET_LEN + TAIL_LEN
    }

    /// Writes the payload to `out` and resets the builder.
    pub fn finish(&mut self, level: u8, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.entries);
        for offset in &self.offsets {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        out.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        out.push(level);
        self.entries.clear();
        self.offsets.clear();
    }
}

/// A decoded view of one catalog block payload.
#[derive(Debug, Clone, Copy)]
pub struct CatalogBlock<'a> {
    entries: &'a [u8],
    offsets: &'a [u8],
    n_entries: usize,
    level: u8,
    at: u64,
}

impl<'a> CatalogBlock<'a> {
    /// Decodes the tail of a payload that starts at absolute offset `at`.
    ///
    /// Cost: O(1); entries are decoded on access, each checked against the block bounds.
    pub fn decode(payload: &'a [u8], at: u64) -> Result<Self, DecodeError> {
        let Some(tail_pos) = payload.len().checked_sub(TAIL_LEN) else {
            return Err(DecodeError::Truncated {
                field: "catalog block tail",
                offset: at,
                need: TAIL_LEN as u64,
                have: payload.len() as u64,
            });
        };
        let mut tail = Cursor::new(&payload[tail_pos..], at + tail_pos as u64);
        let n_entries = tail.u32("catalog entry count")? as usize;
        let level = tail.u8("catalog level")?;
        let offsets_len = n_entries.checked_mul(OFFSET_LEN).filter(|len| *len <= tail_pos).ok_or_else(|| {
            DecodeError::invalid(
                "catalog entry count",
                at + tail_pos as u64,
                format!("{n_entries} entries do not fit in a {}-byte block", payload.len()),
            )
        })?;
        let entries_len = tail_pos - offsets_len;
        Ok(CatalogBlock {
            entries: &payload[..entries_len],
            offsets: &payload[entries_len..tail_pos],
            n_entries,
            level,
            at,
        })
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.n_entries
    }

    /// True when the block has no entries.
    pub fn is_empty(&self) -> bool {
        self.n_entries == 0
    }

    /// Level in the tree: 0 for leaves.
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The `idx`-th entry as `(key, value, absolute offset of the entry)`.
    pub fn entry(&self, idx: usize) -> Result<(&'a [u8], &'a [u8], u64), DecodeError> {
        let offset_pos = idx * OFFSET_LEN;
        let offset_at = self.at + (self.entries.len() + offset_pos) as u64;
        let mut cur = Cursor::new(self.offsets.get(offset_pos..).unwrap_or(&[]), offset_at);
        let pos = cur.u32("catalog entry offset")? as usize;
        if pos >= self.entries.len() {
            return Err(DecodeError::invalid(
                "catalog entry offset",
                offset_at,
                format!("{pos} is past the {} bytes of entries", self.entries.len()),
            ));
        }
        let entry_at = self.at + pos as u64;
        let mut cur = Cursor::new(&self.entries[pos..], entry_at);
        let key_len = cur.len_at_most(self.entries.len() as u64, "catalog key length")?;
        let value_len = cur.len_at_most(self.entries.len() as u64, "catalog value length")?;
        let key = cur.take(key_len, "catalog key")?;
        let value = cur.take(value_len, "catalog value")?;
        Ok((key, value, entry_at))
    }

    /// Index of the first entry whose key is `>= target`, or [`len`](Self::len) if none is.
    ///
    /// Cost: O(log n) entry decodes. Assumes keys are sorted, which [`validate`](Self::validate)
    /// checks.
    pub fn lower_bound(&self, target: &[u8]) -> Result<usize, DecodeError> {
        let (mut lo, mut hi) = (0, self.n_entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.entry(mid)?.0 < target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Checks that entries are contiguous, in order, cover the entry region exactly and that keys
    /// strictly increase. Cost: O(n).
    pub fn validate(&self) -> Result<(), DecodeError> {
        let mut expected_pos = 0usize;
        let mut previous: Option<&[u8]> = None;
        for idx in 0..self.n_entries {
            let (key, value, entry_at) = self.entry(idx)?;
            let pos = (entry_at - self.at) as usize;
            if pos != expected_pos {
                return Err(DecodeError::invalid(
                    "catalog entry offset",
                    entry_at,
                    format!("entry {idx} starts at {pos}, expected {expected_pos}"),
                ));
            }
            if previous.is_some_and(|prev| prev >= key) {
                return Err(DecodeError::invalid(
                    "catalog key",
                    entry_at,
                    format!("entry {idx} is not above the previous key"),
                ));
            }
            previous = Some(key);
            expected_pos = pos
                + crate::varint::encoded_len(key.len() as u64)
                + crate::varint::encoded_len(value.len() as u64)
                + key.len()
                + value.len();
        }
        if expected_pos != self.entries.len() {
            return Err(DecodeError::TrailingBytes {
                section: "catalog block",
                offset: self.at + expected_pos as u64,
                extra: (self.entries.len() - expected_pos) as u64,
            });
        }
        Ok(())
    }
}

/// Where a stream of blocks is: its block index block, or its only block.
///
/// Grouping streams hold data blocks; index value and timeline streams hold posting blocks. A
/// stream of one block has no block index: `handle` points at the block itself, whose index entry
/// would be `(first_ts: the stream's min_ts, first_item: 0, block: handle)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamRef {
    /// The block index block when `n_blocks > 1`; the only block when `n_blocks == 1`.
    pub handle: Handle,
    /// Number of blocks in the stream.
    pub n_blocks: u64,
}

impl StreamRef {
    /// The block index entry of a one-block stream whose events start at `min_ts`.
    pub fn single_block_entry(&self, min_ts: i64) -> Option<crate::v1::block_index::BlockIndexEntry> {
        (self.n_blocks == 1).then_some(crate::v1::block_index::BlockIndexEntry {
            first_ts: min_ts,
            first_item: 0,
            block: self.handle,
        })
    }
}

impl StreamRef {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        self.handle.encode(out);
        crate::varint::encode(self.n_blocks, out);
    }

    pub(crate) fn decode(cur: &mut Cursor<'_>) -> Result<StreamRef, DecodeError> {
        Ok(StreamRef { handle: Handle::decode(cur, "stream handle")?, n_blocks: cur.uvarint("stream block count")? })
    }
}

/// Event count and time bounds of a space, grouping or index value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Number of events.
    pub n_events: u64,
    /// Smallest timestamp.
    pub min_ts: i64,
    /// Largest timestamp.
    pub max_ts: i64,
}

impl Stats {
    fn encode(&self, out: &mut Vec<u8>) {
        crate::varint::encode(self.n_events, out);
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.max_ts.to_le_bytes());
    }

    fn decode(cur: &mut Cursor<'_>) -> Result<Stats, DecodeError> {
        let at = cur.offset();
        let stats = Stats {
            n_events: cur.uvarint("event count")?,
            min_ts: cur.i64("min timestamp")?,
            max_ts: cur.i64("max timestamp")?,
        };
        if stats.n_events == 0 || stats.min_ts > stats.max_ts {
            return Err(DecodeError::invalid(
                "event count",
                at,
                format!("{} events from {} to {}", stats.n_events, stats.min_ts, stats.max_ts),
            ));
        }
        Ok(stats)
    }
}

/// Value of a space summary entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SpaceSummary {
    /// Events, time bounds.
    pub stats: Stats,
    /// Number of groupings.
    pub n_groupings: u64,
    /// Number of distinct `(index name, value)` pairs.
    pub n_index_values: u64,
    /// The grouping table block.
    pub grouping_table: Handle,
    /// Postings of every event in (timestamp, insertion) order; present only when the space has
    /// more than one grouping.
    pub timeline: Option<StreamRef>,
}

impl SpaceSummary {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.stats.encode(out);
        crate::varint::encode(self.n_groupings, out);
        crate::varint::encode(self.n_index_values, out);
        self.grouping_table.encode(out);
        match &self.timeline {
            None => out.push(0),
            Some(stream) => {
                out.push(1);
                stream.encode(out);
            }
        }
    }

    /// Decodes a value stored at absolute offset `at`.
    pub fn decode(value: &[u8], at: u64) -> Result<Self, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let stats = Stats::decode(&mut cur)?;
        let n_groupings_at = cur.offset();
        let n_groupings = cur.uvarint("space grouping count")?;
        if n_groupings == 0 || n_groupings > stats.n_events {
            return Err(DecodeError::invalid(
                "space grouping count",
                n_groupings_at,
                format!("{n_groupings} groupings for {} events", stats.n_events),
            ));
        }
        let n_index_values = cur.uvarint("space index value count")?;
        let grouping_table = Handle::decode(&mut cur, "space grouping table")?;
        let flag_at = cur.offset();
        let timeline = match cur.u8("space timeline flag")? {
            0 => None,
            1 => Some(StreamRef::decode(&mut cur)?),
            other => {
                return Err(DecodeError::invalid(
                    "space timeline flag",
                    flag_at,
                    format!("must be 0 or 1, found {other}"),
                ))
            }
        };
        if timeline.is_some() != (n_groupings > 1) {
            return Err(DecodeError::invalid(
                "space timeline flag",
                flag_at,
                format!("a timeline is required exactly when a space has several groupings ({n_groupings})"),
            ));
        }
        cur.finish("space summary")?;
        Ok(SpaceSummary { stats, n_groupings, n_index_values, grouping_table, timeline })
    }
}

/// Value of a grouping entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupingEntry {
    /// Events, time bounds.
    pub stats: Stats,
    /// Event number of the grouping's first event within its space.
    pub first_event: u64,
    /// The grouping's data blocks.
    pub stream: StreamRef,
}

impl GroupingEntry {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.stats.encode(out);
        crate::varint::encode(self.first_event, out);
        self.stream.encode(out);
    }

    /// Decodes a value stored at absolute offset `at`.
    pub fn decode(value: &[u8], at: u64) -> Result<Self, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let stats = Stats::decode(&mut cur)?;
        let first_event = cur.uvarint("grouping first event")?;
        let stream = StreamRef::decode(&mut cur)?;
        cur.finish("grouping entry")?;
        Ok(GroupingEntry { stats, first_event, stream })
    }
}

/// Value of an index value entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexValueEntry {
    /// Events carrying this value, time bounds.
    pub stats: Stats,
    /// The value's posting blocks.
    pub stream: StreamRef,
}

impl IndexValueEntry {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.stats.encode(out);
        self.stream.encode(out);
    }

    /// Decodes a value stored at absolute offset `at`.
    pub fn decode(value: &[u8], at: u64) -> Result<Self, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let stats = Stats::decode(&mut cur)?;
        let stream = StreamRef::decode(&mut cur)?;
        cur.finish("index value entry")?;
        Ok(IndexValueEntry { stats, stream })
    }
}

/// Decodes the child handle stored in an interior catalog entry.
pub fn decode_child(value: &[u8], at: u64) -> Result<Handle, DecodeError> {
    let mut cur = Cursor::new(value, at);
    let handle = Handle::decode(&mut cur, "catalog child")?;
    cur.finish("catalog child")?;
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamRef {
        StreamRef { handle: Handle { offset: 100, len: 56 }, n_blocks: 2 }
    }

    #[test]
    fn block_roundtrip_and_search() {
        let mut builder = CatalogBlockBuilder::new();
        for key in [&b"apple"[..], b"banana", b"cherry"] {
            builder.push(key, b"v");
        }
        let expected_len = builder.encoded_len();
        let mut payload = Vec::new();
        builder.finish(0, &mut payload);
        assert_eq!(payload.len(), expected_len);
        let block = CatalogBlock::decode(&payload, 1000).unwrap();
        block.validate().unwrap();
        assert_eq!(block.len(), 3);
        assert_eq!(block.entry(1).unwrap().0, b"banana");
        assert_eq!(block.lower_bound(b"b").unwrap(), 1);
        assert_eq!(block.lower_bound(b"banana").unwrap(), 1);
        assert_eq!(block.lower_bound(b"zzz").unwrap(), 3);
    }

    #[test]
    fn entry_count_too_large_is_rejected() {
        let payload = [0xff, 0xff, 0xff, 0x0f, 0];
        assert!(matches!(
            CatalogBlock::decode(&payload, 40),
            Err(DecodeError::Invalid { field: "catalog entry count", offset: 40, .. })
        ));
    }

    #[test]
    fn unsorted_keys_fail_validation() {
        let mut builder = CatalogBlockBuilder::new();
        builder.push(b"b", b"");
        builder.push(b"a", b"");
        let mut payload = Vec::new();
        builder.finish(0, &mut payload);
        assert!(matches!(
            CatalogBlock::decode(&payload, 0).unwrap().validate(),
            Err(DecodeError::Invalid { field: "catalog key", .. })
        ));
    }

    #[test]
    fn values_roundtrip() {
        let stats = Stats { n_events: 3, min_ts: -5, max_ts: 7 };
        let summary = SpaceSummary {
            stats,
            n_groupings: 2,
            n_index_values: 4,
            grouping_table: Handle { offset: 9, len: 72 },
            timeline: Some(stream()),
        };
        let mut out = Vec::new();
        summary.encode(&mut out);
        assert_eq!(SpaceSummary::decode(&out, 0), Ok(summary));

        let grouping = GroupingEntry { stats, first_event: 11, stream: stream() };
        let mut out = Vec::new();
        grouping.encode(&mut out);
        assert_eq!(GroupingEntry::decode(&out, 0), Ok(grouping));

        let value = IndexValueEntry { stats, stream: stream() };
        let mut out = Vec::new();
        value.encode(&mut out);
        assert_eq!(IndexValueEntry::decode(&out, 0), Ok(value));
    }

    #[test]
    fn timeline_must_match_grouping_count() {
        let summary = SpaceSummary {
            stats: Stats { n_events: 1, min_ts: 0, max_ts: 0 },
            n_groupings: 1,
            timeline: Some(stream()),
            ..Default::default()
        };
        let mut out = Vec::new();
        summary.encode(&mut out);
        assert!(matches!(
            SpaceSummary::decode(&out, 0),
            Err(DecodeError::Invalid { field: "space timeline flag", .. })
        ));
    }
}
