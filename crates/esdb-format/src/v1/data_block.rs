//! Data blocks: the events of one grouping, in (timestamp, insertion) order.
//!
//! Layout: docs/FORMAT.md#data-block.
//!
//! Timestamps are stored as deltas from the previous event and data lengths relative to the
//! shortest event of the block, each list bit-packed at the width its largest value needs. Events
//! that are close in time and similar in size cost a few bits each.

use crate::bitpack;
use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::MAX_BLOCK_EVENTS;
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
/// by timestamp, non-empty and at most [`MAX_BLOCK_EVENTS`] long.
pub fn encode<'e>(events: impl Iterator<Item = (i64, &'e [u8])> + Clone, out: &mut Vec<u8>) {
    let mut n_events = 0u64;
    let mut len_base = u64::MAX;
    let mut len_max = 0u64;
    let mut delta_max = 0u64;
    let mut previous: Option<i64> = None;
    for (ts, data) in events.clone() {
        n_events += 1;
        len_base = len_base.min(data.len() as u64);
        len_max = len_max.max(data.len() as u64);
        if let Some(previous) = previous {
            debug_assert!(previous <= ts, "events must be sorted by timestamp");
            delta_max = delta_max.max(ts.wrapping_sub(previous) as u64);
        }
        previous = Some(ts);
    }
    let ts_width = bitpack::width_for(delta_max);
    let len_width = bitpack::width_for(len_max - len_base);
    varint::encode(n_events, out);
    varint::encode(len_base, out);
    out.push(ts_width);
    out.push(len_width);
    let deltas = events.clone().zip(events.clone().skip(1)).map(|((a, _), (b, _))| b.wrapping_sub(a) as u64);
    bitpack::pack(deltas, ts_width, out);
    bitpack::pack(events.clone().map(|(_, data)| data.len() as u64 - len_base), len_width, out);
    for (_, data) in events {
        out.extend_from_slice(data);
    }
}

/// Decodes a data block payload at absolute offset `at` whose first event has timestamp
/// `first_ts`, appending each event's span to `out` (which is cleared first).
///
/// Checks that the block holds exactly `n_expected` events, that timestamps never overflow and
/// that the data ends exactly at the end of the payload. On error `out` is left empty.
pub fn decode(
    payload: &[u8],
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    decode_prefix(payload, payload.len() as u64, at, first_ts, n_expected, out)
}

/// Appends the payload of a data block as a version 2 file stores it: as [`encode`], except that
/// a block of one event is that event's data alone (its count is the block index's, its
/// timestamp the entry's `first_ts`, so nothing else is needed).
pub fn encode_v2<'e>(events: impl Iterator<Item = (i64, &'e [u8])> + Clone, out: &mut Vec<u8>) {
    let mut two = events.clone().take(2);
    match (two.next(), two.next()) {
        (Some((_, data)), None) => out.extend_from_slice(data),
        _ => encode(events, out),
    }
}

/// [`decode`] for a file of format major version `major`: in version 2, a block of one event is
/// the event's data alone (see [`encode_v2`]).
///
/// # Errors
/// As [`decode`].
pub fn decode_for(
    major: u16,
    payload: &[u8],
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    decode_prefix_for(major, payload, payload.len() as u64, at, first_ts, n_expected, out)
}

/// [`decode_prefix`] for a file of format major version `major` (see [`decode_for`]).
///
/// # Errors
/// As [`decode_prefix`].
pub fn decode_prefix_for(
    major: u16,
    prefix: &[u8],
    payload_len: u64,
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    if major >= 2 && n_expected == 1 {
        out.clear();
        out.push(one_event_span(payload_len, at, first_ts)?);
        return Ok(());
    }
    decode_prefix(prefix, payload_len, at, first_ts, n_expected, out)
}

/// Like [`decode`], from only the first bytes of a payload of `payload_len` bytes: enough when
/// `prefix` reaches past the event lengths. Fails with [`DecodeError::Truncated`] when it does
/// not, so a caller can retry with a longer prefix; the spans of events whose data lies beyond
/// the prefix are computed all the same.
pub fn decode_prefix(
    prefix: &[u8],
    payload_len: u64,
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    crate::v1::cleared_on_error(out, |out| decode_spans(prefix, payload_len, at, first_ts, n_expected, out))
}

/// The span of a version 2 block of one event: the whole payload (see [`encode_v2`]).
fn one_event_span(payload_len: u64, at: u64, first_ts: i64) -> Result<EventSpan, DecodeError> {
    let end = u32::try_from(payload_len).map_err(|_| {
        DecodeError::invalid("data block", at, format!("one event of {payload_len} bytes exceeds the block limit"))
    })?;
    Ok(EventSpan { ts: first_ts, start: 0, end })
}

