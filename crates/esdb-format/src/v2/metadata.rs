//! The metadata block of a version 2 file: key/value pairs about the whole file, as Parquet's
//! `key_value_metadata`. Keys starting with `esdb.` belong to the format; every other key is the
//! writer's user's.
//!
//! Layout: docs/FORMAT.md#metadata-block.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::TimeUnit;

/// Prefix of the keys the format defines; others are free for applications.
pub const RESERVED_PREFIX: &[u8] = b"esdb.";
/// The unit of the file's timestamps: `s`, `ms`, `us` or `ns`.
pub const TIME_UNIT: &[u8] = b"esdb.time_unit";
/// The program that wrote the file, as UTF-8 text (for example `esdb-write 0.2.0`).
pub const WRITER: &[u8] = b"esdb.writer";
/// Every index name used in the file, each as `len <uvarint>` and the name, strictly increasing.
pub const INDEX_NAMES: &[u8] = b"esdb.index_names";
/// Where the file's zstd dictionary block is: its handle, `offset <uvarint>` `len <uvarint>`.
/// Present exactly when the footer has the `zstd_dictionary` feature.
pub const ZSTD_DICTIONARY: &[u8] = b"esdb.zstd_dictionary";
/// Where the covering catalog is and which index names it covers
/// ([`CoveringCatalog`](crate::v2::covering::CoveringCatalog)). Present exactly when the footer
/// has the `covering_indexes` feature.
pub const COVERING: &[u8] = b"esdb.covering";
/// Where the covering-timeline catalog is
/// ([`CoveringTimelineCatalog`](crate::v2::covering::CoveringTimelineCatalog)). Present exactly
/// when the footer has the `covering_timeline` feature.
pub const COVERING_TIMELINE: &[u8] = b"esdb.covering_timeline";
/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 65_535;
/// Largest value, in bytes.
pub const MAX_VALUE_LEN: usize = 1 << 24;

/// Decoded metadata: the entries in key order, with the format's own keys checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Metadata {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Metadata {
    /// Metadata with no entries.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn insert(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        let (key, value) = (key.into(), value.into());
        match self.entries.binary_search_by(|(k, _)| k[..].cmp(&key)) {
            Ok(idx) => self.entries[idx].1 = value,
            Err(idx) => self.entries.insert(idx, (key, value)),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.binary_search_by(|(k, _)| k[..].cmp(key)).ok().map(|idx| &self.entries[idx].1[..])
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries.iter().map(|(k, v)| (&k[..], &v[..]))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The recorded time unit, if any (checked when decoded).
    pub fn time_unit(&self) -> Option<TimeUnit> {
        self.get(TIME_UNIT).and_then(|value| std::str::from_utf8(value).ok()?.parse().ok())
    }

    /// Records the time unit.
    pub fn set_time_unit(&mut self, unit: TimeUnit) {
        self.insert(TIME_UNIT, unit.as_str());
    }

    /// The recorded writer, if any.
    pub fn writer(&self) -> Option<&str> {
        self.get(WRITER).and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The recorded index names, if the file lists them (checked when decoded).
    pub fn index_names(&self) -> Option<Vec<&[u8]>> {
        let value = self.get(INDEX_NAMES)?;
        let mut cur = Cursor::new(value, 0);
        let mut names = Vec::new();
        while !cur.is_at_end() {
            names.push(cur.bytes_with_len(crate::v1::MAX_KEY_PART_LEN as u64, "index name").ok()?);
        }
        Some(names)
    }

    /// Records `names` (sorted and deduplicated here) as the file's index names.
    pub fn set_index_names<'a>(&mut self, names: impl IntoIterator<Item = &'a [u8]>) {
        let mut names: Vec<&[u8]> = names.into_iter().collect();
        names.sort_unstable();
        names.dedup();
        let mut value = Vec::new();
        for name in names {
            crate::varint::encode(name.len() as u64, &mut value);
            value.extend_from_slice(name);
        }
        self.insert(INDEX_NAMES, value);
    }

    /// The handle of the zstd dictionary block, if the file has one (checked when decoded).
    pub fn zstd_dictionary(&self) -> Option<crate::v1::frame::Handle> {
        let value = self.get(ZSTD_DICTIONARY)?;
        crate::v1::frame::Handle::decode(&mut Cursor::new(value, 0), "metadata esdb.zstd_dictionary").ok()
    }

    /// Records the handle of the zstd dictionary block.
    pub fn set_zstd_dictionary(&mut self, handle: crate::v1::frame::Handle) {
        let mut value = Vec::new();
        handle.encode(&mut value);
        self.insert(ZSTD_DICTIONARY, value);
    }

    /// The covering catalog, if the file has one (checked when decoded).
    pub fn covering(&self) -> Option<crate::v2::covering::CoveringCatalog> {
        crate::v2::covering::CoveringCatalog::decode(self.get(COVERING)?, 0).ok()
    }

    /// Records where the covering catalog is.
    pub fn set_covering(&mut self, catalog: &crate::v2::covering::CoveringCatalog) {
        let mut value = Vec::new();
        catalog.encode(&mut value);
        self.insert(COVERING, value);
    }

    /// The covering-timeline catalog, if the file has one (checked when decoded).
    pub fn covering_timeline(&self) -> Option<crate::v2::covering::CoveringTimelineCatalog> {
        crate::v2::covering::CoveringTimelineCatalog::decode(self.get(COVERING_TIMELINE)?, 0).ok()
    }

    /// Records where the covering-timeline catalog is.
    pub fn set_covering_timeline(&mut self, catalog: &crate::v2::covering::CoveringTimelineCatalog) {
        let mut value = Vec::new();
        catalog.encode(&mut value);
        self.insert(COVERING_TIMELINE, value);
    }

    /// Appends the encoded block payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        crate::varint::encode(self.entries.len() as u64, out);
        for (key, value) in &self.entries {
            crate::varint::encode(key.len() as u64, out);
            out.extend_from_slice(key);
            crate::varint::encode(value.len() as u64, out);
            out.extend_from_slice(value);
        }
    }

    /// Decodes a metadata payload that starts at absolute offset `at`.
    ///
    /// Checks that keys strictly increase, lengths fit, the payload is consumed exactly, and that
    /// the values of the format's keys are well formed; other `esdb.` keys (from a later minor
    /// version) are kept as they are.
    ///
    /// # Errors
    /// The first violation, naming the field and its absolute offset.
    pub fn decode(payload: &[u8], at: u64) -> Result<Metadata, DecodeError> {
        let mut cur = Cursor::new(payload, at);
        // Each entry takes at least two bytes, which bounds the count before anything is allocated.
        let n = cur.len_at_most(payload.len() as u64 / 2, "metadata entry count")?;
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(n);
        for _ in 0..n {
            let key_at = cur.offset();
            let key = cur.bytes_with_len(MAX_KEY_LEN as u64, "metadata key")?;
            if entries.last().is_some_and(|(previous, _)| &previous[..] >= key) {
                return Err(DecodeError::invalid("metadata key", key_at, "keys must strictly increase"));
            }
            let value_at = cur.offset();
            let value = cur.bytes_with_len(MAX_VALUE_LEN as u64, "metadata value")?;
            check_known(key, value, value_at)?;
            entries.push((key.to_vec(), value.to_vec()));
        }
        cur.finish("metadata block")?;
        Ok(Metadata { entries })
    }
}

