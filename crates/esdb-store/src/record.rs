//! The byte layout of log segments and their records (specified in `docs/STORE.md`): encoding,
//! and decoding that names the field and position of whatever is wrong.

use bytes::Bytes;
use esdb_format::checksum::xxh3;
use esdb_format::cursor::Cursor;
use esdb_format::v1::MAX_KEY_PART_LEN;
use esdb_format::{varint, DecodeError};

use crate::event::{LogEvent, NewEvent};

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"\x89ESDBLOG";
/// Version of the segment layout written: 2 adds the store id to the header.
pub const SEGMENT_VERSION: u32 = 2;
/// Length of a version-1 segment header: magic, version, reserved, base offset, checksum.
pub const SEGMENT_HEADER_V1_LEN: usize = 32;
/// Length of a version-2 segment header: magic, version, reserved, base offset, store id,
/// checksum.
pub const SEGMENT_HEADER_LEN: usize = 48;
/// Bytes of a record around its payload: the length before it, the checksum after it.
pub const RECORD_OVERHEAD: usize = 4 + 8;
/// Largest payload a record may declare: the largest data plus generous room for the keys.
pub const MAX_PAYLOAD_LEN: u32 = (1 << 30) + (1 << 24);

const FLAG_HAS_ID: u8 = 1;

/// A decoded segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Offset of the segment's first record.
    pub base: u64,
    /// The store it belongs to; `None` in a version-1 segment, which does not record it.
    pub store_id: Option<[u8; 16]>,
    /// Length of the header: where the first record starts.
    pub len: usize,
}

/// The version-2 header of a segment of store `store_id` whose first record has offset `base`.
pub fn segment_header(base: u64, store_id: [u8; 16]) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    header[24..40].copy_from_slice(&store_id);
    let checksum = xxh3(&header[..40]);
    header[40..].copy_from_slice(&checksum.to_le_bytes());
    header
}

/// Checks a segment header (version 1 or 2) at the start of `bytes`, which must hold at least
/// [`SEGMENT_HEADER_LEN`] bytes or the whole file.
pub fn decode_segment_header(bytes: &[u8]) -> Result<SegmentHeader, DecodeError> {
    let mut cursor = Cursor::new(bytes, 0);
    let magic = cursor.array::<8>("segment magic")?;
    if magic != SEGMENT_MAGIC {
        return Err(DecodeError::invalid("segment magic", 0, "not an esdb log segment"));
    }
    let version = cursor.u32("segment version")?;
    if version != 1 && version != 2 {
        return Err(DecodeError::invalid("segment version", 8, format!("version {version}, supported are 1 and 2")));
    }
    let reserved = cursor.u32("segment reserved")?;
    if reserved != 0 {
        return Err(DecodeError::invalid("segment reserved", 12, "must be zero"));
    }
    let base = cursor.u64("segment base offset")?;
    let store_id = if version == 2 { Some(cursor.array::<16>("segment store id")?) } else { None };
    let len = cursor.pos();
    let stored = cursor.u64("segment header checksum")?;
    if !esdb_format::checksum::accepts(stored, xxh3(&bytes[..len])) {
        return Err(DecodeError::invalid("segment header checksum", len as u64, "does not match the header"));
    }
    Ok(SegmentHeader { base, store_id, len: len + 8 })
}

/// Checks the lengths of an event's fields, as the ESDB writer would.
pub fn check_event(event: &NewEvent, position: usize, max_data_len: usize) -> Result<(), crate::Error> {
    let check = |field: &'static str, len: usize, min: usize, max: usize| {
        if len < min || len > max {
            Err(crate::Error::FieldLength { field, event: position, len, min, max })
        } else {
            Ok(())
        }
    };
    check("space", event.space.len(), 1, MAX_KEY_PART_LEN)?;
    check("grouping", event.grouping.len(), 0, MAX_KEY_PART_LEN)?;
    check("data", event.data.len(), 0, max_data_len)?;
    if let Some(id) = &event.id {
        check("id", id.len(), 1, MAX_KEY_PART_LEN)?;
    }
    for (name, value) in &event.indexes {
        check("index name", name.len(), 1, MAX_KEY_PART_LEN)?;
        check("index value", value.len(), 0, MAX_KEY_PART_LEN)?;
    }
    Ok(())
}

/// The log's view of `event` at `offset`: index pairs sorted and each once, sharing the
/// event's bytes.
pub fn log_event(event: &NewEvent, offset: u64, append_time_ms: u64) -> LogEvent {
    let mut indexes = event.indexes.clone();
    indexes.sort_unstable();
    indexes.dedup();
    LogEvent {
        offset,
        timestamp: event.timestamp,
        append_time_ms,
        id: event.id.clone(),
        space: event.space.clone(),
        grouping: event.grouping.clone(),
        indexes,
        data: event.data.clone(),
    }
}

