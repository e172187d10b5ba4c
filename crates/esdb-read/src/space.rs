//! [`Space`]: one space of a file, and what it holds.

use std::sync::Arc;

use bytes::Bytes;
use esdb_format::v1::catalog::{CatalogBlock, GroupingEntry, IndexValueEntry, SpaceSummary, Stats};
use esdb_format::v1::frame::Handle;
use esdb_format::v1::grouping_table::{self, GroupingTable};
use esdb_format::v1::key::{self, CatalogKey};
use esdb_format::v2::covering::CoveringEntry;
use esdb_format::DecodeError;

use crate::catalog::{CatalogCursor, Entry, EntryRef, PrefixIter};
use crate::db::Inner;
use crate::error::Result;
use crate::scan::{Resolver, Scan};

/// One space of an open file. Cheap to clone; every query method takes `&self`.
#[derive(Debug, Clone)]
pub struct Space {
    inner: Arc<Inner>,
    id: Bytes,
    pub(crate) summary: SpaceSummary,
    summary_at: u64,
    /// The catalog leaf holding the summary. A space's groupings and index values sort right
    /// before its summary, so they are usually in this leaf too.
    leaf: (Bytes, u64),
}

/// Event count and time bounds of a space, grouping or index value, read from the catalog
/// without scanning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Number of events.
    pub n_events: u64,
    /// Smallest timestamp.
    pub min_ts: i64,
    /// Largest timestamp.
    pub max_ts: i64,
}

impl From<Stats> for Counts {
    fn from(stats: Stats) -> Self {
        Counts { n_events: stats.n_events, min_ts: stats.min_ts, max_ts: stats.max_ts }
    }
}

/// A grouping of a space. See [`Space::groupings`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupingInfo {
    /// The grouping's name; empty for the default grouping.
    pub name: Bytes,
    /// Its events and time bounds.
    pub counts: Counts,
}

/// A value of one index of a space. See [`Space::index_values`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexValueInfo {
    /// The index name.
    pub name: Bytes,
    /// The value.
    pub value: Bytes,
    /// Events carrying `(name, value)` and their time bounds.
    pub counts: Counts,
}

impl Space {
    pub(crate) fn new(inner: Arc<Inner>, id: Bytes, entry: &Entry) -> Result<Space> {
        let summary = SpaceSummary::decode(entry.value(), entry.at)?;
        if summary.stats.n_events > inner.footer.n_events {
            return Err(DecodeError::invalid(
                "space event count",
                entry.at,
                format!("{} events in a file of {}", summary.stats.n_events, inner.footer.n_events),
            )
            .into());
        }
        Ok(Space { inner, id, summary, summary_at: entry.at, leaf: entry.leaf() })
    }

    /// The space's id.
    pub fn id(&self) -> &[u8] {
        &self.id
    }

    /// Number of events in the space.
    pub fn len(&self) -> u64 {
        self.summary.stats.n_events
    }

    /// Always false: a stored space has at least one event.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Event count and time bounds of the whole space.
    pub fn counts(&self) -> Counts {
        self.summary.stats.into()
    }

    /// Number of groupings.
    pub fn n_groupings(&self) -> u64 {
        self.summary.n_groupings
    }

    /// Number of distinct `(index name, value)` pairs.
    pub fn n_index_values(&self) -> u64 {
        self.summary.n_index_values
    }

    fn lookup(&self, target: &[u8]) -> Result<Option<Entry>> {
        // Keys are unique, so an exact match in the summary's leaf is the entry; otherwise the
        // entry, if any, is in another leaf and a descent finds it.
        let block = CatalogBlock::decode(&self.leaf.0, self.leaf.1)?;
        let idx = block.lower_bound(target)?;
        if idx < block.len() {
            let (key, value, at) = block.entry(idx)?;
            if key == target {
                return Ok(Some(Entry::new(self.leaf.0.clone(), self.leaf.1, key, value, at)));
            }
        }
        let mut cursor = CatalogCursor::seek(&self.inner, target)?;
        Ok(cursor.current()?.filter(|entry| entry.key()[..] == target[..]))
    }

