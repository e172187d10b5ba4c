//! Covering indexes (format 2.1, compatible feature `covering_indexes`): for the index names a
//! writer was asked to cover, every value's events are stored a second time, as a data stream of
//! their own in posting order, so that a scan of the value reads its events in sequence instead
//! of resolving each posting through its grouping.
//!
//! The streams are found through a second catalog tree, the **covering catalog**, whose keys are
//! the index value keys of the main catalog and whose values are [`CoveringEntry`]s. The metadata
//! key `esdb.covering` locates its root ([`CoveringCatalog`]). A reader that does not know the
//! feature never looks at either and reads the file through its postings, as before.
//!
//! Covering timelines (format 2.2, compatible feature `covering_timeline`) do the same for the
//! whole of each space of several groupings: its events in timeline order, as one data stream,
//! found through the **covering-timeline catalog** ([`CoveringTimelineCatalog`]), keyed by the
//! spaces' summary keys, with [`CoveringEntry`] values.
//!
//! Layout: docs/FORMAT.md#covering-indexes and docs/FORMAT.md#covering-timelines.

use crate::cursor::Cursor;
use crate::error::DecodeError;
use crate::v1::catalog::StreamRef;
use crate::v1::frame::Handle;

/// The value of the metadata key `esdb.covering`: where the covering catalog is and which index
/// names it covers.
///
/// Encoding: `root_offset <uvarint>` `root_len <uvarint>` `height <uvarint>`, then each covered
/// name as `len <uvarint>` and the name, strictly increasing, at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveringCatalog {
    /// The covering catalog's root block.
    pub root: Handle,
    /// Levels of the covering catalog, 1..=[`crate::v1::MAX_CATALOG_HEIGHT`].
    pub height: u32,
    /// The covered index names, strictly increasing, each 1..=65535 bytes.
    pub names: Vec<Vec<u8>>,
}

impl CoveringCatalog {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.root.encode(out);
        crate::varint::encode(u64::from(self.height), out);
        for name in &self.names {
            crate::varint::encode(name.len() as u64, out);
            out.extend_from_slice(name);
        }
    }

    /// Decodes a value stored at absolute offset `at`.
    ///
    /// # Errors
    /// [`DecodeError`] naming the field and offset: a bad handle, a height outside the catalog's
    /// limits, no names, or names empty, too long or out of order.
    pub fn decode(value: &[u8], at: u64) -> Result<CoveringCatalog, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let root = Handle::decode(&mut cur, "metadata esdb.covering root")?;
        let height_at = cur.offset();
        let height = cur.uvarint("metadata esdb.covering height")?;
        let max = u64::from(crate::v1::MAX_CATALOG_HEIGHT);
        if !(1..=max).contains(&height) {
            return Err(DecodeError::invalid(
                "metadata esdb.covering height",
                height_at,
                format!("{height} is outside 1..={max}"),
            ));
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        while !cur.is_at_end() {
            let name_at = cur.offset();
            let name = cur.bytes_with_len(crate::v1::MAX_KEY_PART_LEN as u64, "metadata esdb.covering name")?;
            if name.is_empty() || names.last().is_some_and(|previous| &previous[..] >= name) {
                return Err(DecodeError::invalid(
                    "metadata esdb.covering name",
                    name_at,
                    "names must be non-empty and strictly increase",
                ));
            }
            names.push(name.to_vec());
        }
        if names.is_empty() {
            return Err(DecodeError::invalid("metadata esdb.covering", at, "names no covered index"));
        }
        Ok(CoveringCatalog { root, height: height as u32, names })
    }

    /// Whether index `name` is covered.
    pub fn covers(&self, name: &[u8]) -> bool {
        self.names.binary_search_by(|covered| covered[..].cmp(name)).is_ok()
    }
}

/// The value of the metadata key `esdb.covering_timeline`: where the covering-timeline catalog
/// is.
///
/// Encoding: `root_offset <uvarint>` `root_len <uvarint>` `height <uvarint>`, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoveringTimelineCatalog {
    /// The covering-timeline catalog's root block.
    pub root: Handle,
    /// Levels of the covering-timeline catalog, 1..=[`crate::v1::MAX_CATALOG_HEIGHT`].
    pub height: u32,
}