/// The fields of a data block before its packed arrays.
struct Header {
    n_events: u64,
    len_base: u64,
    ts_width: u8,
    len_width: u8,
}

/// Reads a data block's header: its event count (which must be `n_expected`), length base and
/// widths.
fn decode_header(cur: &mut Cursor<'_>, n_expected: u64) -> Result<Header, DecodeError> {
    let count_at = cur.offset();
    let n_events = cur.uvarint("data block event count")?;
    if n_events != n_expected || n_events == 0 || n_events > MAX_BLOCK_EVENTS {
        return Err(DecodeError::invalid(
            "data block event count",
            count_at,
            format!("block holds {n_events} events, its block index says {n_expected} (at most {MAX_BLOCK_EVENTS})"),
        ));
    }
    let len_base = cur.uvarint("data block length base")?;
    let ts_width = cur.u8("data block timestamp width")?;
    let len_width_at = cur.offset();
    let len_width = cur.u8("data block length width")?;
    if len_width > 32 {
        return Err(DecodeError::invalid(
            "data block length width",
            len_width_at,
            format!("{len_width} bits exceeds 32"),
        ));
    }
    Ok(Header { n_events, len_base, ts_width, len_width })
}

/// The span of a data block's first event, from only the first bytes of a payload of
/// `payload_len` bytes in a file of format major version `major`: what a lookup of a stream's
/// first event needs, without the other events' spans. Checks the block's header as
/// [`decode_prefix`] does and that the first event lies within the payload; the other events'
/// lengths are checked when the block is decoded whole. Fails with [`DecodeError::Truncated`]
/// when `prefix` ends before the first event's length, so a caller can retry with a longer one.
///
/// ```
/// use esdb_format::v1::data_block::{decode_first_for, encode};
///
/// let mut payload = Vec::new();
/// encode([(10i64, &b"first"[..]), (12, &b"second"[..])].into_iter(), &mut payload);
/// let span = decode_first_for(2, &payload, payload.len() as u64, 0, 10, 2).unwrap();
/// assert_eq!(&payload[span.start as usize..span.end as usize], b"first");
/// assert_eq!(span.ts, 10);
/// ```
///
/// # Errors
/// As [`decode_prefix`], for the header and the first event.
pub fn decode_first_for(
    major: u16,
    prefix: &[u8],
    payload_len: u64,
    at: u64,
    first_ts: i64,
    n_expected: u64,
) -> Result<EventSpan, DecodeError> {
    if major >= 2 && n_expected == 1 {
        return one_event_span(payload_len, at, first_ts);
    }
    let mut cur = Cursor::new(prefix, at);
    let Header { n_events, len_base, ts_width, len_width } = decode_header(&mut cur, n_expected)?;
    if ts_width > 64 {
        return Err(DecodeError::invalid(
            "event timestamp deltas",
            cur.offset(),
            format!("bit width {ts_width} exceeds 64"),
        ));
    }
    let lengths_at = (cur.pos() as u64).saturating_add(bitpack::packed_len(n_events - 1, ts_width));
    let data_start = lengths_at.saturating_add(bitpack::packed_len(n_events, len_width));
    if data_start > payload_len {
        return Err(DecodeError::Truncated {
            field: "event data lengths",
            offset: at.saturating_add(lengths_at),
            need: data_start - lengths_at,
            have: payload_len.saturating_sub(lengths_at),
        });
    }
    // The first length is the low `len_width` (at most 32) bits of the lengths' first bytes.
    let first_bytes = usize::from(len_width).div_ceil(8);
    let Some(bytes) = usize::try_from(lengths_at).ok().and_then(|start| prefix.get(start..start + first_bytes)) else {
        return Err(DecodeError::Truncated {
            field: "event data lengths",
            offset: at.saturating_add(lengths_at),
            need: first_bytes as u64,
            have: (prefix.len() as u64).saturating_sub(lengths_at),
        });
    };
    let mut word = [0u8; 8];
    word[..first_bytes].copy_from_slice(bytes);
    let len_delta = u64::from_le_bytes(word) & ((1u64 << len_width) - 1);
    let end = data_start.saturating_add(len_delta.saturating_add(len_base));
    if end > payload_len {
        return Err(DecodeError::invalid(
            "event data lengths",
            at.saturating_add(lengths_at),
            format!("the first event's data runs to byte {end} of a {payload_len}-byte block"),
        ));
    }
    // Both offsets lie within the payload, which is far below 4 GiB.
    Ok(EventSpan { ts: first_ts, start: data_start as u32, end: end as u32 })
}

