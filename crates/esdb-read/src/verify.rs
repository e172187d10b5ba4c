//! Full integrity check of a file: every checksum, every structural invariant, and that the
//! blocks reached from the footer tile the file exactly, so no byte escapes a checksum.

use std::sync::Arc;

use esdb_format::v1::block_index::BlockIndex;
use esdb_format::v1::catalog::{GroupingEntry, IndexValueEntry, SpaceSummary, Stats, StreamRef};
use esdb_format::v1::data_block::{self, EventSpan};
use esdb_format::v1::frame::Handle;
use esdb_format::v1::grouping_table::GroupingTable;
use esdb_format::v1::key::CatalogKey;
use esdb_format::v1::{header, posting_block};
use esdb_format::DecodeError;

use crate::db::Inner;
use crate::error::{Error, Result};
use crate::scan::Resolver;
use crate::walk::{CatalogStep, CatalogWalk};

/// The outcome of [`Db::verify`](crate::Db::verify).
#[derive(Debug, Default)]
#[non_exhaustive]
#[must_use = "a report says whether the file is intact only if it is looked at"]
pub struct Report {
    /// Every problem found, each naming its section and absolute offset. Empty for a sound file.
    pub problems: Vec<Error>,
    /// Blocks read and checked.
    pub n_blocks: u64,
    /// Events decoded.
    pub n_events: u64,
    /// Spaces checked.
    pub n_spaces: u64,
    /// Groupings checked.
    pub n_groupings: u64,
    /// Index values checked.
    pub n_index_values: u64,
    /// Postings of index values (timelines not included).
    pub n_postings: u64,
    /// Bytes of event data, as given to the writer.
    pub data_bytes: u64,
    /// Blocks and bytes per section kind (`data block`, `posting block`, `timeline block`,
    /// `block index`, `grouping table`, `catalog block`), in name order.
    pub sections: std::collections::BTreeMap<&'static str, SectionStats>,
}

/// Size of one kind of section, see [`Report::sections`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SectionStats {
    /// Number of blocks.
    pub n_blocks: u64,
    /// Bytes in the file, trailers included.
    pub stored_bytes: u64,
    /// Bytes once decompressed, trailers not included.
    pub raw_bytes: u64,
}

