//! How the writer's records sort: each is a group and an order within it (see `sort.rs`),
//! chosen so that the sorter's order is the order the file needs.
//!
//! - Event records: group (space, grouping), order (timestamp, insertion sequence).
//! - Posting records: group (index name, index value), order as their event's; timeline records
//!   have the empty group and their event's order.
//!
//! Space, grouping and index parts use the catalog's escaping (`esdb_format::v1::key`), so that
//! the bytewise order of two concatenated parts is the order of the raw pairs.

use esdb_format::cursor::Cursor;
use esdb_format::v1::key::{escaped_part_len, push_escaped, read_escaped};
use esdb_format::varint;

/// The order of `(ts, seq)` as one number: timestamp (sign bit flipped) high, sequence low.
pub(crate) fn order(ts: i64, seq: u64) -> u128 {
    u128::from((ts as u64) ^ (1 << 63)) << 64 | u128::from(seq)
}

/// The timestamp of an [`order`].
pub(crate) fn ts_of(order: u128) -> i64 {
    ((order >> 64) as u64 ^ (1 << 63)) as i64
}

/// Group of an event record.
pub(crate) fn event_group(space: &[u8], grouping: &[u8], out: &mut Vec<u8>) {
    out.clear();
    push_escaped(space, out);
    push_escaped(grouping, out);
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
    pub(crate) order: u128,
    pub(crate) indexes: Vec<(&'r [u8], &'r [u8])>,
    pub(crate) data: &'r [u8],
}

/// Length of the escaped part at the start of `group`, terminator included.
fn escaped_len(group: &[u8]) -> usize {
    escaped_part_len(group).expect("groups are written by event_group")
}

impl<'r> EventRecord<'r> {
    /// Splits a record written by [`event_group`], [`order`] and [`event_value`].
    pub(crate) fn parse(group: &'r [u8], order: u128, value: &'r [u8]) -> EventRecord<'r> {
        let space_len = escaped_len(group);
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
            space_escaped: &group[..space_len],
            grouping_escaped: &group[space_len..],
            ts: ts_of(order),
            order,
            indexes,
            data: &value[cur.pos()..],
        }
    }
}

/// Unescapes a part taken from a key.
pub(crate) fn unescape(escaped: &[u8]) -> Vec<u8> {
    read_escaped(&mut Cursor::new(escaped, 0), "sort key").expect("sort keys are written by event_key")
}

/// Group of a posting record for index `(name, value)`.
pub(crate) fn posting_group(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.clear();
    push_escaped(name, out);
    push_escaped(value, out);
}

/// Splits the group of a posting record into the raw name and value.
pub(crate) fn posting_name_value(group: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut cur = Cursor::new(group, 0);
    let name = read_escaped(&mut cur, "posting group").expect("posting groups are written by posting_group");
    let value = read_escaped(&mut cur, "posting group").expect("posting groups are written by posting_group");
    (name, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_numeric() {
        let pairs = [(i64::MIN, 5), (-1, 0), (-1, 1), (0, 0), (1, u64::MAX), (i64::MAX, 0)];
        let orders: Vec<u128> = pairs.iter().map(|&(ts, seq)| order(ts, seq)).collect();
        assert!(orders.windows(2).all(|w| w[0] < w[1]));
        for (&(ts, _), &order) in pairs.iter().zip(&orders) {
            assert_eq!(ts_of(order), ts);
        }
    }

    #[test]
    fn event_record_roundtrip() {
        let (mut group, mut value) = (Vec::new(), Vec::new());
        event_group(b"s\0x", b"", &mut group);
        event_value(&[(b"type", b"buy")], b"payload", &mut value);
        let record = EventRecord::parse(&group, order(-7, 3), &value);
        assert_eq!(unescape(record.space_escaped), b"s\0x");
        assert_eq!(unescape(record.grouping_escaped), b"");
        assert_eq!(record.ts, -7);
        assert_eq!(record.order, order(-7, 3));
        assert_eq!(record.indexes, vec![(&b"type"[..], &b"buy"[..])]);
        assert_eq!(record.data, b"payload");
    }

    #[test]
    fn escaped_groups_order_like_raw_pairs() {
        let pairs: [(&[u8], &[u8]); 5] = [(b"a", b""), (b"a", b"\0"), (b"a", b"b"), (b"a\0", b""), (b"ab", b"")];
        let groups: Vec<Vec<u8>> = pairs
            .iter()
            .map(|(space, grouping)| {
                let mut out = Vec::new();
                event_group(space, grouping, &mut out);
                out
            })
            .collect();
        assert!(groups.windows(2).all(|w| w[0] < w[1]), "{groups:?}");
    }
}