    pub(crate) fn resolver(&self) -> Result<Resolver> {
        let (payload, at) = self.grouping_table()?;
        GroupingTable::decode(&payload, at, self.summary.n_groupings, self.summary.stats.n_events)?;
        Ok(Resolver::new(self.inner.clone(), payload, at))
    }

    /// The grouping table's payload and where it is: read from its block, or, for a version 2
    /// space of one grouping (which stores none), made from that grouping's catalog entry.
    fn grouping_table(&self) -> Result<(Bytes, u64)> {
        let handle = self.summary.grouping_table;
        if !(handle == Handle::default() && self.inner.header.major >= 2) {
            return Ok((self.inner.read_block(handle, "grouping table", self.summary_at)?, handle.offset));
        }
        if self.summary.n_groupings != 1 {
            return Err(DecodeError::invalid(
                "space grouping table",
                self.summary_at,
                format!("missing, but the space has {} groupings", self.summary.n_groupings),
            )
            .into());
        }
        let prefix = key::grouping_prefix(&self.id);
        let mut cursor = CatalogCursor::seek(&self.inner, &prefix)?;
        match cursor.current()? {
            Some(entry) if entry.key().starts_with(&prefix) => {
                let grouping = GroupingEntry::decode(entry.value(), entry.at)?;
                Ok((Bytes::from(grouping_table::of_only_grouping(&grouping)), entry.at))
            }
            _ => {
                Err(DecodeError::invalid("space summary", self.summary_at, "the space's one grouping is missing")
                    .into())
            }
        }
    }

    /// The events of `grouping` (`""` is the default grouping), oldest first; `.rev()` for newest
    /// first and `.range(..)` to restrict to a time range. A missing grouping gives an empty scan.
    ///
    /// Cost: one catalog descent and one read of the grouping's block index; then one block
    /// decode per block of events yielded.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog or block index is corrupt.
    pub fn scan(&self, grouping: impl AsRef<[u8]>) -> Result<Scan> {
        match self.lookup(&key::grouping_key(&self.id, grouping.as_ref()))? {
            None => Ok(Scan::empty()),
            Some(entry) => {
                let grouping = GroupingEntry::decode(entry.value(), entry.at)?;
                check_stats(&grouping.stats, &self.summary.stats, entry.at)?;
                Scan::grouping(
                    self.inner.clone(),
                    grouping.stream,
                    grouping.stats.n_events,
                    grouping.stats.min_ts,
                    grouping.first_event,
                    entry.at,
                )
            }
        }
    }

