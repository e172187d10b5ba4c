//! The grouping table of a space: for each grouping, in name order, the range of event numbers it
//! holds and its block index, so that a posting can be resolved to its event.
//!
//! Layout: docs/FORMAT.md#grouping-table.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::block_index::partition_point;
use crate::v1::catalog::StreamRef;
use crate::v1::frame::Handle;

/// Offset of the first event number within an entry.
pub const FIRST_EVENT_OFFSET: usize = 0;
/// Offset of the event count within an entry.
pub const N_EVENTS_OFFSET: usize = FIRST_EVENT_OFFSET + size_of::<u64>();
/// Offset of the grouping's smallest timestamp within an entry.
pub const MIN_TS_OFFSET: usize = N_EVENTS_OFFSET + size_of::<u64>();
/// Offset of the stream handle's offset within an entry.
pub const HANDLE_OFFSET_OFFSET: usize = MIN_TS_OFFSET + size_of::<i64>();
/// Offset of the stream handle's stored length within an entry.
pub const HANDLE_LEN_OFFSET: usize = HANDLE_OFFSET_OFFSET + size_of::<u64>();
/// Offset of the block count within an entry.
pub const N_BLOCKS_OFFSET: usize = HANDLE_LEN_OFFSET + size_of::<u32>();
/// Encoded size of one entry.
pub const ENTRY_LEN: usize = N_BLOCKS_OFFSET + size_of::<u64>();

/// One grouping of a space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupingTableEntry {
    /// Event number of the grouping's first event within the space.
    pub first_event: u64,
    /// Number of events in the grouping.
    pub n_events: u64,
    /// Timestamp of the grouping's first event.
    pub min_ts: i64,
    /// The grouping's data blocks.
    pub stream: StreamRef,
}

impl GroupingTableEntry {
    /// Appends the encoded entry.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.first_event.to_le_bytes());
        out.extend_from_slice(&self.n_events.to_le_bytes());
        out.extend_from_slice(&self.min_ts.to_le_bytes());
        out.extend_from_slice(&self.stream.handle.offset.to_le_bytes());
        out.extend_from_slice(&self.stream.handle.len.to_le_bytes());
        out.extend_from_slice(&self.stream.n_blocks.to_le_bytes());
    }
}

/// The table of a space of one grouping, which a version 2 file does not store (its space
/// summary's grouping table handle is `(0, 0)`): the one entry its grouping's catalog entry
/// implies.
pub fn of_only_grouping(grouping: &crate::v1::catalog::GroupingEntry) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENTRY_LEN);
    GroupingTableEntry {
        first_event: 0,
        n_events: grouping.stats.n_events,
        min_ts: grouping.stats.min_ts,
        stream: grouping.stream,
    }
    .encode(&mut out);
    out
}

/// A decoded view of a grouping table payload.
#[derive(Debug, Clone, Copy)]
pub struct GroupingTable<'a> {
    payload: &'a [u8],
    at: u64,
}

impl<'a> GroupingTable<'a> {
    /// Checks that a payload at absolute offset `at` holds `n_groupings` entries that number the
    /// space's `n_events` events contiguously from 0.
    ///
    /// Cost: O(number of groupings).
    pub fn decode(payload: &'a [u8], at: u64, n_groupings: u64, n_events: u64) -> Result<Self, DecodeError> {
        if (n_groupings as u128) * ENTRY_LEN as u128 != payload.len() as u128 {
            return Err(DecodeError::invalid(
                "grouping table",
                at,
                format!("{} bytes cannot hold {n_groupings} entries of {ENTRY_LEN} bytes", payload.len()),
            ));
        }
        let table = GroupingTable { payload, at };
        let mut next_event = 0u64;
        for idx in 0..table.len() {
            let entry = table.entry(idx);
            if entry.first_event != next_event || entry.n_events == 0 || entry.stream.n_blocks == 0 {
                return Err(DecodeError::invalid(
                    "grouping table entry",
                    table.entry_offset(idx),
                    format!(
                        "grouping {idx} holds {} events from {}, expected a non-empty range from {next_event}",
                        entry.n_events, entry.first_event
                    ),
                ));
            }
            next_event = next_event.saturating_add(entry.n_events);
        }
        if next_event != n_events {
            return Err(DecodeError::invalid(
                "grouping table",
                at,
                format!("groupings hold {next_event} events, the space has {n_events}"),
            ));
        }
        Ok(table)
    }

