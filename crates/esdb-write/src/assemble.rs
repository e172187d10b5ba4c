//! Turns the sorted event records into the file: data blocks per grouping, posting blocks per
//! index value and timeline, the catalog, and the footer.
//!
//! Records arrive in (space, grouping, timestamp, sequence) order. Each space is finished before
//! the next begins, so the catalog receives its entries in key order (groupings, then index
//! values, then the space summary) and is streamed to the output as it grows.

use std::io::Write;

use esdb_format::v1::catalog::{GroupingEntry, IndexValueEntry, SpaceSummary, Stats};
use esdb_format::v1::frame::{Codec, Handle};
use esdb_format::v1::grouping_table::GroupingTableEntry;
use esdb_format::v1::header::Header;
use esdb_format::v1::key;
use esdb_format::v2::covering::{CoveringCatalog, CoveringEntry, CoveringTimelineCatalog};
use esdb_format::v2::footer::Footer;
use esdb_format::v2::metadata::Metadata;
use esdb_format::varint;

use crate::catalog::CatalogWriter;
use crate::output::Output;
use crate::record::{self, EventRecord};
use crate::sort::{Record, Sorter};
use crate::stream::{DataStream, PostingStream};
use crate::{Compression, WriteError, WriterOptions};

/// File-wide totals, known once every space is written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub(crate) n_spaces: u64,
    pub(crate) n_events: u64,
    pub(crate) min_ts: i64,
    pub(crate) max_ts: i64,
}

struct OpenSpace {
    escaped: Vec<u8>,
    raw: Vec<u8>,
    grouping_escaped: Vec<u8>,
    grouping_raw: Vec<u8>,
    n_events: u64,
    grouping_first_event: u64,
    n_groupings: u64,
    grouping_table: Vec<u8>,
    stats: Stats,
}

/// The parts that write to the file, apart from the sorters so both can be borrowed at once.
struct Sinks<W: Write> {
    out: Output<W>,
    catalog: CatalogWriter,
    data: DataStream,
    postings: PostingStream,
    /// The covered index values' and timelines' own data streams, and the catalogs that find
    /// them.
    covering: DataStream,
    covering_catalog: Option<CatalogWriter>,
    covering_timeline: Option<CatalogWriter>,
    scratch: Vec<u8>,
}

/// Which catalog finds a covering stream.
#[derive(Clone, Copy)]
enum CoveredBy {
    IndexValues,
    Timelines,
}

impl<W: Write> Sinks<W> {
    /// Adds a sorted posting record (its event number, then with `covering` its event's data) to
    /// the posting stream, and its event to the covering stream.
    fn add_posting(&mut self, posting: &Record<'_>, covering: bool) -> std::io::Result<()> {
        let (event, event_len) = varint::decode(posting.value).expect("writer-encoded event number");
        let ts = record::ts_of(posting.order);
        self.postings.add(ts, event, &mut self.out)?;
        if covering {
            self.covering.add(ts, &posting.value[event_len..], &mut self.out)?;
        }
        Ok(())
    }

    /// Ends the covering stream being written and enters it under `key` in its catalog.
    fn finish_covering(&mut self, which: CoveredBy, key: &[u8]) -> std::io::Result<()> {
        let (_, stream) = self.covering.finish(&mut self.out)?;
        self.scratch.clear();
        CoveringEntry { stream }.encode(&mut self.scratch);
        let catalog = match which {
            CoveredBy::IndexValues => &mut self.covering_catalog,
            CoveredBy::Timelines => &mut self.covering_timeline,
        };
        catalog.as_mut().expect("a covering stream is written only for its catalog").add(
            key,
            &self.scratch,
            &mut self.out,
        )
    }
}

pub(crate) struct Assembler<W: Write> {
    sinks: Sinks<W>,
    index_sorter: Sorter,
    timeline_sorter: Sorter,
    /// Memory the two sorters share.
    postings_budget: usize,
    space: Option<OpenSpace>,
    totals: Totals,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    path: std::path::PathBuf,
    /// Every index name written so far, for the metadata block.
    index_names: std::collections::BTreeSet<Vec<u8>>,
    metadata: Metadata,
    /// The zstd dictionary the blocks are compressed with, written in the tail region.
    dictionary: Option<Vec<u8>>,
    /// The index names whose values get a data stream of their own, sorted.
    covered: Vec<Vec<u8>>,
    /// The format minor version the file's features need.
    minor: u16,
}

