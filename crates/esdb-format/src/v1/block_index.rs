//! Block index blocks: one fixed-width entry per block of a stream, for binary search by
//! timestamp or by item number.
//!
//! Layout: docs/FORMAT.md#block-index.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::frame::Handle;

/// Offset of the first timestamp within an entry.
pub const FIRST_TS_OFFSET: usize = 0;
/// Offset of the first item number within an entry.
pub const FIRST_ITEM_OFFSET: usize = FIRST_TS_OFFSET + size_of::<i64>();
/// Offset of the block's file offset within an entry.
pub const BLOCK_OFFSET_OFFSET: usize = FIRST_ITEM_OFFSET + size_of::<u64>();
/// Offset of the block's stored length within an entry.
pub const BLOCK_LEN_OFFSET: usize = BLOCK_OFFSET_OFFSET + size_of::<u64>();
/// Encoded size of one entry.
pub const ENTRY_LEN: usize = BLOCK_LEN_OFFSET + size_of::<u32>();

/// One block of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockIndexEntry {
    /// Timestamp of the block's first event (for posting blocks: of the event the first posting
    /// points at).
    pub first_ts: i64,
    /// Number, within the stream, of the block's first item (event or posting).
    pub first_item: u64,
    /// Where the block is.
    pub block: Handle,
}

impl BlockIndexEntry {
    /// Appends the encoded entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The encoded entry, as [`encode`](Self::encode) appends it.
    pub fn to_bytes(&self) -> [u8; ENTRY_LEN] {
        let mut bytes = [0u8; ENTRY_LEN];
        bytes[FIRST_TS_OFFSET..FIRST_ITEM_OFFSET].copy_from_slice(&self.first_ts.to_le_bytes());
        bytes[FIRST_ITEM_OFFSET..BLOCK_OFFSET_OFFSET].copy_from_slice(&self.first_item.to_le_bytes());
        bytes[BLOCK_OFFSET_OFFSET..BLOCK_LEN_OFFSET].copy_from_slice(&self.block.offset.to_le_bytes());
        bytes[BLOCK_LEN_OFFSET..].copy_from_slice(&self.block.len.to_le_bytes());
        bytes
    }
}

/// A decoded view of a block index payload.
#[derive(Debug, Clone, Copy)]
pub struct BlockIndex<'a> {
    payload: &'a [u8],
    at: u64,
}

impl<'a> BlockIndex<'a> {
    /// Checks that a payload at absolute offset `at` holds exactly `n_blocks` entries.
    pub fn decode(payload: &'a [u8], at: u64, n_blocks: u64) -> Result<Self, DecodeError> {
        let expected = (n_blocks as u128) * ENTRY_LEN as u128;
        if expected != payload.len() as u128 || n_blocks == 0 {
            return Err(DecodeError::invalid(
                "block index",
                at,
                format!("{} bytes cannot hold {n_blocks} entries of {ENTRY_LEN} bytes", payload.len()),
            ));
        }
        Ok(BlockIndex { payload, at })
    }

    /// Checks the rules of a stream of `n_items` items that every read needs: the first block
    /// starts at item 0, and there are no more blocks than items (each block holds at least one;
    /// [`block_items`](Self::block_items) checks each block's count as it is used).
    ///
    /// # Errors
    /// [`DecodeError::Invalid`] naming the block index.
    pub fn check_start(&self, n_items: u64) -> Result<(), DecodeError> {
        if self.entry(0).first_item != 0 || self.len() as u64 > n_items {
            return Err(DecodeError::invalid(
                "block index",
                self.at,
                format!(
                    "{} blocks for {n_items} items, first starting at item {}",
                    self.len(),
                    self.entry(0).first_item
                ),
            ));
        }
        Ok(())
    }

    /// First item and item count of block `idx` of a stream of `n_items` items: up to the next
    /// block's first item, or to `n_items` for the last block.
    ///
    /// # Errors
    /// [`DecodeError::Invalid`] if the block would hold no item (first items not strictly
    /// increasing, or the last one not below `n_items`).
    ///
    /// # Panics
    /// If `idx >= len()`.
    pub fn block_items(&self, idx: usize, n_items: u64) -> Result<(u64, u64), DecodeError> {
        let first = self.entry(idx).first_item;
        let end = if idx + 1 < self.len() { self.entry(idx + 1).first_item } else { n_items };
        if end <= first {
            return Err(DecodeError::invalid(
                "block index first item",
                self.entry_offset(idx),
                format!("block {idx} starts at item {first}, the next at {end}"),
            ));
        }
        Ok((first, end - first))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.payload.len() / ENTRY_LEN
    }