/// Appends the whole record (length, payload, checksum) of `event` to `out`.
pub fn encode_record(event: &LogEvent, out: &mut Vec<u8>) {
    let indexes = event.indexes.iter().map(|(name, value)| (&name[..], &value[..]));
    let fields = Fields {
        offset: event.offset,
        timestamp: event.timestamp,
        append_time_ms: event.append_time_ms,
        id: event.id.as_deref(),
        space: &event.space,
        grouping: &event.grouping,
        data: &event.data,
    };
    encode_fields(&fields, indexes, out);
}

/// Appends the record of `event` at `offset` to `out`, as [`encode_record`] of its
/// [`log_event`] but without building one.
pub fn encode_new(event: &NewEvent, offset: u64, append_time_ms: u64, out: &mut Vec<u8>) {
    let fields = Fields {
        offset,
        timestamp: event.timestamp,
        append_time_ms,
        id: event.id.as_deref(),
        space: &event.space,
        grouping: &event.grouping,
        data: &event.data,
    };
    let pairs = event.indexes.iter().map(|(name, value)| (&name[..], &value[..]));
    if event.indexes.len() <= 1 {
        // Sorted and unique already: no copy to sort.
        encode_fields(&fields, pairs, out);
    } else {
        let mut indexes: Vec<(&[u8], &[u8])> = pairs.collect();
        indexes.sort_unstable();
        indexes.dedup();
        encode_fields(&fields, indexes.into_iter(), out);
    }
}

/// The fields of a record but its index pairs.
struct Fields<'a> {
    offset: u64,
    timestamp: i64,
    append_time_ms: u64,
    id: Option<&'a [u8]>,
    space: &'a [u8],
    grouping: &'a [u8],
    data: &'a [u8],
}

/// Appends a record of `fields` and `indexes` (sorted, each once) to `out`.
fn encode_fields<'a>(
    fields: &Fields<'_>,
    indexes: impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&fields.offset.to_le_bytes());
    out.extend_from_slice(&fields.timestamp.to_le_bytes());
    out.extend_from_slice(&fields.append_time_ms.to_le_bytes());
    out.push(if fields.id.is_some() { FLAG_HAS_ID } else { 0 });
    let put = |bytes: &[u8], out: &mut Vec<u8>| {
        varint::encode(bytes.len() as u64, out);
        out.extend_from_slice(bytes);
    };
    if let Some(id) = fields.id {
        put(id, out);
    }
    put(fields.space, out);
    put(fields.grouping, out);
    varint::encode(indexes.len() as u64, out);
    for (name, value) in indexes {
        put(name, out);
        put(value, out);
    }
    out.extend_from_slice(fields.data);
    let payload_len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&payload_len.to_le_bytes());
    let checksum = xxh3(&out[start..]);
    out.extend_from_slice(&checksum.to_le_bytes());
}

/// What a look at the bytes at some position of a segment found.
#[derive(Debug)]
pub enum Framed {
    /// A complete record whose checksum matches: its payload and total length.
    Record {
        /// Where the payload lies in the bytes given.
        payload: std::ops::Range<usize>,
        /// Length of the whole record.
        len: usize,
    },
    /// The bytes end before the record does: a write cut short.
    Truncated,
    /// A complete record whose length or checksum is wrong.
    Bad(String),
}

/// Frames the record starting at `bytes[0]`.
pub fn frame(bytes: &[u8]) -> Framed {
    let Some(len_bytes) = bytes.get(..4) else { return Framed::Truncated };
    let payload_len = u32::from_le_bytes(len_bytes.try_into().expect("4 bytes"));
    if payload_len > MAX_PAYLOAD_LEN || (payload_len as usize) < 8 + 8 + 8 + 1 + 1 + 1 + 1 {
        return Framed::Bad(format!("record length {payload_len} is impossible"));
    }
    let total = RECORD_OVERHEAD + payload_len as usize;
    let Some(record) = bytes.get(..total) else { return Framed::Truncated };
    let stored = u64::from_le_bytes(record[total - 8..].try_into().expect("8 bytes"));
    if !esdb_format::checksum::accepts(stored, xxh3(&record[..total - 8])) {
        return Framed::Bad("record checksum does not match".into());
    }
    Framed::Record { payload: 4..4 + payload_len as usize, len: total }
}

/// The offset of a checked payload, without decoding the rest.
pub fn payload_offset(payload: &[u8]) -> u64 {
    payload_u64(payload, 0)
}

/// The timestamp of a checked payload.
pub fn payload_timestamp(payload: &[u8]) -> i64 {
    payload_u64(payload, 8) as i64
}

/// The append time of a checked payload.
pub fn payload_append_ms(payload: &[u8]) -> u64 {
    payload_u64(payload, 16)
}