/// Most bytes of framed blocks a stream holds back so that its block index can go before its
/// first block (see `stream::IndexBuilder`). Fixed, so that the memory budget never changes what
/// the writer writes.
const PENDING_LIMIT: usize = 4 << 20;

impl<W: Write> Assembler<W> {
    /// Starts a file on `inner`; `path` names the file in errors, `dir` receives spill files.
    pub(crate) fn new(
        inner: W,
        options: &WriterOptions,
        postings_budget: usize,
        path: &std::path::Path,
        dir: &std::path::Path,
        hook: &crate::io::Hook,
        dictionary: Option<Vec<u8>>,
    ) -> Result<Self, WriteError> {
        let (mut codec, zstd_level) = match options.compression {
            Compression::Lz4 => (Codec::Lz4, 0),
            Compression::Zstd { level } => (Codec::Zstd, level),
            Compression::None => (Codec::Raw, 0),
        };
        let mut metadata = Metadata::new();
        metadata.insert(esdb_format::v2::metadata::WRITER, concat!("esdb-write ", env!("CARGO_PKG_VERSION")));
        if let Some(unit) = options.time_unit {
            metadata.set_time_unit(unit);
        }
        for (key, value) in &options.metadata {
            metadata.insert(key.clone(), value.clone());
        }
        let pending_limit = PENDING_LIMIT;
        let mut out = Output::new(inner, zstd_level);
        let catalog_codec = if codec == Codec::Zstd { Codec::Zstd } else { Codec::Raw };
        if let Some(dictionary) = &dictionary {
            out.set_zstd_dictionary(dictionary);
            codec = Codec::ZstdDictionary;
        }
        let mut covered = options.covering_indexes.clone();
        covered.sort_unstable();
        covered.dedup();
        let mut header = Vec::new();
        let minor = if options.covering_timeline {
            esdb_format::v2::MINOR_COVERING_TIMELINE
        } else if !covered.is_empty() {
            esdb_format::v2::MINOR_COVERING
        } else {
            esdb_format::FORMAT_MINOR
        };
        Header { minor, ..Header::default() }.encode(&mut header);
        out.write_raw(&header).map_err(WriteError::io("write", path))?;
        Ok(Assembler {
            sinks: Sinks {
                out,
                // Files written for size (zstd) compress their catalog too: a quarter of its raw
                // size, for a decompression per block on a lookup's first visit (blocks are
                // cached once read).
                catalog: CatalogWriter::new(options.catalog_block_size, catalog_codec),
                data: DataStream::new(options.block_size, codec, pending_limit),
                postings: PostingStream::new(options.postings_per_block, codec, pending_limit),
                covering: DataStream::new(options.block_size, codec, pending_limit),
                covering_catalog: (!covered.is_empty())
                    .then(|| CatalogWriter::new(options.catalog_block_size, catalog_codec)),
                covering_timeline: options
                    .covering_timeline
                    .then(|| CatalogWriter::new(options.catalog_block_size, catalog_codec)),
                scratch: Vec::new(),
            },
            index_sorter: Sorter::new(dir, postings_budget, hook.clone()),
            timeline_sorter: Sorter::new(dir, postings_budget, hook.clone()),
            postings_budget,
            space: None,
            totals: Totals::default(),
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            path: path.to_path_buf(),
            index_names: Default::default(),
            metadata,
            dictionary,
            covered,
            minor,
        })
    }