impl Report {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

struct Verifier<'i> {
    inner: &'i Arc<Inner>,
    progress: &'i mut dyn FnMut(u64),
    report: Report,
    /// Every framed block read: (start, end, section).
    covered: Vec<(u64, u64, &'static str)>,
    /// Entries of the space whose summary comes next, in catalog order.
    pending_groupings: Vec<(GroupingEntry, u64)>,
    pending_values: Vec<(IndexValueEntry, u64)>,
    pending_space: Option<Vec<u8>>,
    spans: Vec<EventSpan>,
    postings: Vec<u64>,
    /// Every index name the catalog holds, to check against the metadata block's list.
    index_names: std::collections::BTreeSet<Vec<u8>>,
    /// Index values of covered names the catalog holds, to check against the covering catalog.
    n_covered_values: u64,
    /// Spaces with a timeline the catalog holds, to check against the covering-timeline catalog.
    n_timelines: u64,
    /// Which catalog tree the walk is in.
    walking: Tree,
    /// Messages of the problems reported, so that each is reported once.
    reported: std::collections::HashSet<String>,
}

pub(crate) fn verify(inner: &Arc<Inner>, progress: &mut dyn FnMut(u64)) -> Report {
    let mut verifier = Verifier {
        inner,
        progress,
        report: Report::default(),
        reported: std::collections::HashSet::new(),
        covered: Vec::new(),
        pending_groupings: Vec::new(),
        pending_values: Vec::new(),
        pending_space: None,
        spans: Vec::new(),
        postings: Vec::new(),
        index_names: Default::default(),
        n_covered_values: 0,
        n_timelines: 0,
        walking: Tree::Catalog,
    };
    let footer = inner.footer;
    if inner.source.distance() == crate::source::Distance::Far {
        // A far source was opened from its end alone; the header is checked here.
        if let Err(err) = check_header(inner) {
            verifier.problem(err);
        }
    }
    let root = footer.catalog_root;
    verifier.cover(root, "catalog root block");
    verifier.count_section("catalog block", root, inner.catalog.root.len());
    if let Some(metadata) = footer.metadata {
        verifier.report.n_blocks += 1;
        verifier.cover(metadata, "metadata block");
        verifier.count_section("metadata block", metadata, metadata.len as usize);
    }
    if let Some(dictionary) = inner.metadata.zstd_dictionary().filter(|_| inner.dictionary.is_some()) {
        verifier.report.n_blocks += 1;
        verifier.cover(dictionary, "zstd dictionary");
        verifier.count_section("zstd dictionary", dictionary, dictionary.len as usize);
    }
    if let Err(err) = verifier.walk_catalog(CatalogWalk::catalog(inner)) {
        verifier.problem(err);
    }
    if verifier.pending_space.is_some() || !verifier.pending_groupings.is_empty() || !verifier.pending_values.is_empty()
    {
        verifier.problem(DecodeError::invalid(
            "catalog",
            root.offset,
            "the last space's entries have no space summary",
        ));
    }
    if verifier.report.n_spaces != footer.n_spaces || verifier.report.n_events != footer.n_events {
        verifier.problem(DecodeError::invalid(
            "footer event count",
            inner.body_end() + esdb_format::v2::footer::N_SPACES_OFFSET as u64,
            format!(
                "footer says {} spaces and {} events, the file holds {} and {}",
                footer.n_spaces, footer.n_events, verifier.report.n_spaces, verifier.report.n_events
            ),
        ));
    }
    if let Some(listed) = inner.metadata.index_names() {
        let found: Vec<&[u8]> = verifier.index_names.iter().map(|name| &name[..]).collect();
        if listed != found {
            let at = footer.metadata.map_or(0, |handle| handle.offset);
            verifier.problem(DecodeError::invalid(
                "metadata esdb.index_names",
                at,
                format!("lists {} index names, the catalog holds {}", listed.len(), found.len()),
            ));
        }
    }
    if let Some(covering) = &inner.covering {
        verifier.covering(covering);
    }
    if let Some(tree) = &inner.covering_timeline {
        verifier.covering_timeline(tree);
    }
    // The blocks of a compatible feature this build does not know are reached only through it.
    if verifier.report.problems.is_empty() && footer.features.unknown_compatible() == 0 {
        verifier.check_coverage();
    }
    verifier.report
}

/// Checks that a covering stream's scan `covered` yields the events of the postings' scan
/// `postings`, in their order; a difference is an error naming `field` at `at`.
fn same_events(mut covered: crate::Scan, mut postings: crate::Scan, field: &'static str, at: u64) -> Result<()> {
    loop {
        match (covered.next_ref(), postings.next_ref()) {
            (None, None) => return Ok(()),
            (Some(Ok(a)), Some(Ok(b)))
                if a.timestamp() == b.timestamp() && a.data() == b.data() && a.ordinal() == b.ordinal() => {}
            (Some(Err(err)), _) | (_, Some(Err(err))) => return Err(err),
            (covered, _) => {
                let what = match covered {
                    None => "ends before its postings".to_owned(),
                    Some(Ok(event)) => format!("differs from its postings at event {}", event.ordinal()),
                    Some(Err(_)) => unreachable!("matched above"),
                };
                return Err(DecodeError::invalid(field, at, what).into());
            }
        }
    }
}

/// The header of a file opened without reading it: valid, and of the footer's version.
fn check_header(inner: &Inner) -> Result<()> {
    let head = inner.read(0, header::LEN as u64)?;
    let end_len = inner.file_len.min(esdb_format::ends::MAX_FOOTER_LEN as u64);
    let end = inner.read(inner.file_len - end_len, end_len)?;
    esdb_format::ends::decode(&head, &end, inner.file_len)?;
    Ok(())
}

/// The catalog trees a file may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tree {
    Catalog,
    Covering,
    CoveringTimeline,
}