/// The little-endian `u64` at `at` of a payload that [`frame`] checked: every payload is longer
/// than its fixed fields (offset, timestamp, append time, flags).
fn payload_u64(payload: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(payload[at..at + 8].try_into().expect("a framed payload holds its fixed fields"))
}

/// Decodes a checked payload. `at` is the payload's position in its file, for errors.
pub fn decode_payload(payload: Bytes, at: u64) -> Result<LogEvent, DecodeError> {
    let mut cursor = Cursor::new(&payload, at);
    let offset = cursor.u64("record offset")?;
    let timestamp = cursor.i64("record timestamp")?;
    let append_time_ms = cursor.u64("record append time")?;
    let flags = cursor.u8("record flags")?;
    if flags & !FLAG_HAS_ID != 0 {
        return Err(DecodeError::invalid("record flags", cursor.offset() - 1, "reserved bits are set"));
    }
    let max = MAX_KEY_PART_LEN as u64;
    let slice = |cursor: &mut Cursor<'_>, field: &'static str, min: usize| -> Result<Bytes, DecodeError> {
        let at = cursor.offset();
        let bytes = cursor.bytes_with_len(max, field)?;
        if bytes.len() < min {
            return Err(DecodeError::invalid(field, at, "must not be empty"));
        }
        Ok(payload.slice_ref(bytes))
    };
    let id = if flags & FLAG_HAS_ID != 0 { Some(slice(&mut cursor, "record id", 1)?) } else { None };
    let space = slice(&mut cursor, "record space", 1)?;
    let grouping = slice(&mut cursor, "record grouping", 0)?;
    let n_indexes = cursor.len_at_most(payload.len() as u64, "record index count")?;
    let mut indexes = Vec::with_capacity(n_indexes.min(64));
    for _ in 0..n_indexes {
        let name = slice(&mut cursor, "record index name", 1)?;
        let value = slice(&mut cursor, "record index value", 0)?;
        indexes.push((name, value));
    }
    let data = payload.slice(cursor.pos()..);
    Ok(LogEvent { offset, timestamp, append_time_ms, id, space, grouping, indexes, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_every_damage_is_caught() {
        let event = NewEvent::new("s", -5, "payload").grouping("g").index("b", "2").index("a", "1").id("x");
        let mut out = Vec::new();
        let logged = log_event(&event, 7, 99);
        encode_record(&logged, &mut out);
        let Framed::Record { payload, len } = frame(&out) else { panic!("valid record") };
        assert_eq!(len, out.len());
        let decoded = decode_payload(Bytes::copy_from_slice(&out[payload]), 4).unwrap();
        assert_eq!((decoded.offset, decoded.timestamp, decoded.append_time_ms), (7, -5, 99));
        assert_eq!(decoded.id.as_deref(), Some(&b"x"[..]));
        assert_eq!(decoded.indexes[0].0, "a");
        assert_eq!(decoded.data, "payload");
        assert_eq!(decoded, logged, "what the log reads back is what the tail holds");
        let mut direct = Vec::new();
        encode_new(&event, 7, 99, &mut direct);
        assert_eq!(direct, out, "encoding a new event is encoding its log event");
        for cut in 0..out.len() {
            assert!(matches!(frame(&out[..cut]), Framed::Truncated | Framed::Bad(_)), "cut at {cut}");
        }
        for at in 0..out.len() {
            let mut damaged = out.clone();
            damaged[at] ^= 0x40;
            assert!(!matches!(frame(&damaged), Framed::Record { len, .. } if len == out.len()), "flip at {at}");
        }
    }

    #[test]
    fn segment_headers_are_checked() {
        let header = segment_header(42, [7; 16]);
        let decoded = decode_segment_header(&header).unwrap();
        assert_eq!(decoded, SegmentHeader { base: 42, store_id: Some([7; 16]), len: SEGMENT_HEADER_LEN });
        for at in 0..SEGMENT_HEADER_LEN {
            let mut bad = header;
            bad[at] ^= 1;
            assert!(decode_segment_header(&bad).is_err(), "flip at {at}");
        }
        // A version-1 header, as earlier stores wrote it.
        let mut v1 = [0u8; SEGMENT_HEADER_V1_LEN];
        v1[..8].copy_from_slice(&SEGMENT_MAGIC);
        v1[8..12].copy_from_slice(&1u32.to_le_bytes());
        v1[16..24].copy_from_slice(&9u64.to_le_bytes());
        let checksum = xxh3(&v1[..24]);
        v1[24..].copy_from_slice(&checksum.to_le_bytes());
        let decoded = decode_segment_header(&v1).unwrap();
        assert_eq!(decoded, SegmentHeader { base: 9, store_id: None, len: SEGMENT_HEADER_V1_LEN });
    }
}