    /// Adds the next event record in sort order.
    pub(crate) fn add(&mut self, record: Record<'_>) -> Result<(), WriteError> {
        let rec = EventRecord::parse(record.group, record.order, record.value);
        let same_space = self.space.as_ref().is_some_and(|space| space.escaped == rec.space_escaped);
        if !same_space {
            self.finish_space()?;
            self.space = Some(OpenSpace {
                escaped: rec.space_escaped.to_vec(),
                raw: record::unescape(rec.space_escaped),
                grouping_escaped: rec.grouping_escaped.to_vec(),
                grouping_raw: record::unescape(rec.grouping_escaped),
                n_events: 0,
                grouping_first_event: 0,
                n_groupings: 0,
                grouping_table: Vec::new(),
                stats: Stats { n_events: 0, min_ts: rec.ts, max_ts: rec.ts },
            });
        } else if self.space.as_ref().is_some_and(|space| space.grouping_escaped != rec.grouping_escaped) {
            self.finish_grouping()?;
            let space = self.space.as_mut().expect("checked above");
            space.grouping_escaped = rec.grouping_escaped.to_vec();
            space.grouping_raw = record::unescape(rec.grouping_escaped);
        }
        let space = self.space.as_mut().expect("opened above");
        let io_err = WriteError::io("write", &self.path);
        self.sinks.data.add(rec.ts, rec.data, &mut self.sinks.out).map_err(io_err)?;
        let event_number = space.n_events;
        space.n_events += 1;
        space.stats.min_ts = space.stats.min_ts.min(rec.ts);
        space.stats.max_ts = space.stats.max_ts.max(rec.ts);

        self.value_buf.clear();
        varint::encode(event_number, &mut self.value_buf);
        let event_len = self.value_buf.len();
        // With a covering timeline, the timeline's postings carry their event's data too.
        if self.sinks.covering_timeline.is_some() {
            self.value_buf.extend_from_slice(rec.data);
        }
        self.timeline_sorter.push(&[], rec.order, &self.value_buf)?;
        for (name, value) in &rec.indexes {
            record::posting_group(name, value, &mut self.key_buf);
            // A covered value's posting carries its event's data, for the value's own stream.
            self.value_buf.truncate(event_len);
            if self.covered.binary_search_by(|covered| covered[..].cmp(name)).is_ok() {
                self.value_buf.extend_from_slice(rec.data);
            }
            self.index_sorter.push(&self.key_buf, rec.order, &self.value_buf)?;
        }
        // Both sorters share the budget: past it, the larger one spills.
        let (index_len, timeline_len) = (self.index_sorter.buffered_len(), self.timeline_sorter.buffered_len());
        if index_len + timeline_len > self.postings_budget {
            if index_len >= timeline_len {
                self.index_sorter.spill()?;
            } else {
                self.timeline_sorter.spill()?;
            }
        }
        Ok(())
    }

    fn finish_grouping(&mut self) -> Result<(), WriteError> {
        let Some(space) = self.space.as_mut() else { return Ok(()) };
        let sinks = &mut self.sinks;
        let (stats, stream) = sinks.data.finish(&mut sinks.out).map_err(WriteError::io("write", &self.path))?;
        let entry = GroupingEntry { stats, first_event: space.grouping_first_event, stream };
        sinks.scratch.clear();
        entry.encode(&mut sinks.scratch);
        sinks
            .catalog
            .add(&key::grouping_key(&space.raw, &space.grouping_raw), &sinks.scratch, &mut sinks.out)
            .map_err(WriteError::io("write", &self.path))?;
        GroupingTableEntry {
            first_event: space.grouping_first_event,
            n_events: stats.n_events,
            min_ts: stats.min_ts,
            stream,
        }
        .encode(&mut space.grouping_table);
        space.n_groupings += 1;
        space.grouping_first_event = space.n_events;
        Ok(())
    }

    fn finish_space(&mut self) -> Result<(), WriteError> {
        if self.space.is_none() {
            return Ok(());
        }
        self.finish_grouping()?;
        let space = self.space.take().expect("checked above");
        let sinks = &mut self.sinks;
        let path = &self.path;

        let timeline = if space.n_groupings > 1 {
            let mut sorted = self.timeline_sorter.finish()?;
            let covering = sinks.covering_timeline.is_some();
            while let Some(posting) = sorted.next()? {
                sinks.add_posting(&posting, covering).map_err(WriteError::io("write", path))?;
            }
            let timeline = sinks.postings.finish(&mut sinks.out).map_err(WriteError::io("write", path))?.1;
            if covering {
                sinks
                    .finish_covering(CoveredBy::Timelines, &key::space_key(&space.raw))
                    .map_err(WriteError::io("write", path))?;
            }
            Some(timeline)
        } else {
            // One grouping: the grouping itself is the timeline.
            self.timeline_sorter.clear();
            None
        };

        let mut n_index_values = 0u64;
        let mut sorted = self.index_sorter.finish()?;
        let mut current_group: Vec<u8> = Vec::new();
        let mut covering = false;
        loop {
            let next = sorted.next()?;
            let group_changed = match &next {
                Some(posting) => posting.group != &current_group[..],
                None => true,
            };
            if group_changed && !current_group.is_empty() {
                let (stats, stream) = sinks.postings.finish(&mut sinks.out).map_err(WriteError::io("write", path))?;
                let (name, value) = record::posting_name_value(&current_group);
                if !self.index_names.contains(&name[..]) {
                    self.index_names.insert(name.to_vec());
                }
                let key = key::index_value_key(&space.raw, &name, &value);
                sinks.scratch.clear();
                IndexValueEntry { stats, stream }.encode(&mut sinks.scratch);
                sinks.catalog.add(&key, &sinks.scratch, &mut sinks.out).map_err(WriteError::io("write", path))?;
                if covering {
                    sinks.finish_covering(CoveredBy::IndexValues, &key).map_err(WriteError::io("write", path))?;
                }
                n_index_values += 1;
            }
            let Some(posting) = next else { break };
            if group_changed {
                current_group.clear();
                current_group.extend_from_slice(posting.group);
                let (name, _) = record::posting_name_value(&current_group);
                covering = self.covered.binary_search(&name).is_ok();
            }
            sinks.add_posting(&posting, covering).map_err(WriteError::io("write", path))?;
        }
        drop(sorted);

        // A space of one grouping needs no table: its grouping entry says everything.
        let grouping_table = if space.n_groupings == 1 {
            Handle::default()
        } else {
            sinks.out.write_block(&space.grouping_table, Codec::Raw).map_err(WriteError::io("write", path))?
        };
        let stats = Stats { n_events: space.n_events, ..space.stats };
        let summary = SpaceSummary { stats, n_groupings: space.n_groupings, n_index_values, grouping_table, timeline };
        sinks.scratch.clear();
        summary.encode(&mut sinks.scratch);
        sinks
            .catalog
            .add(&key::space_key(&space.raw), &sinks.scratch, &mut sinks.out)
            .map_err(WriteError::io("write", path))?;

        let totals = &mut self.totals;
        if totals.n_spaces == 0 {
            totals.min_ts = stats.min_ts;
            totals.max_ts = stats.max_ts;
        }
        totals.n_spaces += 1;
        totals.n_events += stats.n_events;
        totals.min_ts = totals.min_ts.min(stats.min_ts);
        totals.max_ts = totals.max_ts.max(stats.max_ts);
        Ok(())
    }