impl CoveringTimelineCatalog {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.root.encode(out);
        crate::varint::encode(u64::from(self.height), out);
    }

    /// Decodes a value stored at absolute offset `at`.
    ///
    /// # Errors
    /// [`DecodeError`] naming the field and offset: a bad handle, a height outside the catalog's
    /// limits, or trailing bytes.
    pub fn decode(value: &[u8], at: u64) -> Result<CoveringTimelineCatalog, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let root = Handle::decode(&mut cur, "metadata esdb.covering_timeline root")?;
        let height_at = cur.offset();
        let height = cur.uvarint("metadata esdb.covering_timeline height")?;
        let max = u64::from(crate::v1::MAX_CATALOG_HEIGHT);
        if !(1..=max).contains(&height) {
            return Err(DecodeError::invalid(
                "metadata esdb.covering_timeline height",
                height_at,
                format!("{height} is outside 1..={max}"),
            ));
        }
        cur.finish("metadata esdb.covering_timeline")?;
        Ok(CoveringTimelineCatalog { root, height: height as u32 })
    }
}

/// Value of a covering catalog entry: the data stream holding the events of one index value, in
/// the order of its postings. Its event count and first timestamp are those of the main
/// catalog's entry for the same key. A covering-timeline catalog entry has the same encoding:
/// the space's events in the order of its timeline, with the space summary's count and first
/// timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoveringEntry {
    /// The value's data blocks.
    pub stream: StreamRef,
}

impl CoveringEntry {
    /// Appends the encoded value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.stream.encode(out);
    }

    /// Decodes a value stored at absolute offset `at`.
    ///
    /// # Errors
    /// [`DecodeError`] for a malformed stream reference or trailing bytes.
    pub fn decode(value: &[u8], at: u64) -> Result<CoveringEntry, DecodeError> {
        let mut cur = Cursor::new(value, at);
        let stream = StreamRef::decode(&mut cur)?;
        cur.finish("covering entry")?;
        Ok(CoveringEntry { stream })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_roundtrips_and_checks_its_names() {
        let catalog = CoveringCatalog {
            root: Handle { offset: 900, len: 70 },
            height: 2,
            names: vec![b"city".to_vec(), b"type".to_vec()],
        };
        let mut out = Vec::new();
        catalog.encode(&mut out);
        assert_eq!(CoveringCatalog::decode(&out, 0).unwrap(), catalog);
        assert!(catalog.covers(b"type") && !catalog.covers(b"visitor"));

        let no_names = CoveringCatalog { names: Vec::new(), ..catalog.clone() };
        out.clear();
        no_names.encode(&mut out);
        assert!(CoveringCatalog::decode(&out, 0).is_err());

        let unordered = CoveringCatalog { names: vec![b"type".to_vec(), b"city".to_vec()], ..catalog.clone() };
        out.clear();
        unordered.encode(&mut out);
        assert!(matches!(
            CoveringCatalog::decode(&out, 10),
            Err(DecodeError::Invalid { field: "metadata esdb.covering name", .. })
        ));

        let too_tall = CoveringCatalog { height: 0, ..catalog };
        out.clear();
        too_tall.encode(&mut out);
        assert!(CoveringCatalog::decode(&out, 0).is_err());
    }

    #[test]
    fn timeline_catalog_roundtrips_and_checks_its_height() {
        let catalog = CoveringTimelineCatalog { root: Handle { offset: 900, len: 70 }, height: 1 };
        let mut out = Vec::new();
        catalog.encode(&mut out);
        assert_eq!(CoveringTimelineCatalog::decode(&out, 0).unwrap(), catalog);
        out.push(0);
        assert!(matches!(CoveringTimelineCatalog::decode(&out, 0), Err(DecodeError::TrailingBytes { .. })));
        out.clear();
        CoveringTimelineCatalog { height: 17, ..catalog }.encode(&mut out);
        assert!(matches!(
            CoveringTimelineCatalog::decode(&out, 40),
            Err(DecodeError::Invalid { field: "metadata esdb.covering_timeline height", offset: 43, .. })
        ));
    }

    #[test]
    fn entry_roundtrips_and_refuses_trailing_bytes() {
        let entry = CoveringEntry { stream: StreamRef { handle: Handle { offset: 5, len: 9 }, n_blocks: 3 } };
        let mut out = Vec::new();
        entry.encode(&mut out);
        assert_eq!(CoveringEntry::decode(&out, 0).unwrap(), entry);
        out.push(0);
        assert!(matches!(CoveringEntry::decode(&out, 0), Err(DecodeError::TrailingBytes { .. })));
    }
}
