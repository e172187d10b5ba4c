//! Posting blocks: event numbers within a space, in the (timestamp, insertion) order of the
//! events they point at.
//!
//! Layout: docs/FORMAT.md#posting-block.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::varint;

/// Appends the payload of a posting block holding `events` (non-empty).
pub fn encode(events: &[u64], out: &mut Vec<u8>) {
    varint::encode(events.len() as u64, out);
    let mut previous = 0u64;
    for (idx, &event) in events.iter().enumerate() {
        if idx == 0 {
            varint::encode(event, out);
        } else {
            varint::encode(varint::zigzag(event.wrapping_sub(previous) as i64), out);
        }
        previous = event;
    }
}

/// Decodes a posting block payload at absolute offset `at` into `out` (cleared first).
///
/// Checks that it holds exactly `n_expected` postings, each below `n_space_events`. On error
/// `out` is left empty.
pub fn decode(
    payload: &[u8],
    at: u64,
    n_expected: u64,
    n_space_events: u64,
    out: &mut Vec<u64>,
) -> Result<(), DecodeError> {
    crate::v1::cleared_on_error(out, |out| decode_postings(payload, at, n_expected, n_space_events, out))
}

fn decode_postings(
    payload: &[u8],
    at: u64,
    n_expected: u64,
    n_space_events: u64,
    out: &mut Vec<u64>,
) -> Result<(), DecodeError> {
    out.clear();
    let mut cur = Cursor::new(payload, at);
    let count_at = cur.offset();
    let n_postings = cur.uvarint("posting block count")?;
    if n_postings != n_expected || n_postings == 0 {
        return Err(DecodeError::invalid(
            "posting block count",
            count_at,
            format!("block holds {n_postings} postings, its block index says {n_expected}"),
        ));
    }
    out.reserve((n_postings as usize).min(payload.len()));
    let mut event = 0u64;
    for idx in 0..n_postings {
        let posting_at = cur.offset();
        let raw = cur.uvarint("posting")?;
        event = if idx == 0 { raw } else { event.wrapping_add(varint::unzigzag(raw) as u64) };
        if event >= n_space_events {
            return Err(DecodeError::invalid(
                "posting",
                posting_at,
                format!("event number {event} is not below the space's {n_space_events} events"),
            ));
        }
        out.push(event);
    }
    cur.finish("posting block")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_known_bytes() {
        let events = [5u64, 6, 2, 100];
        let mut payload = Vec::new();
        encode(&events, &mut payload);
        assert_eq!(payload, [4, 5, 2, 7, 0xc4, 0x01]);
        let mut out = Vec::new();
        decode(&payload, 0, 4, 101, &mut out).unwrap();
        assert_eq!(out, events);
    }

    #[test]
    fn posting_past_space_is_rejected() {
        let mut payload = Vec::new();
        encode(&[3, 9], &mut payload);
        let mut out = Vec::new();
        assert!(matches!(
            decode(&payload, 10, 2, 9, &mut out),
            Err(DecodeError::Invalid { field: "posting", offset: 12, .. })
        ));
    }
}
