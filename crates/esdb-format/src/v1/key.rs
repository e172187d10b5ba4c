//! Catalog keys: order-preserving byte strings for spaces, groupings and index values.
//!
//! Layout: docs/FORMAT.md#catalog-keys.
//!
//! A key starts with the escaped space id, so that comparing keys byte by byte sorts first by
//! space id, and every key of one space sorts after those of all smaller ids. Within a space, the
//! tag byte puts groupings first, then index values, then the space summary, which lets a writer
//! emit the summary last, once the space's counts are known.

use crate::cursor::Cursor;
use crate::error::DecodeError;

/// Tag of a grouping entry.
pub const TAG_GROUPING: u8 = 1;
/// Tag of an index value entry.
pub const TAG_INDEX_VALUE: u8 = 2;
/// Tag of the space summary entry.
pub const TAG_SPACE: u8 = 3;

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xff;
const TERMINATOR: u8 = 0x01;

/// Appends `part` with every `0x00` written as `00 ff`, then the terminator `00 01`.
///
/// The result sorts like `part` under bytewise comparison, and no escaped part is a prefix of
/// another.
pub fn push_escaped(part: &[u8], out: &mut Vec<u8>) {
    out.reserve(part.len() + 2);
    // Copied a run at a time: parts rarely hold a zero byte.
    let mut runs = part.split(|&byte| byte == ESCAPE);
    if let Some(first) = runs.next() {
        out.extend_from_slice(first);
    }
    for run in runs {
        out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        out.extend_from_slice(run);
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// The prefix shared by every key of `space`.
pub fn space_prefix(space: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(space.len() + 8);
    push_escaped(space, &mut out);
    out
}

/// Key of the summary of `space`.
pub fn space_key(space: &[u8]) -> Vec<u8> {
    let mut out = space_prefix(space);
    out.push(TAG_SPACE);
    out
}

/// Prefix of every grouping key of `space`.
pub fn grouping_prefix(space: &[u8]) -> Vec<u8> {
    let mut out = space_prefix(space);
    out.push(TAG_GROUPING);
    out
}

/// Key of `grouping` in `space`.
pub fn grouping_key(space: &[u8], grouping: &[u8]) -> Vec<u8> {
    let mut out = grouping_prefix(space);
    out.extend_from_slice(grouping);
    out
}

/// Prefix of every index value key of `space`.
pub fn index_prefix(space: &[u8]) -> Vec<u8> {
    let mut out = space_prefix(space);
    out.push(TAG_INDEX_VALUE);
    out
}

/// Prefix of every value key of index `name` in `space`.
pub fn index_name_prefix(space: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = index_prefix(space);
    push_escaped(name, &mut out);
    out
}

/// Key of index value `(name, value)` in `space`.
pub fn index_value_key(space: &[u8], name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = index_name_prefix(space, name);
    out.extend_from_slice(value);
    out
}

/// A decoded catalog key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogKey {
    /// The summary of a space.
    Space {
        /// Space id.
        space: Vec<u8>,
    },
    /// A grouping of a space.
    Grouping {
        /// Space id.
        space: Vec<u8>,
        /// Grouping name.
        grouping: Vec<u8>,
    },
    /// One value of one index of a space.
    IndexValue {
        /// Space id.
        space: Vec<u8>,
        /// Index name.
        name: Vec<u8>,
        /// Index value.
        value: Vec<u8>,
    },
}

impl CatalogKey {
    /// The space id this key belongs to.
    pub fn space(&self) -> &[u8] {
        match self {
            CatalogKey::Space { space } | CatalogKey::Grouping { space, .. } | CatalogKey::IndexValue { space, .. } => {
                space
            }
        }
    }

    /// Decodes a key stored at absolute offset `at`.
    pub fn decode(key: &[u8], at: u64) -> Result<CatalogKey, DecodeError> {
        let mut cur = Cursor::new(key, at);
        let space = read_escaped(&mut cur, "catalog key space id")?;
        let tag_at = cur.offset();
        let tag = cur.u8("catalog key tag")?;
        let rest = cur.take(cur.remaining(), "catalog key")?;
        match tag {
            TAG_SPACE if rest.is_empty() => Ok(CatalogKey::Space { space }),
            TAG_SPACE => Err(DecodeError::TrailingBytes {
                section: "catalog space key",
                offset: tag_at + 1,
                extra: rest.len() as u64,
            }),
            TAG_GROUPING => Ok(CatalogKey::Grouping { space, grouping: rest.to_vec() }),
            TAG_INDEX_VALUE => {
                let mut cur = Cursor::new(rest, tag_at + 1);
                let name = read_escaped(&mut cur, "catalog key index name")?;
                let value = cur.take(cur.remaining(), "catalog key index value")?.to_vec();
                Ok(CatalogKey::IndexValue { space, name, value })
            }
            other => Err(DecodeError::invalid("catalog key tag", tag_at, format!("unknown tag {other}"))),
        }
    }
}

/// Length of the escaped part at the start of `bytes`, terminator included, without unescaping
/// it; `None` if no terminator follows.
pub fn escaped_part_len(bytes: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        pos += bytes[pos..].iter().position(|&byte| byte == ESCAPE)?;
        if *bytes.get(pos + 1)? == TERMINATOR {
            return Some(pos + 2);
        }
        pos += 2;
    }
}

