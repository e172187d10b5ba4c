//! Sort keys of the records the writer buffers, chosen so that bytewise order is the order the
//! file needs.
//!
//! - Event records sort by (space, grouping, timestamp, insertion sequence).
//! - Posting records sort by (index name, index value, timestamp, insertion sequence); timeline
//!   records by (timestamp, insertion sequence).
//!
//! Space, grouping and index parts use the catalog's escaping (`esdb_format::v1::key`), so that
//! variable-length parts compare like the raw bytes.

use esdb_format::cursor::Cursor;
use esdb_format::v1::key::{escaped_part_len, push_escaped, read_escaped};
use esdb_format::varint;

/// Bytes of an order-preserving timestamp plus sequence number.
pub(crate) const TS_SEQ_LEN: usize = 16;

/// Appends `ts` and `seq` so that bytewise order is numeric order of (ts, seq).
// Big-endian is what makes bytewise comparison numeric; these bytes live only in sort keys and
// spill files, never in an ESDB file.
#[allow(clippy::big_endian_bytes)]
pub(crate) fn push_ts_seq(ts: i64, seq: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&((ts as u64) ^ (1 << 63)).to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
}

/// Inverse of [`push_ts_seq`] for the last [`TS_SEQ_LEN`] bytes of a key.
#[allow(clippy::big_endian_bytes)]
pub(crate) fn ts_of(key: &[u8]) -> i64 {
    let at = key.len() - TS_SEQ_LEN;
    (u64::from_be_bytes(key[at..at + 8].try_into().expect("8 bytes")) ^ (1 << 63)) as i64
}

/// Key of an event record.
pub(crate) fn event_key(space: &[u8], grouping: &[u8], ts: i64, seq: u64, out: &mut Vec<u8>) {
    out.clear();
    push_escaped(space, out);
    push_escaped(grouping, out);
    push_ts_seq(ts, seq, out);
}

/// Value of an event record: the sorted, deduplicated index entries, then the data.
pub(crate) fn event_value(indexes: &[(&[u8], &[u8])], data: &[u8], out: &mut Vec<u8>) {
    out.clear();
    varint::encode(indexes.len() as u64, out);
    for (name, value) in indexes {
        varint::encode(name.len() as u64, out);
        out.extend_from_slice(name);
        varint::encode(value.len() as u64, out);
        out.extend_from_slice(value);
    }
    out.extend_from_slice(data);
}

/// An event record taken apart. Space and grouping stay escaped, which is all the writer needs to
/// detect where they change.
pub(crate) struct EventRecord<'r> {
    pub(crate) space_escaped: &'r [u8],
    pub(crate) grouping_escaped: &'r [u8],
    pub(crate) ts: i64,
    pub(crate) seq_key: &'r [u8],
    pub(crate) indexes: Vec<(&'r [u8], &'r [u8])>,
    pub(crate) data: &'r [u8],
}

/// Length of the escaped part at the start of `key`, terminator included.
fn escaped_len(key: &[u8]) -> usize {
    escaped_part_len(key).expect("sort keys are written by event_key")
}

impl<'r> EventRecord<'r> {
    /// Splits a record written by [`event_key`] and [`event_value`].
    pub(crate) fn parse(key: &'r [u8], value: &'r [u8]) -> EventRecord<'r> {
        let space_len = escaped_len(key);
        let grouping_len = escaped_len(&key[space_len..]);
        let mut cur = Cursor::new(value, 0);
        // The writer produced these bytes itself a moment ago; a failure here is a bug.
        let n_indexes = cur.uvarint("indexes").expect("writer-encoded record");
        let indexes = (0..n_indexes)
            .map(|_| {
                let name = cur.bytes_with_len(u64::MAX, "index name").expect("writer-encoded record");
                let value = cur.bytes_with_len(u64::MAX, "index value").expect("writer-encoded record");
                (name, value)
            })
            .collect();
        EventRecord {
            space_escaped: &key[..space_len],
            grouping_escaped: &key[space_len..space_len + grouping_len],
            ts: ts_of(key),
            seq_key: &key[key.len() - TS_SEQ_LEN..],
            indexes,
            data: &value[cur.pos()..],
        }
    }
}

/// Unescapes a part taken from a key.
pub(crate) fn unescape(escaped: &[u8]) -> Vec<u8> {
    read_escaped(&mut Cursor::new(escaped, 0), "sort key").expect("sort keys are written by event_key")
}

/// Key of a posting record for index `(name, value)`; `ts_seq` comes from the event's key.
pub(crate) fn posting_key(name: &[u8], value: &[u8], ts_seq: &[u8], out: &mut Vec<u8>) {
    out.clear();
    push_escaped(name, out);
    push_escaped(value, out);
    out.extend_from_slice(ts_seq);
}

/// Length of the `(name, value)` prefix of a posting key.
pub(crate) fn posting_prefix_len(key: &[u8]) -> usize {
    key.len() - TS_SEQ_LEN
}

/// Splits the `(name, value)` prefix of a posting key (see [`posting_prefix_len`]) into the raw
/// name and value.
pub(crate) fn posting_name_value(prefix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut cur = Cursor::new(prefix, 0);
    let name = read_escaped(&mut cur, "posting key").expect("posting keys are written by posting_key");
    let value = read_escaped(&mut cur, "posting key").expect("posting keys are written by posting_key");
    (name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_seq_order_is_numeric() {
        let pairs = [(i64::MIN, 5), (-1, 0), (-1, 1), (0, 0), (1, u64::MAX), (i64::MAX, 0)];
        let keys: Vec<Vec<u8>> = pairs
            .iter()
            .map(|&(ts, seq)| {
                let mut out = Vec::new();
                push_ts_seq(ts, seq, &mut out);
                out
            })
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ts_of(&keys[0]), i64::MIN);
        assert_eq!(ts_of(&keys[1]), -1);
    }

    #[test]
    fn event_record_roundtrip() {
        let (mut key, mut value) = (Vec::new(), Vec::new());
        event_key(b"s\0x", b"", -7, 3, &mut key);
        event_value(&[(b"type", b"buy")], b"payload", &mut value);
        let record = EventRecord::parse(&key, &value);
        assert_eq!(unescape(record.space_escaped), b"s\0x");
        assert_eq!(unescape(record.grouping_escaped), b"");
        assert_eq!(record.ts, -7);
        assert_eq!(record.indexes, vec![(&b"type"[..], &b"buy"[..])]);
        assert_eq!(record.data, b"payload");
    }
}