    /// A view of a payload already checked by [`GroupingTable::decode`]. Lookups stay
    /// bounds-checked on any payload; only the numbering invariants are assumed.
    pub fn view(payload: &'a [u8], at: u64) -> Self {
        let whole = payload.len() / ENTRY_LEN * ENTRY_LEN;
        GroupingTable { payload: &payload[..whole], at }
    }

    /// Number of groupings.
    pub fn len(&self) -> usize {
        self.payload.len() / ENTRY_LEN
    }

    /// True when the table lists no grouping.
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
    pub fn entry(&self, idx: usize) -> GroupingTableEntry {
        let mut cur = Cursor::new(&self.payload[idx * ENTRY_LEN..(idx + 1) * ENTRY_LEN], self.entry_offset(idx));
        // The slice is exactly ENTRY_LEN bytes long, so none of these reads can fail.
        let first_event = cur.u64("first_event").expect("entry is ENTRY_LEN bytes");
        let n_events = cur.u64("n_events").expect("entry is ENTRY_LEN bytes");
        let min_ts = cur.i64("min_ts").expect("entry is ENTRY_LEN bytes");
        let offset = cur.u64("handle offset").expect("entry is ENTRY_LEN bytes");
        let len = cur.u32("handle len").expect("entry is ENTRY_LEN bytes");
        let n_blocks = cur.u64("n_blocks").expect("entry is ENTRY_LEN bytes");
        GroupingTableEntry {
            first_event,
            n_events,
            min_ts,
            stream: StreamRef { handle: Handle { offset, len }, n_blocks },
        }
    }

    /// The first event number of entry `idx`, without decoding the rest of the entry.
    ///
    /// # Panics
    /// If `idx >= len()`.
    pub fn first_event(&self, idx: usize) -> u64 {
        let at = idx * ENTRY_LEN + FIRST_EVENT_OFFSET;
        u64::from_le_bytes(self.payload[at..at + 8].try_into().expect("8 bytes"))
    }

    /// Index of the grouping holding event number `event`, if any does.
    pub fn grouping_of(&self, event: u64) -> Option<usize> {
        let idx = partition_point(self.len(), |idx| self.first_event(idx) <= event).checked_sub(1)?;
        let entry = self.entry(idx);
        (event - entry.first_event < entry.n_events).then_some(idx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_lookup() {
        let stream = StreamRef { handle: Handle { offset: 30, len: 28 }, n_blocks: 1 };
        let mut payload = Vec::new();
        GroupingTableEntry { first_event: 0, n_events: 2, min_ts: 0, stream }.encode(&mut payload);
        GroupingTableEntry { first_event: 2, n_events: 5, min_ts: 0, stream }.encode(&mut payload);
        let table = GroupingTable::decode(&payload, 0, 2, 7).unwrap();
        assert_eq!(table.grouping_of(0), Some(0));
        assert_eq!(table.grouping_of(1), Some(0));
        assert_eq!(table.grouping_of(6), Some(1));
        assert_eq!(table.grouping_of(7), None);
        assert!(GroupingTable::decode(&payload, 0, 2, 8).is_err());
    }

    #[test]
    fn gap_in_event_numbers_is_rejected() {
        let stream = StreamRef { handle: Handle { offset: 30, len: 28 }, n_blocks: 1 };
        let mut payload = Vec::new();
        GroupingTableEntry { first_event: 0, n_events: 2, min_ts: 0, stream }.encode(&mut payload);
        GroupingTableEntry { first_event: 3, n_events: 5, min_ts: 0, stream }.encode(&mut payload);
        assert!(
            matches!(GroupingTable::decode(&payload, 100, 2, 8), Err(DecodeError::Invalid { field: "grouping table entry", offset, .. }) if offset == 100 + ENTRY_LEN as u64)
        );
    }
}
