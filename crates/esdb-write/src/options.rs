//! Tuning knobs of the writer.

use esdb_format::v2::metadata;
use esdb_format::TimeUnit;

use crate::WriteError;

/// How data and posting blocks are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Compression {
    /// LZ4 block format; a block that does not shrink is stored raw. The fastest to read.
    #[default]
    Lz4,
    /// zstd at `level` (1..=22, or zstd's negative fast levels; 3 is zstd's default): files about
    /// half the size of LZ4's, at some cost in write and scan speed.
    Zstd {
        /// zstd compression level.
        level: i32,
    },
    /// Every block stored raw.
    None,
}

impl Compression {
    /// zstd at its default level, 3.
    pub const ZSTD: Compression = Compression::Zstd { level: esdb_format::v1::frame::DEFAULT_ZSTD_LEVEL };
}

/// Options for [`Writer::create_with`](crate::Writer::create_with). Start from [`Default`] and
/// change what you need with the `with_` setters (or assign the public fields); new options may
/// be added in minor versions, so the struct cannot be built as a literal outside this crate.
///
/// ```
/// use esdb_write::{Compression, WriterOptions};
/// let options = WriterOptions::default().with_block_size(16 * 1024).with_compression(Compression::ZSTD);
/// assert_eq!(options.memory_budget, 256 * 1024 * 1024);
/// ```
///
/// ```compile_fail
/// let options = esdb_write::WriterOptions { block_size: 16 * 1024, ..Default::default() };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// Target uncompressed size of a data block, in bytes. A block is closed once it reaches this
    /// size, so a block holds at least one event and may exceed it by one event. Smaller blocks
    /// make point lookups and time-range seeks cheaper, larger ones compress better and scan
    /// faster. Default: 32 KiB.
    pub block_size: usize,
    /// Upper bound on the memory the writer uses for buffered events and postings, in bytes.
    /// Past it, sorted runs are spilled to temporary files beside the output and merged by
    /// `finish`. Default: 256 MiB.
    ///
    /// While events are added, all of it buffers events. In `finish`, postings and timelines
    /// share what the events leave: events still in memory stay there while they are written
    /// out, unless they hold more than three quarters of the budget, in which case they are
    /// spilled first. Each buffer reserves address space for its whole share at once (resident
    /// memory grows only as it fills). Outside the budget, `finish` keeps 44 bytes per grouping
    /// of the space it is writing (its grouping table), the blocks of the stream it is writing
    /// up to 4 MiB (so that the stream's block index can precede them), one open catalog block,
    /// and the last key and handle of every catalog leaf (the catalog's upper levels, written at
    /// the end).
    pub memory_budget: usize,
    /// Largest event data accepted by `add`, in bytes. Default: 64 MiB; at most 1 GiB.
    pub max_data_len: usize,
    /// Compression of data and posting blocks. Default: [`Compression::Lz4`].
    pub compression: Compression,
    /// Postings per posting block. Smaller blocks make time-range seeks on index scans cheaper.
    /// Default: 128.
    pub postings_per_block: usize,
    /// Target size of a catalog block (the directory of spaces, groupings and index values), in
    /// bytes. Default: 4 KiB.
    pub catalog_block_size: usize,
    /// With [`Compression::Zstd`]: the size of a zstd dictionary to train from a sample of the
    /// events' data and compress every data and posting block with, in bytes (0: none). Small
    /// blocks of similar events (JSON rows, say) compress much better with one; the file then
    /// needs a reader that knows format 2's `zstd_dictionary` feature. Sampling keeps up to 100
    /// times this (at most 16 MiB) of event data besides the memory budget. Default: 0.
    pub zstd_dictionary: usize,
    /// The unit of the timestamps, recorded in the file so that readers can turn them into times
    /// (and RFC 3339 bounds into timestamps). Default: none recorded.
    pub time_unit: Option<TimeUnit>,
    /// Key/value pairs recorded in the file's metadata block, for applications (for example who
    /// produced the data). Keys starting with `esdb.` are reserved for ESDB: the writer itself
    /// records `esdb.index_names`, `esdb.time_unit` (from [`time_unit`](Self::time_unit)) and
    /// `esdb.writer` (`esdb-write` and its version, unless given here: a tool that wants its own
    /// name recorded, or files that must not change with the library's version, set it).
    /// Default: none.
    pub metadata: Vec<(Vec<u8>, Vec<u8>)>,
    /// Index names to cover: each value of a covered index keeps its events a second time, as
    /// a data stream of their own in timestamp order, so that
    /// `esdb_read::Space::scan_index` reads them in sequence, at the speed of a
    /// grouping scan, instead of resolving every posting through its grouping's blocks. Costs
    /// the covered events' size again (compressed), and during `finish` the postings of covered
    /// values carry their event's data through the memory budget. Makes the file version 2.1
    /// (compatible feature `covering_indexes`: readers of 2.0 read it through the postings).
    /// Default: none.
    pub covering_indexes: Vec<Vec<u8>>,
    /// Whether to cover the timeline: each space of several groupings keeps its events a second
    /// time, as one data stream in timeline (timestamp, insertion) order, so that
    /// `esdb_read::Space::events` reads them in sequence, at the speed of a grouping scan,
    /// instead of merging its groupings. Costs the events' size again (compressed), and during
    /// `finish` the timeline's postings carry their event's data through the memory budget.
    /// Makes the file version 2.2 (compatible feature `covering_timeline`: older readers read
    /// it through the timeline postings). Default: off.
    pub covering_timeline: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            block_size: 32 * 1024,
            memory_budget: 256 * 1024 * 1024,
            max_data_len: 64 * 1024 * 1024,
            compression: Compression::Lz4,
            postings_per_block: 128,
            catalog_block_size: 4096,
            zstd_dictionary: 0,
            time_unit: None,
            metadata: Vec::new(),
            covering_indexes: Vec::new(),
            covering_timeline: false,
        }
    }
}