/// Reads one escaped part up to and including its terminator.
pub fn read_escaped(cur: &mut Cursor<'_>, field: &'static str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    loop {
        let at = cur.offset();
        let byte = cur.u8(field)?;
        if byte != ESCAPE {
            out.push(byte);
            continue;
        }
        match cur.u8(field)? {
            ESCAPED_ZERO => out.push(ESCAPE),
            TERMINATOR => return Ok(out),
            other => return Err(DecodeError::invalid(field, at, format!("bad escape 00 {other:02x}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        assert_eq!(space_key(b"a\0b"), b"a\0\xffb\0\x01\x03");
        assert_eq!(index_value_key(b"s", b"type", b"buy"), b"s\0\x01\x02type\0\x01buy");
    }

    proptest! {
        #[test]
        fn escaped_part_len_matches_read_escaped(part: Vec<u8>, rest: Vec<u8>) {
            let mut bytes = Vec::new();
            push_escaped(&part, &mut bytes);
            let len = bytes.len();
            bytes.extend_from_slice(&rest);
            prop_assert_eq!(escaped_part_len(&bytes), Some(len));
            let mut cur = Cursor::new(&bytes, 0);
            prop_assert_eq!(read_escaped(&mut cur, "part").unwrap(), part);
            prop_assert_eq!(cur.pos(), len);
        }

        #[test]
        fn escaping_preserves_order(a: Vec<u8>, b: Vec<u8>) {
            prop_assert_eq!(a.cmp(&b), space_prefix(&a).cmp(&space_prefix(&b)));
        }

        #[test]
        fn every_key_of_a_smaller_space_sorts_first(a: Vec<u8>, b: Vec<u8>, g: Vec<u8>, n: Vec<u8>, v: Vec<u8>) {
            prop_assume!(a < b);
            let keys_a = [space_key(&a), grouping_key(&a, &g), index_value_key(&a, &n, &v)];
            let keys_b = [space_key(&b), grouping_key(&b, &g), index_value_key(&b, &n, &v)];
            for ka in &keys_a {
                for kb in &keys_b {
                    prop_assert!(ka < kb);
                }
            }
            prop_assert!(grouping_key(&a, &g) < index_value_key(&a, &n, &v));
            prop_assert!(index_value_key(&a, &n, &v) < space_key(&a));
        }

        #[test]
        fn decode_inverts_encode(s in proptest::collection::vec(any::<u8>(), 1..8), n: Vec<u8>, v: Vec<u8>) {
            prop_assert_eq!(CatalogKey::decode(&space_key(&s), 0).unwrap(), CatalogKey::Space { space: s.clone() });
            prop_assert_eq!(
                CatalogKey::decode(&index_value_key(&s, &n, &v), 0).unwrap(),
                CatalogKey::IndexValue { space: s.clone(), name: n.clone(), value: v.clone() }
            );
            prop_assert_eq!(
                CatalogKey::decode(&grouping_key(&s, &v), 0).unwrap(),
                CatalogKey::Grouping { space: s, grouping: v }
            );
        }

        #[test]
        fn decode_never_panics(key: Vec<u8>) {
            let _ = CatalogKey::decode(&key, 0);
        }
    }
}