/// Checks the value of a key the format defines.
fn check_known(key: &[u8], value: &[u8], at: u64) -> Result<(), DecodeError> {
    match key {
        TIME_UNIT => match std::str::from_utf8(value).ok().and_then(|text| text.parse::<TimeUnit>().ok()) {
            Some(_) => Ok(()),
            None => Err(DecodeError::invalid(
                "metadata esdb.time_unit",
                at,
                format!("{:?} is not one of s, ms, us, ns", String::from_utf8_lossy(value)),
            )),
        },
        WRITER => std::str::from_utf8(value)
            .map(|_| ())
            .map_err(|_| DecodeError::invalid("metadata esdb.writer", at, "not UTF-8")),
        INDEX_NAMES => {
            let mut cur = Cursor::new(value, at);
            let mut previous: Option<&[u8]> = None;
            while !cur.is_at_end() {
                let name_at = cur.offset();
                let name = cur.bytes_with_len(crate::v1::MAX_KEY_PART_LEN as u64, "metadata esdb.index_names")?;
                if name.is_empty() || previous.is_some_and(|p| p >= name) {
                    return Err(DecodeError::invalid(
                        "metadata esdb.index_names",
                        name_at,
                        "names must be non-empty and strictly increase",
                    ));
                }
                previous = Some(name);
            }
            Ok(())
        }
        ZSTD_DICTIONARY => {
            let mut cur = Cursor::new(value, at);
            crate::v1::frame::Handle::decode(&mut cur, "metadata esdb.zstd_dictionary")?;
            cur.finish("metadata esdb.zstd_dictionary")
        }
        COVERING => crate::v2::covering::CoveringCatalog::decode(value, at).map(|_| ()),
        COVERING_TIMELINE => crate::v2::covering::CoveringTimelineCatalog::decode(value, at).map(|_| ()),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_known_keys() {
        let mut meta = Metadata::new();
        meta.set_time_unit(TimeUnit::Milliseconds);
        meta.insert(WRITER, "esdb-write test");
        meta.set_index_names([&b"type"[..], b"city", b"type"]);
        meta.insert("app.owner", "billing");
        let mut out = Vec::new();
        meta.encode(&mut out);
        let back = Metadata::decode(&out, 100).unwrap();
        assert_eq!(back, meta);
        assert_eq!(back.time_unit(), Some(TimeUnit::Milliseconds));
        assert_eq!(back.writer(), Some("esdb-write test"));
        assert_eq!(back.index_names(), Some(vec![&b"city"[..], b"type"]));
        assert_eq!(back.get(b"app.owner"), Some(&b"billing"[..]));
    }

    #[test]
    fn bad_values_and_order_are_errors() {
        let mut meta = Metadata::new();
        meta.insert(TIME_UNIT, "minutes");
        let mut out = Vec::new();
        meta.encode(&mut out);
        assert!(matches!(
            Metadata::decode(&out, 0),
            Err(DecodeError::Invalid { field: "metadata esdb.time_unit", .. })
        ));

        // Two entries "b", "a": out of order.
        let out = [2, 1, b'b', 0, 1, b'a', 0];
        assert!(matches!(
            Metadata::decode(&out, 10),
            Err(DecodeError::Invalid { field: "metadata key", offset: 14, .. })
        ));
        // A count the payload cannot hold.
        assert!(Metadata::decode(&[0xff, 0x7f], 0).is_err());
        // Trailing bytes.
        assert!(matches!(Metadata::decode(&[0, 9], 0), Err(DecodeError::TrailingBytes { .. })));
    }

    #[test]
    fn unknown_reserved_keys_are_kept() {
        let mut meta = Metadata::new();
        meta.insert("esdb.from_the_future", [1u8, 2]);
        let mut out = Vec::new();
        meta.encode(&mut out);
        assert_eq!(Metadata::decode(&out, 0).unwrap().get(b"esdb.from_the_future"), Some(&[1u8, 2][..]));
    }
}