    /// Always false: a block index lists at least one block.
    pub fn is_empty(&self) -> bool {
        self.payload.is_empty()
    }

    /// Absolute offset of entry `idx`.
    pub fn entry_offset(&self, idx: usize) -> u64 {
        self.at + (idx * ENTRY_LEN) as u64
    }

    /// The `idx`-th entry.
    ///
    /// # Panics
    /// If `idx >= len()`.
    pub fn entry(&self, idx: usize) -> BlockIndexEntry {
        let mut cur = Cursor::new(&self.payload[idx * ENTRY_LEN..(idx + 1) * ENTRY_LEN], self.entry_offset(idx));
        // The slice is exactly ENTRY_LEN bytes long, so none of these reads can fail.
        BlockIndexEntry {
            first_ts: cur.i64("first_ts").expect("entry is ENTRY_LEN bytes"),
            first_item: cur.u64("first_item").expect("entry is ENTRY_LEN bytes"),
            block: Handle {
                offset: cur.u64("offset").expect("entry is ENTRY_LEN bytes"),
                len: cur.u32("len").expect("entry is ENTRY_LEN bytes"),
            },
        }
    }

    fn field(&self, idx: usize, offset: usize) -> [u8; 8] {
        let at = idx * ENTRY_LEN + offset;
        self.payload[at..at + 8].try_into().expect("8 bytes")
    }

    /// The first timestamp of entry `idx`, without decoding the rest of the entry.
    ///
    /// # Panics
    /// If `idx >= len()`.
    pub fn first_ts(&self, idx: usize) -> i64 {
        i64::from_le_bytes(self.field(idx, FIRST_TS_OFFSET))
    }

    /// The first item number of entry `idx`, without decoding the rest of the entry.
    ///
    /// # Panics
    /// If `idx >= len()`.
    pub fn first_item(&self, idx: usize) -> u64 {
        u64::from_le_bytes(self.field(idx, FIRST_ITEM_OFFSET))
    }

    /// Number of blocks whose first timestamp is below `ts`: the block holding the first event at
    /// or after `ts` is this count minus one (or 0).
    pub fn count_first_ts_below(&self, ts: i128) -> usize {
        partition_point(self.len(), |idx| i128::from(self.first_ts(idx)) < ts)
    }

    /// Index of the block holding item number `item`, assuming `item` is below the stream's
    /// item count.
    pub fn block_of_item(&self, item: u64) -> usize {
        partition_point(self.len(), |idx| self.first_item(idx) <= item).saturating_sub(1)
    }
}

/// The first index in `0..len` for which `pred` is false, given that `pred` is true for a prefix.
pub(crate) fn partition_point(len: usize, mut pred: impl FnMut(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_search() {
        let entries = [
            BlockIndexEntry { first_ts: 10, first_item: 0, block: Handle { offset: 24, len: 5 } },
            BlockIndexEntry { first_ts: 10, first_item: 3, block: Handle { offset: 42, len: 6 } },
            BlockIndexEntry { first_ts: 20, first_item: 7, block: Handle { offset: 61, len: 7 } },
        ];
        let mut payload = Vec::new();
        for entry in &entries {
            entry.encode(&mut payload);
        }
        assert_eq!(payload.len(), 3 * ENTRY_LEN);
        let index = BlockIndex::decode(&payload, 500, 3).unwrap();
        assert_eq!(index.entry(2), entries[2]);
        assert_eq!(index.count_first_ts_below(10), 0);
        assert_eq!(index.count_first_ts_below(11), 2);
        assert_eq!(index.count_first_ts_below(i128::MAX), 3);
        assert_eq!(index.block_of_item(0), 0);
        assert_eq!(index.block_of_item(6), 1);
        assert_eq!(index.block_of_item(7), 2);
        assert!(BlockIndex::decode(&payload, 500, 4).is_err());

        // The rules every read checks: items 0..3, 3..7, 7..n for a stream of n items.
        assert!(index.check_start(10).is_ok());
        assert_eq!(index.block_items(0, 10), Ok((0, 3)));
        assert_eq!(index.block_items(2, 10), Ok((7, 3)));
        assert!(index.check_start(2).is_err(), "three blocks cannot hold two items");
        assert!(matches!(
            index.block_items(2, 7),
            Err(DecodeError::Invalid { field: "block index first item", offset: 556, .. })
        ));
    }
}