    /// The events carrying index value `(name, value)`, across all groupings, in (timestamp,
    /// insertion) order; `.rev()` and `.range(..)` as for [`scan`](Space::scan). A missing index
    /// or value gives an empty scan.
    ///
    /// Cost: one catalog descent, the grouping table, and the value's posting block index; then
    /// one posting block per 128 postings. A value that at least half of the space's events
    /// carry reads its events as [`events`](Space::events) does, decoding each data block once
    /// per end; a sparser one resolves its postings in batches sorted by event number (16,
    /// then 4 times more each time, up to 262,144 postings or 32 MiB of copied events), decoding
    /// each block holding one of a batch's events once for the batch.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog, grouping table or block index is
    /// corrupt.
    pub fn scan_index(&self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Scan> {
        self.scan_index_via(name.as_ref(), value.as_ref(), true)
    }

    /// [`Space::scan_index`], through the value's own data stream when the index is covered and
    /// `use_covering` holds, else through its postings.
    pub(crate) fn scan_index_via(&self, name: &[u8], value: &[u8], use_covering: bool) -> Result<Scan> {
        match self.lookup(&key::index_value_key(&self.id, name, value))? {
            None => Ok(Scan::empty()),
            Some(entry) => {
                let index_value = IndexValueEntry::decode(entry.value(), entry.at)?;
                check_stats(&index_value.stats, &self.summary.stats, entry.at)?;
                let covering = self.inner.covering.as_ref().filter(|covering| use_covering && covering.covers(name));
                if let Some(covering) = covering {
                    let (data, covered_at) = self.covering_entry(
                        &covering.tree,
                        entry.key(),
                        entry.at,
                        "covering catalog",
                        "the index is covered, but the covering catalog has no entry for this value",
                    )?;
                    return Scan::covered(
                        self.inner.clone(),
                        &index_value,
                        entry.at,
                        &data,
                        covered_at,
                        self.summary.stats.n_events,
                    );
                }
                Scan::postings(
                    self.resolver()?,
                    index_value.stream,
                    index_value.stats.n_events,
                    index_value.stats.min_ts,
                    entry.at,
                )
            }
        }
    }

    /// Every event of the space across all groupings, in (timestamp, insertion) order; `.rev()`
    /// and `.range(..)` as for [`scan`](Space::scan).
    ///
    /// With one grouping this is a scan of that grouping. With several, in a file that covers
    /// its timelines ([`Db::covers_timeline`](crate::Db::covers_timeline)), it reads the space's
    /// own copy of its events in timeline order, as fast as a grouping scan; otherwise it follows
    /// the space's timeline postings, reading each grouping through a cursor that keeps the data
    /// block it is in: every block is decoded once per end read, however the groupings interleave.
    ///
    /// Memory: the cursors of one end hold at most about 128 MiB of decoded blocks (event data
    /// plus 16 bytes per event); a space that decodes to more drops them all when they reach it,
    /// and decodes again the blocks still wanted. Reading from both ends holds twice that.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the grouping table or block index is corrupt.
    pub fn events(&self) -> Result<Scan> {
        self.events_via(true)
    }

    /// [`Space::events`], through the space's covering timeline when the file has one and
    /// `use_covering` holds, else through its timeline postings.
    pub(crate) fn events_via(&self, use_covering: bool) -> Result<Scan> {
        if let (Some(timeline), Some(tree), true) = (self.summary.timeline, &self.inner.covering_timeline, use_covering)
        {
            let (data, covered_at) = self.covering_entry(
                tree,
                &key::space_key(&self.id),
                self.summary_at,
                "covering-timeline catalog",
                "the file covers its timelines, but the covering-timeline catalog has no entry for this space",
            )?;
            let timeline = IndexValueEntry { stats: self.summary.stats, stream: timeline };
            return Scan::covered(
                self.inner.clone(),
                &timeline,
                self.summary_at,
                &data,
                covered_at,
                self.summary.stats.n_events,
            );
        }
        let resolver = self.resolver()?;
        match self.summary.timeline {
            Some(timeline) => Scan::postings(
                resolver,
                timeline,
                self.summary.stats.n_events,
                self.summary.stats.min_ts,
                self.summary_at,
            ),
            None => {
                let grouping = resolver.table().entry(0);
                Scan::grouping(
                    self.inner.clone(),
                    grouping.stream,
                    grouping.n_events,
                    grouping.min_ts,
                    0,
                    resolver.table().entry_offset(0),
                )
            }
        }
    }

    /// Every event of the space with its grouping and index entries, in (timestamp, insertion)
    /// order: everything needed to write the same events again (`esdb export`, `esdb merge`).
    ///
    /// Cost: reads every posting of the space up front and keeps, for each event, which index
    /// values it carries: about 16 bytes per posting plus 8 per event while building, 4 per
    /// posting plus 8 per event while iterating.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog or a posting block is corrupt.
    pub fn records(&self) -> Result<crate::records::Records> {
        crate::records::Records::new(self)
    }

    /// The grouping and, with `indexes`, the index values of every event of the space, by
    /// ordinal: what a scan's events lack, for a consumer that needs them beside any scan (a SQL
    /// table's columns).
    ///
    /// Cost: one walk of the space's grouping entries; with `indexes`, every posting as for
    /// [`Space::records`].
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog or a posting block is corrupt.
    pub fn event_labels(&self, indexes: bool) -> Result<crate::records::EventLabels> {
        crate::records::EventLabels::new(self, indexes)
    }

    /// The entry for `key` in the covering catalog `tree` and its offset; an error naming
    /// `section` and `at` (where the main catalog's entry for `key` is) when it is missing.
    fn covering_entry(
        &self,
        tree: &crate::catalog::Tree,
        key: &[u8],
        at: u64,
        section: &'static str,
        missing: &'static str,
    ) -> Result<(CoveringEntry, u64)> {
        let mut cursor = CatalogCursor::seek_in(&self.inner, tree.clone(), key)?;
        match cursor.current()? {
            Some(covered) if covered.key() == key => {
                Ok((CoveringEntry::decode(covered.value(), covered.at)?, covered.at))
            }
            _ => Err(DecodeError::invalid(section, at, missing).into()),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Event count and time bounds of `grouping`, or `None` if the space has no such grouping.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog is corrupt.
    pub fn grouping(&self, grouping: impl AsRef<[u8]>) -> Result<Option<GroupingInfo>> {
        let grouping = grouping.as_ref();
        let Some(entry) = self.lookup(&key::grouping_key(&self.id, grouping))? else { return Ok(None) };
        let decoded = GroupingEntry::decode(entry.value(), entry.at)?;
        Ok(Some(GroupingInfo { name: Bytes::copy_from_slice(grouping), counts: decoded.stats.into() }))
    }

    /// Event count and time bounds of index value `(name, value)`, or `None` if absent.
    ///
    /// # Errors
    /// [`Error::Decode`](crate::Error::Decode) if the catalog is corrupt.
    pub fn index_value(&self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<Option<IndexValueInfo>> {
        let (name, value) = (name.as_ref(), value.as_ref());
        let Some(entry) = self.lookup(&key::index_value_key(&self.id, name, value))? else { return Ok(None) };
        let decoded = IndexValueEntry::decode(entry.value(), entry.at)?;
        Ok(Some(IndexValueInfo {
            name: Bytes::copy_from_slice(name),
            value: Bytes::copy_from_slice(value),
            counts: decoded.stats.into(),
        }))
    }

    /// Every grouping of the space with a scan of its events, in ascending name order: all events
    /// of the space in storage order (by grouping, then timestamp and insertion order).
    ///
    /// This is the fastest way to read everything: it walks the catalog once instead of looking
    /// each grouping up. Each [`Scan`] is independent and `Send`, so the groupings can be split
    /// between threads to read a space in parallel.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f.esdb");
    /// # let mut w = esdb_write::Writer::create(&path)?;
    /// # for ts in 0..10 { w.add("s", ts, ["a", "b"][ts as usize % 2], [("n", "v")], ts.to_string())?; }
    /// # w.finish()?;
    /// let db = esdb_read::Db::open(&path)?;
    /// let space = db.space("s")?.expect("space exists");
    /// let mut total = 0;
    /// for grouping in space.grouping_scans() {
    ///     let (info, scan) = grouping?;
    ///     total += scan.count();
    ///     assert!(info.name == "a" || info.name == "b");
    /// }
    /// assert_eq!(total, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grouping_scans(&self) -> GroupingScans {
        self.grouping_scans_part(0, 1)
    }

    /// The share `part` of [`grouping_scans`](Space::grouping_scans) when the groupings are dealt
    /// out to `parts` readers in name order: the groupings at positions `part`, `part + parts`,
    /// `part + 2 * parts`, … . Each thread of a parallel read takes its own part, so that listing
    /// the groupings is shared out too; the other groupings are stepped over without being
    /// decoded.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f.esdb");
    /// # let mut w = esdb_write::Writer::create(&path)?;
    /// # for ts in 0..100 { w.add("s", ts, format!("g{}", ts % 7), [("n", "v")], ts.to_string())?; }
    /// # w.finish()?;
    /// let db = esdb_read::Db::open(&path)?;
    /// let space = db.space("s")?.expect("space exists");
    /// let events: usize = std::thread::scope(|scope| {
    ///     let readers: Vec<_> = (0..2)
    ///         .map(|part| {
    ///             let space = &space;
    ///             scope.spawn(move || {
    ///                 let mut n = 0;
    ///                 for grouping in space.grouping_scans_part(part, 2) {
    ///                     let mut scan = grouping.expect("readable").1;
    ///                     while let Some(event) = scan.next_ref() {
    ///                         event.expect("readable");
    ///                         n += 1;
    ///                     }
    ///                 }
    ///                 n
    ///             })
    ///         })
    ///         .collect();
    ///     readers.into_iter().map(|reader| reader.join().unwrap()).sum()
    /// });
    /// assert_eq!(events, 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Panics
    /// If `part >= parts`.
    pub fn grouping_scans_part(&self, part: usize, parts: usize) -> GroupingScans {
        assert!(part < parts, "part {part} of {parts} parts does not exist");
        GroupingScans {
            // The scans of one part count their references to the file apart from other parts'.
            iter: PrefixIter::new(self.inner.fork(), key::grouping_prefix(&self.id)),
            space: self.summary.stats,
            to_skip: part,
            stride: parts,
            start: None,
        }
    }

    /// As [`grouping_scans`](Space::grouping_scans), from the first grouping whose name is
    /// `first` or after it: one catalog descent, then a walk, where looking each grouping up with
    /// [`scan`](Space::scan) descends the catalog once per grouping. For a reader that takes a
    /// run of consecutive groupings (a share of a large space).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f.esdb");
    /// # let mut w = esdb_write::Writer::create(&path)?;
    /// # for ts in 0..30 { w.add("s", ts, format!("g{}", ts % 3), [("n", "v")], ts.to_string())?; }
    /// # w.finish()?;
    /// let db = esdb_read::Db::open(&path)?;
    /// let space = db.space("s")?.expect("space exists");
    /// let names: Vec<_> = space.grouping_scans_from("g1").map(|g| g.map(|(info, _)| info.name)).collect::<Result<_, _>>()?;
    /// assert_eq!(names, ["g1", "g2"]);
    /// assert_eq!(space.grouping_scans_from("g10").count(), 1, "g2 is the first from g10 on");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn grouping_scans_from(&self, first: impl AsRef<[u8]>) -> GroupingScans {
        GroupingScans {
            iter: PrefixIter::new(self.inner.fork(), key::grouping_prefix(&self.id)),
            space: self.summary.stats,
            to_skip: 0,
            stride: 1,
            start: Some(key::grouping_key(&self.id, first.as_ref())),
        }
    }

    /// Every grouping of the space, in ascending name order.
    pub fn groupings(&self) -> Groupings {
        Groupings { iter: PrefixIter::new(self.inner.clone(), key::grouping_prefix(&self.id)) }
    }

    /// The names of the space's indexes, in ascending order, each once.
    pub fn index_names(&self) -> IndexNames {
        IndexNames { iter: PrefixIter::new(self.inner.clone(), key::index_prefix(&self.id)) }
    }

    /// The values of index `name`, in ascending order, with their counts.
    pub fn index_values(&self, name: impl AsRef<[u8]>) -> IndexValues {
        IndexValues { iter: PrefixIter::new(self.inner.clone(), key::index_name_prefix(&self.id, name.as_ref())) }
    }
}

fn check_stats(stats: &Stats, space: &Stats, at: u64) -> Result<()> {
    if stats.n_events > space.n_events || stats.min_ts < space.min_ts || stats.max_ts > space.max_ts {
        return Err(DecodeError::invalid(
            "event count",
            at,
            "entry claims more events or a wider time range than its space",
        )
        .into());
    }
    Ok(())
}

/// Turns one step of a catalog-backed iterator into its item, ending the iteration after an
/// error so that every such iterator is fused.
fn fuse<T>(iter: &mut PrefixIter, result: Result<Option<T>>) -> Option<Result<T>> {
    match result {
        Ok(item) => item.map(Ok),
        Err(err) => {
            iter.stop();
            Some(Err(err))
        }
    }
}

/// Iterator over the groupings of a space. See [`Space::groupings`].
#[derive(Debug)]
pub struct Groupings {
    iter: PrefixIter,
}

impl Groupings {
    fn advance(&mut self) -> Result<Option<GroupingInfo>> {
        let Some(entry) = self.iter.next_entry()? else { return Ok(None) };
        let decoded = GroupingEntry::decode(entry.value(), entry.at)?;
        let name = entry.key_suffix(self.iter.prefix().len());
        Ok(Some(GroupingInfo { name, counts: decoded.stats.into() }))
    }
}

impl Iterator for Groupings {
    type Item = Result<GroupingInfo>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.advance();
        fuse(&mut self.iter, result)
    }
}

/// Iterator over the groupings of a space with a scan of each. See [`Space::grouping_scans`].
#[derive(Debug)]
pub struct GroupingScans {
    iter: PrefixIter,
    space: Stats,
    /// Groupings to step over before the next one yielded.
    to_skip: usize,
    /// One grouping is yielded out of every `stride`.
    stride: usize,
    /// The key the walk starts from, until the first `next` descends to it.
    start: Option<Vec<u8>>,
}

impl GroupingScans {
    fn advance(&mut self) -> Result<Option<(GroupingInfo, Scan)>> {
        if let Some(start) = self.start.take() {
            self.iter.skip_to(&start)?;
        }
        for _ in 0..self.to_skip {
            if !self.iter.skip_entry()? {
                return Ok(None);
            }
        }
        self.to_skip = self.stride - 1;
        let prefix_len = self.iter.prefix().len();
        // The entry is borrowed and the name copied: sharing the leaf would count references on
        // the file's bytes, which every thread listing groupings shares.
        let Some(EntryRef { key, value, at }) = self.iter.next_ref()? else { return Ok(None) };
        let decoded = GroupingEntry::decode(value, at)?;
        let name = Bytes::copy_from_slice(&key[prefix_len..]);
        check_stats(&decoded.stats, &self.space, at)?;
        let scan = Scan::grouping(
            self.iter.inner().clone(),
            decoded.stream,
            decoded.stats.n_events,
            decoded.stats.min_ts,
            decoded.first_event,
            at,
        )?;
        Ok(Some((GroupingInfo { name, counts: decoded.stats.into() }, scan)))
    }
}

impl Iterator for GroupingScans {
    type Item = Result<(GroupingInfo, Scan)>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.advance();
        fuse(&mut self.iter, result)
    }
}