fn decode_spans(
    payload: &[u8],
    payload_len: u64,
    at: u64,
    first_ts: i64,
    n_expected: u64,
    out: &mut Vec<EventSpan>,
) -> Result<(), DecodeError> {
    out.clear();
    let mut cur = Cursor::new(payload, at);
    let Header { n_events, len_base, ts_width, len_width } = decode_header(&mut cur, n_expected)?;
    // n_events is at most MAX_BLOCK_EVENTS, which bounds this reservation.
    out.reserve(n_events as usize);
    let deltas_at = cur.offset();
    let mut ts = first_ts;
    let mut overflow = false;
    out.push(EventSpan { ts: first_ts, start: 0, end: 0 });
    bitpack::unpack(&mut cur, n_events - 1, ts_width, "event timestamp deltas", |delta| {
        match ts.checked_add_unsigned(delta) {
            Some(next) => ts = next,
            None => overflow = true,
        }
        out.push(EventSpan { ts, start: 0, end: 0 });
    })?;
    if overflow {
        return Err(DecodeError::invalid(
            "event timestamp deltas",
            deltas_at,
            format!("timestamps run past i64::MAX from first timestamp {first_ts}"),
        ));
    }
    let lengths_at = cur.offset();
    // The data follows the lengths; each span is placed as its length is read, in offsets
    // clamped to u32 (the check below refuses lengths that do not fill the payload exactly, and a
    // payload is far below 4 GiB).
    let data_start = (cur.pos() as u64).saturating_add(bitpack::packed_len(n_events, len_width));
    let mut pos = data_start;
    let mut spans = out.iter_mut();
    bitpack::unpack(&mut cur, n_events, len_width, "event data lengths", |len_delta| {
        let start = pos;
        pos = pos.saturating_add(len_delta.saturating_add(len_base));
        if let Some(span) = spans.next() {
            span.start = start.min(u64::from(u32::MAX)) as u32;
            span.end = pos.min(u64::from(u32::MAX)) as u32;
        }
    })?;
    debug_assert_eq!(cur.pos() as u64, data_start);
    if pos - data_start != payload_len - data_start {
        return Err(DecodeError::invalid(
            "event data lengths",
            lengths_at,
            format!(
                "lengths add up to {} bytes, the block has {} bytes of data",
                pos - data_start,
                payload_len - data_start
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_2_blocks_of_one_event_are_the_data_alone() {
        let mut out = Vec::new();
        super::encode_v2([(7i64, &b"hello"[..])].into_iter(), &mut out);
        assert_eq!(out, b"hello");
        let mut spans = Vec::new();
        super::decode_for(2, &out, 100, 7, 1, &mut spans).unwrap();
        assert_eq!(spans, [super::EventSpan { ts: 7, start: 0, end: 5 }]);
        // Two events keep the version 1 layout.
        let mut two = Vec::new();
        super::encode_v2([(7i64, &b"a"[..]), (9, &b"bc"[..])].into_iter(), &mut two);
        let mut v1 = Vec::new();
        super::encode([(7i64, &b"a"[..]), (9, &b"bc"[..])].into_iter(), &mut v1);
        assert_eq!(two, v1);
        super::decode_for(2, &two, 0, 7, 2, &mut spans).unwrap();
        assert_eq!(spans.len(), 2);
        // A version 1 block of one event has its header.
        assert!(super::decode_for(1, b"hello", 0, 7, 1, &mut spans).is_err());
    }

    use super::*;

    #[test]
    fn roundtrip_with_known_bytes() {
        let events: Vec<(i64, &[u8])> = vec![(5, b"abc"), (5, b"de"), (300, b"")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        // n=3, len_base=0, ts_width=9 (295 needs 9 bits), len_width=2 (3 needs 2 bits),
        // deltas 0 and 295 in 18 bits (3 bytes), lengths 3, 2, 0 in 6 bits (1 byte), data.
        assert_eq!(payload, [3, 0, 9, 2, 0x00, 0x4e, 0x02, 0x0b, b'a', b'b', b'c', b'd', b'e']);
        let mut spans = Vec::new();
        decode(&payload, 0, 5, 3, &mut spans).unwrap();
        let decoded: Vec<(i64, &[u8])> =
            spans.iter().map(|s| (s.ts, &payload[s.start as usize..s.end as usize])).collect();
        assert_eq!(decoded, events);
    }

    #[test]
    fn equal_sizes_and_timestamps_cost_no_bits() {
        let events: Vec<(i64, &[u8])> = vec![(1, b"xy"), (1, b"zw"), (1, b"uv")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        assert_eq!(payload, [3, 2, 0, 0, b'x', b'y', b'z', b'w', b'u', b'v']);
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
            Err(DecodeError::Invalid { field: "event timestamp deltas", offset: 4, .. })
        ));
    }

    #[test]
    fn lengths_must_fill_the_block() {
        let mut payload = Vec::new();
        encode([(1i64, &b"xyz"[..])].into_iter(), &mut payload);
        payload.push(0);
        let mut spans = Vec::new();
        assert!(matches!(
            decode(&payload, 0, 1, 1, &mut spans),
            Err(DecodeError::Invalid { field: "event data lengths", .. })
        ));
    }

    /// See: fuzz/regressions/decode_data_block/crash-8bacb7f256e42e8ce11b9a6fddd620e635400ad1: a block
    /// whose lengths fail to decode left half-filled spans behind.
    #[test]
    fn fuzz_crash_8bacb7f2_error_leaves_no_spans() {
        let mut spans = vec![EventSpan { ts: 1, start: 2, end: 3 }];
        assert!(decode(&[1, 5, 0, 9, 152, 101, 101, 108, 108], 0, 1 << 59, 1, &mut spans).is_err());
        assert!(spans.is_empty());
    }

    #[test]
    fn prefix_gives_the_same_spans_or_truncated() {
        let events: Vec<(i64, &[u8])> = vec![(5, b"abc"), (5, b"de"), (300, b"")];
        let mut payload = Vec::new();
        encode(events.iter().copied(), &mut payload);
        let mut full = Vec::new();
        decode(&payload, 0, 5, 3, &mut full).unwrap();
        for cut in 0..=payload.len() {
            let mut spans = Vec::new();
            match decode_prefix(&payload[..cut], payload.len() as u64, 0, 5, 3, &mut spans) {
                Ok(()) => assert_eq!(spans, full, "cut at {cut}"),
                Err(err) => {
                    assert!(cut < 8, "cut at {cut}: {err}");
                    assert!(matches!(err, DecodeError::Truncated { .. }));
                }
            }
        }
    }

    proptest::proptest! {
        /// The first span read from any prefix is the first span of the whole decode, or the
        /// prefix is too short (and the caller retries with more).
        #[test]
        fn the_first_span_is_the_decodes_first(
            lens in proptest::collection::vec(0usize..300, 1..40),
            deltas in proptest::collection::vec(0i64..1_000_000, 40),
            major in 1u16..=2,
        ) {
            let mut ts = -7i64;
            let data: Vec<Vec<u8>> = lens.iter().map(|&len| vec![0xab; len]).collect();
            let events: Vec<(i64, &[u8])> = data
                .iter()
                .zip(&deltas)
                .map(|(bytes, delta)| {
                    ts += delta;
                    (ts, bytes.as_slice())
                })
                .collect();
            let mut payload = Vec::new();
            if major == 2 { encode_v2(events.iter().copied(), &mut payload) } else { encode(events.iter().copied(), &mut payload) }
            let (first_ts, n) = (events[0].0, events.len() as u64);
            let mut full = Vec::new();
            decode_for(major, &payload, 40, first_ts, n, &mut full).unwrap();
            for cut in 0..=payload.len() {
                match decode_first_for(major, &payload[..cut], payload.len() as u64, 40, first_ts, n) {
                    Ok(span) => proptest::prop_assert_eq!(span, full[0], "cut at {}", cut),
                    Err(err) => proptest::prop_assert!(matches!(err, DecodeError::Truncated { .. }), "cut at {}: {}", cut, err),
                }
            }
            proptest::prop_assert_eq!(decode_first_for(major, &payload, payload.len() as u64, 40, first_ts, n).unwrap(), full[0]);
        }
    }

    #[test]
    fn a_first_event_past_the_block_is_an_error() {
        let mut payload = Vec::new();
        encode([(1i64, &b"xyz"[..]), (2, &b"w"[..])].into_iter(), &mut payload);
        // The block claims less data than its first length.
        let short = &payload[..payload.len() - 3];
        assert!(matches!(
            decode_first_for(2, short, short.len() as u64, 0, 1, 2),
            Err(DecodeError::Invalid { field: "event data lengths", .. })
        ));
        assert!(matches!(
            decode_first_for(2, &payload, payload.len() as u64, 0, 1, 3),
            Err(DecodeError::Invalid { field: "data block event count", .. })
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
