//! Data blocks: the events of one grouping, in (timestamp, insertion) order.
//!
//! Layout: docs/FORMAT.md#data-block.
//!
//! Timestamps are deltas from the previous event (the first event's timestamp is the block index
//! entry's `first_ts`), and data lengths are stored relative to the shortest event in the block,
//! so that events of similar size cost one length byte.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::varint;

/// Where one decoded event sits in its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpan {
    /// The event's timestamp.
    pub ts: i64,
    /// Position of the first data byte within the block payload.
    pub start: u32,
    /// Position one past the last data byte within the block payload.
    pub end: u32,
}

/// Appends the payload of a data block holding `events` (timestamp, data), which must be sorted
/// by timestamp and non-empty.
pub fn encode<'e>(events: impl Iterator<Item = (i64, &'e [u8])> + Clone, out: &mut Vec<u8>) {
    let mut n_events = 0u64;
    let mut len_base = u64::MAX;
    for (_, data) in events.clone() {
        n_events += 1;
        len_base = len_base.min(data.len() as u64);
    }
    varint::encode(n_events, out);
    varint::encode(len_base, out);
    let mut previous_ts: Option<i64> = None;
    for (ts, data) in events {
        if let Some(previous) = previous_ts {
            debug_assert!(previous <= ts, "events must be sorted by timestamp");
            varint::encode(ts.wrapping_sub(previous) as u64, out);
        }
        previous_ts = Some(ts);
        varint::encode(data.len() as u64 - len_base, out);
        out.extend_from_slice(data);
    }
}

/// Decodes a data block payload at absolute offset `at` whose first event has timestamp
/// `first_ts`, appending each event's span to `out` (which is cleared first).
///
/// Checks that the block holds exactly `n_expected` events, that timestamps never overflow and
/// that no byte is left over.
pub fn decode(
    payload: &[u8],
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    out.clear();
    let mut cur = Cursor::new(payload, at);
    let count_at = cur.offset();
    let n_events = cur.uvarint("data block event count")?;
    if n_events != n_expected || n_events == 0 {
        return Err(DecodeError::invalid(
            "data block event count",
            count_at,
            format!("block holds {n_events} events, its block index says {n_expected}"),
        ));
    }
    let len_base = cur.uvarint("data block length base")?;
    // Each event takes at least one byte, so this bounds the reservation by the payload size.
    out.reserve((n_events as usize).min(payload.len()));
    let mut ts = first_ts;
    for idx in 0..n_events {
        if idx > 0 {
            let delta_at = cur.offset();
            let delta = cur.uvarint("event timestamp delta")?;
            ts = i64::try_from(i128::from(ts) + i128::from(delta)).map_err(|_| {
                DecodeError::invalid("event timestamp delta", delta_at, format!("{ts} + {delta} overflows i64"))
            })?;
        }
        let len_at = cur.offset();
        let len = cur
            .uvarint("event data length")?
            .checked_add(len_base)
            .filter(|len| *len <= payload.len() as u64)
            .ok_or_else(|| {
                DecodeError::invalid(
                    "event data length",
                    len_at,
                    format!("length runs past the {}-byte block", payload.len()),
                )
            })?;
        let start = cur.pos();
        cur.take(len as usize, "event data")?;
        out.push(EventSpan { ts, start: start as u32, end: cur.pos() as u32 });
    }
    cur.finish("data block")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_known_bytes() {
        let events: Vec<(i64, &[u8])> = vec![(5, b"abc"), (5, b"de"), (300, b"")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        assert_eq!(payload, [3, 0, 3, b'a', b'b', b'c', 0, 2, b'd', b'e', 0xa7, 0x02, 0]);
        let mut spans = Vec::new();
        decode(&payload, 0, 5, 3, &mut spans).unwrap();
        let decoded: Vec<(i64, &[u8])> =
            spans.iter().map(|s| (s.ts, &payload[s.start as usize..s.end as usize])).collect();
        assert_eq!(decoded, events);
    }

    #[test]
    fn extreme_timestamps_roundtrip() {
        let events: Vec<(i64, &[u8])> = vec![(i64::MIN, b"a"), (i64::MAX, b"b")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        let mut spans = Vec::new();
        decode(&payload, 0, i64::MIN, 2, &mut spans).unwrap();
        assert_eq!(spans[1].ts, i64::MAX);
    }

    #[test]
    fn overflowing_delta_is_rejected() {
        let events: Vec<(i64, &[u8])> = vec![(0, b"a"), (10, b"b")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        let mut spans = Vec::new();
        assert!(matches!(
            decode(&payload, 0, i64::MAX, 2, &mut spans),
            Err(DecodeError::Invalid { field: "event timestamp delta", offset: 4, .. })
        ));
    }

    #[test]
    fn wrong_count_is_rejected() {
        let mut payload = Vec::new();
        encode([(1i64, &b"x"[..])].into_iter(), &mut payload);
        let mut spans = Vec::new();
        assert!(decode(&payload, 0, 1, 2, &mut spans).is_err());
    }
}