impl Verifier<'_> {
    /// Records a problem once: a corrupt block that several streams share is reported once,
    /// not once per stream that reads it.
    fn problem(&mut self, err: impl Into<Error>) {
        let err = err.into();
        if self.reported.insert(err.to_string()) {
            self.report.problems.push(err);
        }
    }

    fn cover(&mut self, handle: Handle, section: &'static str) {
        self.covered.push((handle.offset, handle.end(), section));
    }

    fn read_block(&mut self, handle: Handle, section: &'static str, referenced_at: u64) -> Result<bytes::Bytes> {
        let payload = self.inner.read_block(handle, section, referenced_at)?;
        self.cover(handle, section);
        self.report.n_blocks += 1;
        self.count_section(section, handle, payload.len());
        (self.progress)(handle.framed_len());
        Ok(payload)
    }

    fn count_section(&mut self, section: &'static str, handle: Handle, raw_len: usize) {
        let section = if section == "catalog root block" { "catalog block" } else { section };
        let stats = self.report.sections.entry(section).or_default();
        stats.n_blocks += 1;
        stats.stored_bytes += handle.framed_len();
        stats.raw_bytes += raw_len as u64;
    }

    /// Walks a catalog tree, counting its blocks below the root (the caller counts the root,
    /// read at open) and checking each leaf entry; a problem with an entry is reported and the
    /// walk goes on, one with the tree's structure ends it.
    fn walk_catalog(&mut self, walk: CatalogWalk) -> Result<()> {
        let section = match self.walking {
            Tree::Catalog => "catalog block",
            Tree::Covering => "covering catalog block",
            Tree::CoveringTimeline => "covering-timeline catalog block",
        };
        for step in walk {
            match step? {
                CatalogStep::Block { handle, depth, payload_len, .. } => {
                    self.report.n_blocks += 1;
                    if depth > 1 {
                        self.cover(handle, section);
                        self.count_section(section, handle, payload_len);
                        (self.progress)(handle.framed_len());
                    }
                }
                CatalogStep::Entry { key, value, at } => {
                    let checked = match self.walking {
                        Tree::Catalog => self.leaf_entry(&key, &value, at),
                        Tree::Covering => self.covering_entry(&key, &value, at),
                        Tree::CoveringTimeline => self.covering_timeline_entry(&key, &value, at),
                    };
                    if let Err(err) = checked {
                        self.problem(err);
                    }
                }
            }
        }
        Ok(())
    }

    fn leaf_entry(&mut self, key: &[u8], value: &[u8], at: u64) -> Result<()> {
        let parsed = CatalogKey::decode(key, at)?;
        if self.pending_space.as_deref().is_some_and(|space| space != parsed.space()) {
            self.pending_groupings.clear();
            self.pending_values.clear();
            return Err(DecodeError::invalid("catalog key", at, "previous space has no space summary").into());
        }
        self.pending_space = Some(parsed.space().to_vec());
        match parsed {
            CatalogKey::Grouping { .. } => self.pending_groupings.push((GroupingEntry::decode(value, at)?, at)),
            CatalogKey::IndexValue { name, .. } => {
                if !self.index_names.contains(&name[..]) {
                    self.index_names.insert(name.to_vec());
                }
                if self.inner.covering.as_ref().is_some_and(|covering| covering.covers(&name)) {
                    self.n_covered_values += 1;
                }
                self.pending_values.push((IndexValueEntry::decode(value, at)?, at))
            }
            CatalogKey::Space { .. } => {
                self.pending_space = None;
                let groupings = std::mem::take(&mut self.pending_groupings);
                let values = std::mem::take(&mut self.pending_values);
                let summary = SpaceSummary::decode(value, at)?;
                self.n_timelines += u64::from(summary.timeline.is_some());
                self.space(summary, at, &groupings, &values)?;
            }
        }
        Ok(())
    }

    fn space(
        &mut self,
        summary: SpaceSummary,
        at: u64,
        groupings: &[(GroupingEntry, u64)],
        values: &[(IndexValueEntry, u64)],
    ) -> Result<()> {
        self.report.n_spaces += 1;
        let omitted = summary.grouping_table == Handle::default() && self.inner.header.major >= 2;
        let (table_payload, table_at) = match groupings {
            // A version 2 space of one grouping stores no table: its entry implies it.
            [(only, only_at)] if omitted => {
                (bytes::Bytes::from(esdb_format::v1::grouping_table::of_only_grouping(only)), *only_at)
            }
            _ => (self.read_block(summary.grouping_table, "grouping table", at)?, summary.grouping_table.offset),
        };
        let table = GroupingTable::decode(&table_payload, table_at, summary.n_groupings, summary.stats.n_events)?;
        if groupings.len() as u64 != summary.n_groupings || values.len() as u64 != summary.n_index_values {
            return Err(DecodeError::invalid(
                "space summary",
                at,
                format!(
                    "summary counts {} groupings and {} index values, the catalog holds {} and {}",
                    summary.n_groupings,
                    summary.n_index_values,
                    groupings.len(),
                    values.len()
                ),
            )
            .into());
        }
        let mut stats = None;
        // Every event's timestamp in event-number order, so that postings are checked without
        // decoding their data blocks again (a posting's events are spread over the groupings).
        let mut timestamps =
            (summary.stats.n_events <= MAX_TIMESTAMPS).then(|| Vec::with_capacity(summary.stats.n_events as usize));
        for (idx, (grouping, grouping_at)) in groupings.iter().enumerate() {
            let entry = table.entry(idx);
            if entry.first_event != grouping.first_event
                || entry.n_events != grouping.stats.n_events
                || entry.stream != grouping.stream
            {
                self.problem(DecodeError::invalid(
                    "grouping table entry",
                    table.entry_offset(idx),
                    "differs from the grouping's catalog entry",
                ));
                timestamps = None;
                continue;
            }
            self.report.n_groupings += 1;
            match self.data_stream(grouping.stream, grouping.stats, *grouping_at, timestamps.as_mut()) {
                Ok(()) => stats = Some(merge_stats(stats, grouping.stats)),
                Err(err) => {
                    self.problem(err);
                    timestamps = None;
                }
            }
        }
        let timestamps = timestamps.filter(|ts| ts.len() as u64 == summary.stats.n_events);
        if stats.is_some_and(|stats| stats != summary.stats) {
            self.problem(DecodeError::invalid(
                "space summary",
                at,
                "event count or time bounds differ from its groupings",
            ));
        }
        self.report.n_events += summary.stats.n_events;
        let mut resolver = Resolver::new(self.inner.clone(), table_payload.clone(), table_at);
        let mut resolver = Timestamps { resolver: &mut resolver, known: timestamps.as_deref() };
        if let Some(timeline) = summary.timeline {
            let mut seen = vec![false; summary.stats.n_events as usize];
            if let Err(err) =
                self.posting_stream(timeline, summary.stats, summary.stats.n_events, at, &mut resolver, Some(&mut seen))
            {
                self.problem(err);
            }
        }
        for (value, value_at) in values {
            self.report.n_index_values += 1;
            self.report.n_postings += value.stats.n_events;
            if let Err(err) =
                self.posting_stream(value.stream, value.stats, summary.stats.n_events, *value_at, &mut resolver, None)
            {
                self.problem(err);
            }
        }
        Ok(())
    }

    /// Walks the covering catalog: one entry for each value of a covered index, each holding
    /// the value's events as its postings give them.
    fn covering(&mut self, covering: &crate::db::Covering) {
        let root = covering.tree.root_at;
        let Some(catalog) = self.inner.metadata.covering() else { return };
        self.cover(catalog.root, "covering catalog root block");
        self.count_section("covering catalog block", catalog.root, covering.tree.root.len());
        self.walking = Tree::Covering;
        let n_covered_values = std::mem::take(&mut self.n_covered_values);
        if let Some(Err(err)) = CatalogWalk::covering_catalog(self.inner).map(|walk| self.walk_catalog(walk)) {
            self.problem(err);
        }
        self.walking = Tree::Catalog;
        if self.n_covered_values != n_covered_values {
            self.problem(DecodeError::invalid(
                "covering catalog",
                root,
                format!("holds {} values of covered indexes, the catalog {n_covered_values}", self.n_covered_values),
            ));
        }
    }

    /// Walks the covering-timeline catalog: one entry for each space with a timeline, each
    /// holding the space's events as its timeline gives them.
    fn covering_timeline(&mut self, tree: &crate::catalog::Tree) {
        let Some(catalog) = self.inner.metadata.covering_timeline() else { return };
        self.cover(catalog.root, "covering-timeline catalog root block");
        self.count_section("covering-timeline catalog block", catalog.root, tree.root.len());
        self.walking = Tree::CoveringTimeline;
        let n_timelines = std::mem::take(&mut self.n_timelines);
        if let Some(Err(err)) = CatalogWalk::covering_timeline_catalog(self.inner).map(|walk| self.walk_catalog(walk)) {
            self.problem(err);
        }
        self.walking = Tree::Catalog;
        if self.n_timelines != n_timelines {
            self.problem(DecodeError::invalid(
                "covering-timeline catalog",
                tree.root_at,
                format!("holds {} timelines, the catalog {n_timelines} spaces with a timeline", self.n_timelines),
            ));
        }
    }

    /// Checks one covering-timeline catalog entry: its data stream, and that it holds the
    /// space's events in the order of its timeline.
    fn covering_timeline_entry(&mut self, key: &[u8], value: &[u8], at: u64) -> Result<()> {
        self.n_timelines += 1;
        let CatalogKey::Space { space } = CatalogKey::decode(key, at)? else {
            return Err(DecodeError::invalid("covering-timeline catalog key", at, "not a space summary key").into());
        };
        let entry = esdb_format::v2::covering::CoveringEntry::decode(value, at)?;
        let db = crate::Db { inner: self.inner.clone() };
        let space = db.space(&space)?.ok_or_else(|| {
            DecodeError::invalid("covering-timeline catalog key", at, "the catalog has no such space")
        })?;
        if space.summary.timeline.is_none() {
            return Err(DecodeError::invalid("covering-timeline catalog key", at, "the space has no timeline").into());
        }
        self.data_stream_as(entry.stream, space.summary.stats, at, "covering-timeline data block")?;
        same_events(space.events_via(true)?, space.events_via(false)?, "covering-timeline data", at)
    }

    /// Checks one covering catalog entry: its data stream, and that it holds the events of the
    /// value's postings, in their order.
    fn covering_entry(&mut self, key: &[u8], value: &[u8], at: u64) -> Result<()> {
        self.n_covered_values += 1;
        let CatalogKey::IndexValue { space, name, value: index_value } = CatalogKey::decode(key, at)? else {
            return Err(DecodeError::invalid("covering catalog key", at, "not an index value key").into());
        };
        if !self.inner.covering.as_ref().is_some_and(|covering| covering.covers(&name)) {
            return Err(DecodeError::invalid("covering catalog key", at, "the index is not listed as covered").into());
        }
        let entry = esdb_format::v2::covering::CoveringEntry::decode(value, at)?;
        let db = crate::Db { inner: self.inner.clone() };
        let missing = || DecodeError::invalid("covering catalog key", at, "the catalog has no such index value");
        let space = db.space(&space)?.ok_or_else(missing)?;
        let info = space.index_value(&name, &index_value)?.ok_or_else(missing)?;
        let stats = Stats { n_events: info.counts.n_events, min_ts: info.counts.min_ts, max_ts: info.counts.max_ts };
        self.data_stream_as(entry.stream, stats, at, "covering data block")?;
        let covered = space.scan_index_via(&name, &index_value, true)?;
        same_events(covered, space.scan_index_via(&name, &index_value, false)?, "covering data", at)
    }

    fn stream_index(&mut self, stream: StreamRef, stats: Stats, at: u64) -> Result<(bytes::Bytes, u64)> {
        let n_items = stats.n_events;
        let (payload, index_at) = match stream.single_block_entry(stats.min_ts) {
            Some(entry) => {
                let mut payload = Vec::new();
                entry.encode(&mut payload);
                (bytes::Bytes::from(payload), at)
            }
            None => (self.read_block(stream.handle, "block index", at)?, stream.handle.offset),
        };
        let index = BlockIndex::decode(&payload, index_at, stream.n_blocks)?;
        index.check_start(n_items)?;
        for idx in 0..index.len() {
            index.block_items(idx, n_items)?;
        }
        Ok((payload, index_at))
    }

    fn data_stream(
        &mut self,
        stream: StreamRef,
        stats: Stats,
        at: u64,
        timestamps: Option<&mut Vec<i64>>,
    ) -> Result<()> {
        self.report.data_bytes += self.data_stream_of(stream, stats, at, "data block", timestamps)?;
        Ok(())
    }

    /// Checks a data stream other than a grouping's (its events are counted elsewhere).
    fn data_stream_as(&mut self, stream: StreamRef, stats: Stats, at: u64, section: &'static str) -> Result<()> {
        self.data_stream_of(stream, stats, at, section, None).map(|_| ())
    }

    /// Checks a data stream whose blocks are `section`s; returns the bytes of event data it holds.
    fn data_stream_of(
        &mut self,
        stream: StreamRef,
        stats: Stats,
        at: u64,
        section: &'static str,
        mut timestamps: Option<&mut Vec<i64>>,
    ) -> Result<u64> {
        let mut data_bytes = 0;
        let (payload, index_at) = self.stream_index(stream, stats, at)?;
        let index = BlockIndex::decode(&payload, index_at, stream.n_blocks)?;
        let mut previous_ts = i64::MIN;
        for idx in 0..index.len() {
            let entry = index.entry(idx);
            let end = if idx + 1 < index.len() { index.entry(idx + 1).first_item } else { stats.n_events };
            let block = self.read_block(entry.block, section, index.entry_offset(idx))?;
            let mut spans = std::mem::take(&mut self.spans);
            data_block::decode_for(
                self.inner.header.major,
                &block,
                entry.block.offset,
                entry.first_ts,
                end - entry.first_item,
                &mut spans,
            )?;
            if entry.first_ts < previous_ts {
                return Err(DecodeError::invalid(
                    "block index first timestamp",
                    index.entry_offset(idx),
                    format!("{} is below the previous block's last timestamp {previous_ts}", entry.first_ts),
                )
                .into());
            }
            previous_ts = spans.last().map_or(previous_ts, |span| span.ts);
            if let Some(timestamps) = timestamps.as_deref_mut() {
                timestamps.extend(spans.iter().map(|span| span.ts));
            }
            data_bytes += spans.iter().map(|span| u64::from(span.end - span.start)).sum::<u64>();
            self.spans = spans;
        }
        if index.entry(0).first_ts != stats.min_ts || previous_ts != stats.max_ts {
            return Err(DecodeError::invalid(
                "time bounds",
                at,
                format!(
                    "entry says {}..={}, events span {}..={previous_ts}",
                    stats.min_ts,
                    stats.max_ts,
                    index.entry(0).first_ts
                ),
            )
            .into());
        }
        Ok(data_bytes)
    }

    fn posting_stream(
        &mut self,
        stream: StreamRef,
        stats: Stats,
        n_space_events: u64,
        at: u64,
        resolver: &mut Timestamps<'_>,
        mut seen: Option<&mut Vec<bool>>,
    ) -> Result<()> {
        let (payload, index_at) = self.stream_index(stream, stats, at)?;
        let index = BlockIndex::decode(&payload, index_at, stream.n_blocks)?;
        let table = resolver.resolver.table();
        let grouping_count = table.len();
        let mut previous: Option<(i64, u64)> = None;
        let mut bounds: Option<(i64, i64)> = None;
        for idx in 0..index.len() {
            let entry = index.entry(idx);
            let end = if idx + 1 < index.len() { index.entry(idx + 1).first_item } else { stats.n_events };
            let section = if seen.is_some() { "timeline block" } else { "posting block" };
            let block = self.read_block(entry.block, section, index.entry_offset(idx))?;
            let mut postings = std::mem::take(&mut self.postings);
            posting_block::decode(&block, entry.block.offset, end - entry.first_item, n_space_events, &mut postings)?;
            for (pos, &event) in postings.iter().enumerate() {
                let ts = resolver.ts(event, entry.block.offset)?;
                if pos == 0 && ts != entry.first_ts {
                    return Err(DecodeError::invalid(
                        "block index first timestamp",
                        index.entry_offset(idx),
                        format!("{} differs from the first posting's timestamp {ts}", entry.first_ts),
                    )
                    .into());
                }
                if let Some((previous_ts, previous_event)) = previous {
                    // Equal timestamps within one grouping keep insertion order, which is event order.
                    let same_grouping = grouping_count <= 1
                        || resolver.resolver.table().grouping_of(event)
                            == resolver.resolver.table().grouping_of(previous_event);
                    if ts < previous_ts || (ts == previous_ts && same_grouping && event <= previous_event) {
                        return Err(DecodeError::invalid(
                            "posting",
                            entry.block.offset,
                            format!("event {event} at {ts} follows event {previous_event} at {previous_ts}"),
                        )
                        .into());
                    }
                }
                if let Some(seen) = seen.as_deref_mut() {
                    let slot = &mut seen[event as usize];
                    if *slot {
                        return Err(DecodeError::invalid(
                            "posting",
                            entry.block.offset,
                            format!("event {event} appears twice in the timeline"),
                        )
                        .into());
                    }
                    *slot = true;
                }
                previous = Some((ts, event));
                bounds = Some(bounds.map_or((ts, ts), |(lo, hi)| (lo.min(ts), hi.max(ts))));
            }
            self.postings = postings;
        }
        if bounds != Some((stats.min_ts, stats.max_ts)) {
            return Err(DecodeError::invalid(
                "time bounds",
                at,
                format!("entry says {}..={}, postings span {bounds:?}", stats.min_ts, stats.max_ts),
            )
            .into());
        }
        Ok(())
    }

    fn check_coverage(&mut self) {
        let mut covered = std::mem::take(&mut self.covered);
        covered.sort_unstable();
        let mut expected = header::LEN as u64;
        for &(start, end, section) in &covered {
            if start != expected {
                let reason = if start < expected {
                    format!("overlaps the block before it, which ends at {expected}")
                } else {
                    format!("{} bytes before it belong to no block", start - expected)
                };
                self.problem(DecodeError::invalid(section, start, reason));
            }
            expected = expected.max(end);
        }
        if expected != self.inner.body_end() {
            self.problem(DecodeError::invalid(
                "file layout",
                expected,
                format!(
                    "{} bytes before the footer belong to no block",
                    self.inner.body_end().saturating_sub(expected)
                ),
            ));
        }
    }
}

/// Largest space whose event timestamps `verify` keeps (8 bytes each, 256 MiB at most) to check
/// its postings; a larger space's postings are checked by decoding their events' blocks.
const MAX_TIMESTAMPS: u64 = 32 << 20;

/// The timestamp of an event number of the space being verified: from the timestamps its data
/// blocks gave, or by decoding the event's block.
struct Timestamps<'a> {
    resolver: &'a mut Resolver,
    known: Option<&'a [i64]>,
}

impl Timestamps<'_> {
    fn ts(&mut self, event: u64, posting_at: u64) -> Result<i64> {
        match self.known {
            Some(known) => known.get(event as usize).copied().ok_or_else(|| {
                DecodeError::invalid("posting", posting_at, format!("event number {event} is in no grouping")).into()
            }),
            None => Ok(self.resolver.event(event, posting_at)?.ts),
        }
    }
}

fn merge_stats(acc: Option<Stats>, next: Stats) -> Stats {
    match acc {
        None => next,
        Some(acc) => Stats {
            n_events: acc.n_events + next.n_events,
            min_ts: acc.min_ts.min(next.min_ts),
            max_ts: acc.max_ts.max(next.max_ts),
        },
    }
}