impl WriterOptions {
    /// Sets [`block_size`](WriterOptions::block_size).
    #[must_use]
    pub fn with_block_size(mut self, bytes: usize) -> Self {
        self.block_size = bytes;
        self
    }

    /// Sets [`memory_budget`](WriterOptions::memory_budget).
    #[must_use]
    pub fn with_memory_budget(mut self, bytes: usize) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Sets [`max_data_len`](WriterOptions::max_data_len).
    #[must_use]
    pub fn with_max_data_len(mut self, bytes: usize) -> Self {
        self.max_data_len = bytes;
        self
    }

    /// Sets [`compression`](WriterOptions::compression).
    #[must_use]
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets [`postings_per_block`](WriterOptions::postings_per_block).
    #[must_use]
    pub fn with_postings_per_block(mut self, postings: usize) -> Self {
        self.postings_per_block = postings;
        self
    }

    /// Sets [`catalog_block_size`](WriterOptions::catalog_block_size).
    #[must_use]
    pub fn with_catalog_block_size(mut self, bytes: usize) -> Self {
        self.catalog_block_size = bytes;
        self
    }

    /// Sets [`zstd_dictionary`](WriterOptions::zstd_dictionary).
    #[must_use]
    pub fn with_zstd_dictionary(mut self, bytes: usize) -> Self {
        self.zstd_dictionary = bytes;
        self
    }

    /// Sets [`time_unit`](WriterOptions::time_unit).
    #[must_use]
    pub fn with_time_unit(mut self, unit: Option<TimeUnit>) -> Self {
        self.time_unit = unit;
        self
    }

    /// Sets [`metadata`](WriterOptions::metadata): key/value pairs, any byte strings.
    #[must_use]
    pub fn with_metadata<K: Into<Vec<u8>>, V: Into<Vec<u8>>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.metadata = pairs.into_iter().map(|(key, value)| (key.into(), value.into())).collect();
        self
    }

    /// Sets [`covering_indexes`](WriterOptions::covering_indexes): the index names to cover.
    #[must_use]
    pub fn with_covering_indexes<N: Into<Vec<u8>>>(mut self, names: impl IntoIterator<Item = N>) -> Self {
        self.covering_indexes = names.into_iter().map(Into::into).collect();
        self
    }

    /// Sets [`covering_timeline`](WriterOptions::covering_timeline).
    #[must_use]
    pub fn with_covering_timeline(mut self, covering_timeline: bool) -> Self {
        self.covering_timeline = covering_timeline;
        self
    }
    pub(crate) fn validate(&self) -> Result<(), WriteError> {
        let check = |ok: bool, option: &'static str, reason: String| {
            if ok {
                Ok(())
            } else {
                Err(WriteError::InvalidOption { option, reason })
            }
        };
        check(
            (1..=64 << 20).contains(&self.block_size),
            "block_size",
            format!("{} is outside 1..=64 MiB", self.block_size),
        )?;
        check(self.memory_budget >= 1024, "memory_budget", format!("{} is below 1 KiB", self.memory_budget))?;
        check(
            self.max_data_len <= esdb_format::v1::MAX_DATA_LEN,
            "max_data_len",
            format!("{} exceeds the format limit {}", self.max_data_len, esdb_format::v1::MAX_DATA_LEN),
        )?;
        check(
            (1..=1 << 20).contains(&self.postings_per_block),
            "postings_per_block",
            format!("{} is outside 1..=1Mi", self.postings_per_block),
        )?;
        check(
            (64..=16 << 20).contains(&self.catalog_block_size),
            "catalog_block_size",
            format!("{} is outside 64..=16 MiB", self.catalog_block_size),
        )?;
        if let Compression::Zstd { level } = self.compression {
            let levels = zstd_levels();
            check(levels.contains(&level), "compression", format!("zstd level {level} is outside {levels:?}"))?;
        }
        check(
            self.zstd_dictionary == 0
                || (matches!(self.compression, Compression::Zstd { .. })
                    && (256..=1 << 20).contains(&self.zstd_dictionary)),
            "zstd_dictionary",
            format!("{} needs zstd compression and a size in 256 bytes..=1 MiB", self.zstd_dictionary),
        )?;
        for name in &self.covering_indexes {
            check(
                (1..=esdb_format::v1::MAX_KEY_PART_LEN).contains(&name.len()),
                "covering_indexes",
                format!("index name {:?} is {} bytes; names take 1..=65535", String::from_utf8_lossy(name), name.len()),
            )?;
        }
        for (key, value) in &self.metadata {
            let name = String::from_utf8_lossy(key);
            check(
                ![
                    metadata::TIME_UNIT,
                    metadata::INDEX_NAMES,
                    metadata::ZSTD_DICTIONARY,
                    metadata::COVERING,
                    metadata::COVERING_TIMELINE,
                ]
                .contains(&&key[..]),
                "metadata",
                format!("{name} is recorded by the writer itself"),
            )?;
            check(
                (1..=metadata::MAX_KEY_LEN).contains(&key.len()),
                "metadata",
                format!("key {name:?} is {} bytes; keys take 1..={}", key.len(), metadata::MAX_KEY_LEN),
            )?;
            check(
                value.len() <= metadata::MAX_VALUE_LEN,
                "metadata",
                format!("the value of {name:?} is {} bytes, above {}", value.len(), metadata::MAX_VALUE_LEN),
            )?;
        }
        Ok(())
    }
}

/// The zstd levels the writer accepts.
fn zstd_levels() -> std::ops::RangeInclusive<i32> {
    -7..=22
}