/// Iterator over the index names of a space. See [`Space::index_names`].
#[derive(Debug)]
pub struct IndexNames {
    iter: PrefixIter,
}

impl IndexNames {
    fn advance(&mut self) -> Result<Option<Bytes>> {
        let Some(entry) = self.iter.next_entry()? else { return Ok(None) };
        let CatalogKey::IndexValue { name, .. } = CatalogKey::decode(entry.key(), entry.at)? else {
            return Err(DecodeError::invalid("catalog key", entry.at, "expected an index value key").into());
        };
        // Skip the remaining values of this name in one descent: the escaped name ends in
        // `00 01`, and `00 02` sorts right after every key with that prefix.
        let mut target = self.iter.prefix().to_vec();
        key::push_escaped(&name, &mut target);
        *target.last_mut().expect("an escaped part ends with its terminator") += 1;
        self.iter.skip_to(&target)?;
        Ok(Some(Bytes::from(name)))
    }
}

impl Iterator for IndexNames {
    type Item = Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.advance();
        fuse(&mut self.iter, result)
    }
}

/// Iterator over the values of one index. See [`Space::index_values`].
#[derive(Debug)]
pub struct IndexValues {
    iter: PrefixIter,
}

impl IndexValues {
    fn advance(&mut self) -> Result<Option<IndexValueInfo>> {
        let Some(entry) = self.iter.next_entry()? else { return Ok(None) };
        let CatalogKey::IndexValue { name, value, .. } = CatalogKey::decode(entry.key(), entry.at)? else {
            return Err(DecodeError::invalid("catalog key", entry.at, "expected an index value key").into());
        };
        let decoded = IndexValueEntry::decode(entry.value(), entry.at)?;
        Ok(Some(IndexValueInfo { name: Bytes::from(name), value: Bytes::from(value), counts: decoded.stats.into() }))
    }
}

impl Iterator for IndexValues {
    type Item = Result<IndexValueInfo>;

    fn next(&mut self) -> Option<Self::Item> {
        let result = self.advance();
        fuse(&mut self.iter, result)
    }
}