    /// Writes the catalog and the footer; returns the inner writer, flushed, and the totals.
    pub(crate) fn finish(mut self) -> Result<(W, Totals, u64), WriteError> {
        self.finish_space()?;
        let path = self.path;
        let mut sinks = self.sinks;
        let catalog = sinks.catalog.finish(&mut sinks.out).map_err(WriteError::io("write", &path))?;
        let mut metadata = self.metadata;
        metadata.set_index_names(self.index_names.iter().map(|name| &name[..]));
        let mut features = esdb_format::v2::features::Features::default();
        // In the tail region too, after the main catalog: one read of the file's end gives both.
        if let Some(covering_catalog) = sinks.covering_catalog.take() {
            let covering_root = covering_catalog.finish(&mut sinks.out).map_err(WriteError::io("write", &path))?;
            metadata.set_covering(&CoveringCatalog {
                root: covering_root.root,
                height: covering_root.height,
                names: self.covered.clone(),
            });
            features.compatible |= esdb_format::v2::features::COVERING_INDEXES;
        }
        if let Some(covering_timeline) = sinks.covering_timeline.take() {
            let root = covering_timeline.finish(&mut sinks.out).map_err(WriteError::io("write", &path))?;
            metadata.set_covering_timeline(&CoveringTimelineCatalog { root: root.root, height: root.height });
            features.compatible |= esdb_format::v2::features::COVERING_TIMELINE;
        }
        if let Some(dictionary) = &self.dictionary {
            let handle = sinks.out.write_block(dictionary, Codec::Raw).map_err(WriteError::io("write", &path))?;
            metadata.set_zstd_dictionary(handle);
            features.incompatible |= esdb_format::v2::features::ZSTD_DICTIONARY;
        }
        sinks.scratch.clear();
        metadata.encode(&mut sinks.scratch);
        let metadata_block =
            sinks.out.write_block(&sinks.scratch, Codec::Raw).map_err(WriteError::io("write", &path))?;
        let totals = self.totals;
        let footer = Footer {
            catalog_root: catalog.root,
            catalog_height: catalog.height,
            n_spaces: totals.n_spaces,
            n_events: totals.n_events,
            min_ts: totals.min_ts,
            max_ts: totals.max_ts,
            max_block_len: sinks.out.max_block_len(),
            features,
            metadata: Some(metadata_block),
            tail_offset: catalog.tail_offset,
            major: esdb_format::FORMAT_MAJOR,
            minor: self.minor,
        };
        let mut bytes = Vec::new();
        footer.encode(&mut bytes);
        sinks.out.write_raw(&bytes).map_err(WriteError::io("write", &path))?;
        let file_len = sinks.out.offset();
        let inner = sinks.out.into_inner().map_err(WriteError::io("write", &path))?;
        Ok((inner, totals, file_len))
    }
}
