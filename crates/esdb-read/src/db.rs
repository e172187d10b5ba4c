//! [`Db`]: an open ESDB file.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use esdb_format::v1::frame::{self, Codec, Handle};
use esdb_format::v1::header::{self, Header};
use esdb_format::v1::key;
use esdb_format::v2::covering::{CoveringCatalog, CoveringTimelineCatalog};
use esdb_format::v2::footer::Footer;
use esdb_format::v2::metadata::{self, Metadata};
use esdb_format::{ends, DecodeError};

use crate::catalog::CatalogCursor;
use crate::error::{Error, Result};
use crate::source::{Distance, Source};
use crate::space::Space;

/// The most bytes after a stream's block index that a hint asks for with it, for the stream's
/// first block: blocks are written up to 32 KiB by default, and a file's largest block (a
/// grouping table, say) says little about its data blocks.
const HINT_FIRST_BLOCK_MAX: u64 = 256 * 1024;

/// What every query shares: the source, the footer and the catalog root.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) source: Arc<dyn Source>,
    /// The whole file, when it is in memory (a map or a `Bytes`): blocks are then read as
    /// borrowed slices, touching no reference count that every reading thread shares.
    memory: Option<Bytes>,
    pub(crate) header: Header,
    pub(crate) footer: Footer,
    pub(crate) limits: frame::FrameLimits,
    pub(crate) metadata: Arc<Metadata>,
    /// The file's zstd dictionary, when its blocks use one.
    pub(crate) dictionary: Option<Arc<frame::ZstdDictionary>>,
    /// The catalog's root, read at open.
    pub(crate) catalog: crate::catalog::Tree,
    /// The covering catalog and the index names it covers, when the file has covering indexes.
    pub(crate) covering: Option<Arc<Covering>>,
    /// The covering-timeline catalog's root, when the file has covering timelines.
    pub(crate) covering_timeline: Option<crate::catalog::Tree>,
    pub(crate) file_len: u64,
    pub(crate) catalog_cache: Arc<crate::cache::BlockCache>,
}

impl Inner {
    /// A copy of this handle for one reader: the same file, footer, root and catalog cache, under
    /// a reference count of its own, so that the scans one thread makes and drops do not contend
    /// with another thread's on one counter.
    pub(crate) fn fork(&self) -> Arc<Inner> {
        Arc::new(Inner {
            source: self.source.clone(),
            memory: self.memory.clone(),
            header: self.header,
            footer: self.footer,
            limits: self.limits,
            metadata: self.metadata.clone(),
            dictionary: self.dictionary.clone(),
            catalog: self.catalog.clone(),
            covering: self.covering.clone(),
            covering_timeline: self.covering_timeline.clone(),
            file_len: self.file_len,
            catalog_cache: self.catalog_cache.clone(),
        })
    }

    /// First byte after the header: where blocks may start.
    pub(crate) fn body_start(&self) -> u64 {
        header::LEN as u64
    }

    /// First byte of the footer: where blocks must end.
    pub(crate) fn body_end(&self) -> u64 {
        self.file_len - self.footer.encoded_len() as u64
    }

    pub(crate) fn read(&self, offset: u64, len: u64) -> Result<Bytes> {
        let len_usize = usize::try_from(len).map_err(|_| {
            Error::Decode(DecodeError::invalid("range length", offset, format!("{len} bytes do not fit in memory")))
        })?;
        self.source.read(offset, len_usize).map_err(|source| Error::Read { offset, len, source })
    }

    /// Tells a far source that a stream's block index at `index` is about to be read, and the
    /// block after it: where a writer that follows the placement guidance puts the stream's first
    /// block, so that both come in one request.
    pub(crate) fn hint_stream(&self, index: Handle) {
        if self.source.distance() == Distance::Far {
            let first_block =
                u64::from(self.footer.max_block_len).min(HINT_FIRST_BLOCK_MAX) + frame::TRAILER_LEN as u64;
            let end = index.offset + index.framed_len() + first_block;
            self.source.hint(index.offset..end.min(self.body_end()));
        }
    }

    /// A catalog block, from the cache of verified blocks when it is there.
    pub(crate) fn read_catalog_block(&self, handle: Handle, referenced_at: u64) -> Result<Bytes> {
        if let Some(payload) = self.catalog_cache.get(handle) {
            return Ok(payload);
        }
        let payload = self.read_block(handle, "catalog block", referenced_at)?;
        self.catalog_cache.insert(handle, payload.clone());
        Ok(payload)
    }

    /// As [`read_block`](Inner::read_block), decompressing into `reuse` when it is a buffer no
    /// one else holds any more (the previous block of a scan whose events were all dropped), so
    /// that a scan does not allocate and zero a buffer per block.
    pub(crate) fn read_block_reusing(
        &self,
        handle: Handle,
        section: &'static str,
        referenced_at: u64,
        reuse: Option<Bytes>,
    ) -> Result<Bytes> {
        match self.read_checked(handle, section, referenced_at)? {
            StoredBlock::Raw(payload) => Ok(payload),
            StoredBlock::Compressed { codec, stored, raw_len } => {
                decompress_reusing(codec, stored.bytes(), raw_len, handle.offset, reuse, self.dictionary.as_deref())
            }
        }
    }

    /// The stored payload of the block at `handle`, which lies within the file.
    fn stored(&self, handle: Handle) -> Result<Stored<'_>> {
        let framed_len = handle.framed_len();
        if let Some(memory) = &self.memory {
            let start = handle.offset as usize;
            return match memory.get(start..start + framed_len as usize) {
                Some(framed) => Ok(Stored::InMemory(framed)),
                None => Err(Error::Read {
                    offset: handle.offset,
                    len: framed_len,
                    source: std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
                }),
            };
        }
        Ok(Stored::Read(self.read(handle.offset, framed_len)?))
    }

    /// The bytes of a block earlier read as [`Stored::InMemory`].
    pub(crate) fn in_memory(&self, handle: Handle) -> &[u8] {
        let memory = self.memory.as_deref().unwrap_or_default();
        let start = (handle.offset as usize).min(memory.len());
        &memory[start..(start + handle.len as usize).min(memory.len())]
    }

    /// Reads the block at `handle` and checks its frame, leaving a compressed payload as it is.
    pub(crate) fn read_checked(
        &self,
        handle: Handle,
        section: &'static str,
        referenced_at: u64,
    ) -> Result<StoredBlock<'_>> {
        handle.check_within(self.body_start(), self.body_end(), section, referenced_at)?;
        let framed = self.stored(handle)?;
        let trailer = frame::check(framed.bytes(), handle.offset, self.limits, section)?;
        let stored = match framed {
            Stored::InMemory(framed) => Stored::InMemory(&framed[..handle.len as usize]),
            Stored::Read(framed) => Stored::Read(framed.slice(..handle.len as usize)),
        };
        Ok(match trailer.codec {
            frame::Codec::Raw => StoredBlock::Raw(match stored {
                // Events of a raw block share it, so it is taken as `Bytes`.
                Stored::InMemory(stored) => {
                    self.memory.as_ref().expect("in-memory blocks come from memory").slice_ref(stored)
                }
                Stored::Read(stored) => stored,
            }),
            codec => StoredBlock::Compressed { codec, stored, raw_len: trailer.raw_len as usize },
        })
    }

    /// Reads the block at `handle`, checks its frame and returns its raw payload.
    ///
    /// Raw blocks are returned as slices of the source (zero-copy with a memory map); compressed
    /// blocks are decompressed into a buffer of at most the footer's `max_block_len` bytes.
    pub(crate) fn read_block(&self, handle: Handle, section: &'static str, referenced_at: u64) -> Result<Bytes> {
        handle.check_within(self.body_start(), self.body_end(), section, referenced_at)?;
        let framed = self.read(handle.offset, handle.framed_len())?;
        match frame::open_with(&framed, handle.offset, self.limits, self.dictionary.as_deref(), section)? {
            std::borrow::Cow::Borrowed(payload) => Ok(framed.slice_ref(payload)),
            std::borrow::Cow::Owned(payload) => Ok(Bytes::from(payload)),
        }
    }
}

/// The zstd dictionary of a file with the `zstd_dictionary` feature, which its metadata locates.
fn load_dictionary(inner: &Inner) -> Result<Option<frame::ZstdDictionary>> {
    let footer = &inner.footer;
    let handle = inner.metadata.zstd_dictionary();
    let feature_at = inner.body_end() + esdb_format::v2::footer::INCOMPATIBLE_OFFSET as u64;
    match (footer.features.zstd_dictionary(), handle) {
        (false, None) => Ok(None),
        (true, Some(handle)) => {
            let payload = inner.read_block(handle, "zstd dictionary", footer.metadata.map_or(0, |m| m.offset))?;
            Ok(Some(frame::ZstdDictionary::new(&payload, handle.offset)?))
        }
        (true, None) => Err(DecodeError::invalid(
            "footer incompatible features",
            feature_at,
            "the zstd_dictionary feature is set, but the metadata has no esdb.zstd_dictionary",
        )
        .into()),
        (false, Some(_)) => Err(DecodeError::invalid(
            "metadata esdb.zstd_dictionary",
            footer.metadata.map_or(0, |m| m.offset),
            "a dictionary, but the footer lacks the zstd_dictionary feature",
        )
        .into()),
    }
}

/// The covering catalog of a file with covering indexes: its root, read at open, and the names
/// it covers.
#[derive(Debug)]
pub(crate) struct Covering {
    pub(crate) tree: crate::catalog::Tree,
    pub(crate) names: Vec<Vec<u8>>,
}

impl Covering {
    pub(crate) fn covers(&self, name: &[u8]) -> bool {
        self.names.binary_search_by(|covered| covered[..].cmp(name)).is_ok()
    }
}

/// The covering catalog of a file with the `covering_indexes` feature, which its metadata
/// locates. Its root must lie in the tail region, like the main catalog's.
fn load_covering(inner: &Inner) -> Result<Option<Covering>> {
    let value = FeatureMetadata {
        feature: "covering_indexes",
        key: metadata::COVERING,
        field: "metadata esdb.covering",
        what: "a covering catalog",
    }
    .value(inner, inner.footer.features.covering_indexes())?;
    let Some(value) = value else { return Ok(None) };
    let catalog = CoveringCatalog::decode(value, metadata_offset(inner))?;
    let tree =
        tail_root(inner, catalog.root, catalog.height, "metadata esdb.covering root", "covering catalog root block")?;
    Ok(Some(Covering { tree, names: catalog.names }))
}

/// The covering-timeline catalog of a file with the `covering_timeline` feature, which its
/// metadata locates. Its root must lie in the tail region, like the main catalog's.
fn load_covering_timeline(inner: &Inner) -> Result<Option<crate::catalog::Tree>> {
    let value = FeatureMetadata {
        feature: "covering_timeline",
        key: metadata::COVERING_TIMELINE,
        field: "metadata esdb.covering_timeline",
        what: "a covering-timeline catalog",
    }
    .value(inner, inner.footer.features.covering_timeline())?;
    let Some(value) = value else { return Ok(None) };
    let catalog = CoveringTimelineCatalog::decode(value, metadata_offset(inner))?;
    let tree = tail_root(
        inner,
        catalog.root,
        catalog.height,
        "metadata esdb.covering_timeline root",
        "covering-timeline catalog root block",
    )?;
    Ok(Some(tree))
}

fn metadata_offset(inner: &Inner) -> u64 {
    inner.footer.metadata.map_or(0, |m| m.offset)
}

/// A compatible feature whose data a metadata value locates: the two must come together.
struct FeatureMetadata {
    feature: &'static str,
    key: &'static [u8],
    /// The key as an error's field name.
    field: &'static str,
    /// What the value locates, for the error of a value without its feature.
    what: &'static str,
}

impl FeatureMetadata {
    /// The metadata value when the feature is set, `None` when neither is there.
    fn value<'i>(&self, inner: &'i Inner, feature_set: bool) -> Result<Option<&'i [u8]>> {
        match (feature_set, inner.metadata.get(self.key)) {
            (false, None) => Ok(None),
            (true, Some(value)) => Ok(Some(value)),
            (true, None) => Err(DecodeError::invalid(
                "footer compatible features",
                inner.body_end() + esdb_format::v2::footer::COMPATIBLE_OFFSET as u64,
                format!(
                    "the {} feature is set, but the metadata has no {}",
                    self.feature,
                    String::from_utf8_lossy(self.key)
                ),
            )
            .into()),
            (false, Some(_)) => Err(DecodeError::invalid(
                self.field,
                metadata_offset(inner),
                format!("{}, but the footer lacks the {} feature", self.what, self.feature),
            )
            .into()),
        }
    }
}

/// The tree whose root block is `root`, read and checked to lie in the tail region, as every
/// catalog root must; `field` names the metadata value that gave it.
fn tail_root(
    inner: &Inner,
    root: Handle,
    height: u32,
    field: &'static str,
    section: &'static str,
) -> Result<crate::catalog::Tree> {
    let footer = &inner.footer;
    let metadata_at = footer.metadata.map_or(0, |m| m.offset);
    if root.offset < footer.tail_offset || root.offset.saturating_add(u64::from(root.len)) > inner.body_end() {
        return Err(DecodeError::invalid(
            field,
            metadata_at,
            format!(
                "the root at {} lies outside the tail region {}..{}",
                root.offset,
                footer.tail_offset,
                inner.body_end()
            ),
        )
        .into());
    }
    let payload = inner.read_block(root, section, metadata_at)?;
    Ok(crate::catalog::Tree { root: payload, root_at: root.offset, height })
}

/// A block whose frame passed its checks, as stored.
pub(crate) enum StoredBlock<'a> {
    /// The payload itself.
    Raw(Bytes),
    /// A payload compressed with `codec`, of `raw_len` bytes once decompressed.
    Compressed { codec: Codec, stored: Stored<'a>, raw_len: usize },
}

/// Stored bytes of a block: borrowed from a file in memory, or read from the source.
pub(crate) enum Stored<'a> {
    InMemory(&'a [u8]),
    Read(Bytes),
}

impl Stored<'_> {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Stored::InMemory(bytes) => bytes,
            Stored::Read(bytes) => bytes,
        }
    }
}

/// Decompresses a `codec` payload of `raw_len` bytes stored at `offset`, into `reuse` when it is
/// a buffer no one else holds any more.
pub(crate) fn decompress_reusing(
    codec: Codec,
    stored: &[u8],
    raw_len: usize,
    offset: u64,
    reuse: Option<Bytes>,
    dictionary: Option<&frame::ZstdDictionary>,
) -> Result<Bytes> {
    let mut buf = reuse.and_then(|bytes| bytes.try_into_mut().ok()).unwrap_or_default();
    // Old contents are fully overwritten by the decompression, so only growth needs
    // initializing.
    if buf.len() >= raw_len {
        buf.truncate(raw_len);
    } else {
        buf.resize(raw_len, 0);
    }
    frame::decompress_with(codec, stored, offset, &mut buf, dictionary)?;
    Ok(buf.freeze())
}

/// An open ESDB file. Cheap to clone; `Send + Sync`, so many threads may query one `Db` at once.
///
/// Opening reads the header, the fixed-size footer and the catalog root block: no work in
/// proportion to the number of spaces or events. Corruption elsewhere in the file is found when
/// a query reads the damaged block (every block is checksummed), or by [`Db::verify`].
#[derive(Debug, Clone)]
pub struct Db {
    pub(crate) inner: Arc<Inner>,
}

impl Db {
    /// Opens the file at `path` by memory-mapping it.
    ///
    /// ESDB files are immutable once written, so the map is safe as long as no other process
    /// modifies or truncates the file while it is open. If one does, reads through the map may
    /// return changed bytes (which checksums turn into errors) or the process may be killed by
    /// `SIGBUS` when it touches a page past the new end of the file. When files can be truncated
    /// under you (e.g. on network filesystems or while a copy is still in progress), read the file
    /// into memory and use [`Db::from_bytes`] instead.
    ///
    /// # Errors
    /// [`Error::Open`] if the file cannot be opened or mapped; [`Error::Decode`] if it is not an
    /// ESDB file of a supported version.
    pub fn open(path: impl AsRef<Path>) -> Result<Db> {
        Db::from_bytes(crate::mmap::map(path.as_ref())?)
    }

    /// Opens a file held in memory.
    ///
    /// Compressed blocks are decompressed straight from `bytes`; only blocks that events or
    /// catalog entries share (stored uncompressed) take a reference to them. Threads scanning one
    /// such `Db` so share no counter per block read.
    ///
    /// # Errors
    /// [`Error::Decode`] if `bytes` are not an ESDB file of a supported version.
    pub fn from_bytes(bytes: Bytes) -> Result<Db> {
        Db::from_parts(Arc::new(bytes.clone()), Some(bytes))
    }

    /// Opens a file read through any [`Source`]: every block is read with [`Source::read`].
    ///
    /// # Errors
    /// [`Error::Read`] if the source fails; [`Error::Decode`] if the file is not an ESDB file of a
    /// supported version.
    pub fn from_source(source: Arc<dyn Source>) -> Result<Db> {
        Db::from_parts(source, None)
    }

    fn from_parts(source: Arc<dyn Source>, memory: Option<Bytes>) -> Result<Db> {
        let file_len = source.len();
        let read = |offset: u64, len: usize| {
            source.read(offset, len).map_err(|source| Error::Read { offset, len: len as u64, source })
        };
        let (header, footer) = match source.distance() {
            Distance::Near => {
                let head_len = file_len.min(header::LEN as u64);
                let head = read(0, head_len as usize)?;
                if head.len() < esdb_format::MAGIC.len() || head[..esdb_format::MAGIC.len()] != esdb_format::MAGIC {
                    let mut found = [0u8; 8];
                    let n = head.len().min(8);
                    found[..n].copy_from_slice(&head[..n]);
                    return Err(DecodeError::BadMagic {
                        section: "header",
                        offset: 0,
                        expected: esdb_format::MAGIC,
                        found,
                    }
                    .into());
                }
                let end_len = file_len.min(ends::MAX_FOOTER_LEN as u64);
                let end = read(file_len - end_len, end_len as usize)?;
                ends::decode(&head, &end, file_len)?
            }
            Distance::Far => {
                // One read of the end, and none of the header: see `Distance::Far`.
                let suffix = file_len.min(crate::source::SUFFIX_READ_LEN);
                source.hint(file_len - suffix..file_len);
                let end_len = file_len.min(ends::MAX_FOOTER_LEN as u64);
                let end = read(file_len - end_len, end_len as usize)?;
                let footer = ends::decode_footer(&end, file_len)?;
                if footer.tail_offset < file_len - suffix {
                    source.hint(footer.tail_offset..file_len - suffix);
                }
                (Header { major: footer.major, minor: footer.minor }, footer)
            }
        };
        let mut inner = Inner {
            source,
            memory,
            header,
            footer,
            limits: footer.frame_limits(),
            metadata: Arc::default(),
            dictionary: None,
            catalog: crate::catalog::Tree { root: Bytes::new(), root_at: 0, height: 0 },
            covering: None,
            covering_timeline: None,
            file_len,
            catalog_cache: Default::default(),
        };
        let footer_at = inner.body_end();
        inner.catalog = crate::catalog::Tree {
            root: inner.read_block(footer.catalog_root, "catalog root block", footer_at)?,
            root_at: footer.catalog_root.offset,
            height: footer.catalog_height,
        };
        if let Some(handle) = footer.metadata {
            let payload = inner.read_block(handle, "metadata block", footer_at)?;
            inner.metadata = Arc::new(Metadata::decode(&payload, handle.offset)?);
        }
        inner.dictionary = load_dictionary(&inner)?.map(Arc::new);
        inner.covering = load_covering(&inner)?.map(Arc::new);
        inner.covering_timeline = load_covering_timeline(&inner)?;
        Ok(Db { inner: Arc::new(inner) })
    }

    /// The space with id `id`, or `None` if the file has no such space.
    ///
    /// Cost: one descent of the catalog tree (O(log n) entries, one block per level).
    ///
    /// # Errors
    /// [`Error::Decode`] if a catalog block on the way is corrupt.
    pub fn space(&self, id: impl AsRef<[u8]>) -> Result<Option<Space>> {
        let id = id.as_ref();
        let target = key::space_key(id);
        let mut cursor = CatalogCursor::seek(&self.inner, &target)?;
        match cursor.current()? {
            Some(entry) if entry.key()[..] == target[..] => {
                Ok(Some(Space::new(self.inner.clone(), Bytes::copy_from_slice(id), &entry)?))
            }
            _ => Ok(None),
        }
    }

    /// Every space, in ascending id order.
    pub fn spaces(&self) -> Spaces {
        Spaces { inner: self.inner.clone(), cursor: None, done: false }
    }

    /// Every grouping of every space, as `(space id, grouping)`, in ascending (space, grouping)
    /// order: one walk of the catalog, stepping over index values, where listing each space's
    /// [`groupings`](Space::groupings) descends the catalog once per space. For readers that plan
    /// work over a whole file (a SQL scan's units).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("f.esdb");
    /// # let mut w = esdb_write::Writer::create(&path)?;
    /// # for ts in 0..12 { w.add(["a", "b"][ts as usize % 2], ts, format!("g{}", ts % 3), [("n", "v")], "x")?; }
    /// # w.finish()?;
    /// let db = esdb_read::Db::open(&path)?;
    /// let pairs: Vec<(String, String, u64)> = db
    ///     .groupings()
    ///     .map(|g| g.map(|(space, info)| (String::from_utf8_lossy(&space).into(), String::from_utf8_lossy(&info.name).into(), info.counts.n_events)))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(pairs[..3], [("a".into(), "g0".into(), 2), ("a".into(), "g1".into(), 2), ("a".into(), "g2".into(), 2)]);
    /// assert_eq!(pairs.len(), 6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn groupings(&self) -> FileGroupings {
        FileGroupings { inner: self.inner.clone(), cursor: None, done: false, space: None }
    }

    /// Number of events in the file, from the footer.
    pub fn len(&self) -> u64 {
        self.inner.footer.n_events
    }

    /// True when the file holds no events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of spaces in the file, from the footer.
    pub fn n_spaces(&self) -> u64 {
        self.inner.footer.n_spaces
    }

    /// Smallest and largest timestamp in the file, or `None` if it is empty.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        (!self.is_empty()).then_some((self.inner.footer.min_ts, self.inner.footer.max_ts))
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.inner.file_len
    }

    /// The decoded header.
    pub fn header(&self) -> &Header {
        &self.inner.header
    }

    /// The decoded footer (for a version 1 file, its fields in the version 2 footer type).
    pub fn footer(&self) -> &Footer {
        &self.inner.footer
    }

    /// The file's metadata: empty for a version 1 file.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// The unit of the file's timestamps, if the writer recorded one.
    pub fn time_unit(&self) -> Option<esdb_format::TimeUnit> {
        self.inner.metadata.time_unit()
    }

    /// Every index name of the file, in ascending order, when the file lists them (version 2
    /// files do); `None` for a version 1 file, whose names are found per space with
    /// [`Space::index_names`].
    pub fn index_names(&self) -> Option<Vec<Bytes>> {
        self.inner.metadata.index_names().map(|names| names.into_iter().map(Bytes::copy_from_slice).collect())
    }

    /// Whether the file covers its timelines: each space of several groupings keeps its events
    /// in timeline order in a data stream of its own, which [`Space::events`] reads in sequence
    /// (format 2.2, `WriterOptions::covering_timeline`).
    pub fn covers_timeline(&self) -> bool {
        self.inner.covering_timeline.is_some()
    }

    /// The covered index names, in ascending order: indexes whose values keep their events in a
    /// data stream of their own, which [`Space::scan_index`] reads in sequence (format 2.1,
    /// `WriterOptions::covering_indexes`). Empty when the file covers none.
    pub fn covering_index_names(&self) -> Vec<Bytes> {
        self.inner
            .covering
            .iter()
            .flat_map(|covering| covering.names.iter().map(|name| Bytes::copy_from_slice(name)))
            .collect()
    }

    /// Checks every checksum and every structural invariant of the file. Cost: reads and decodes
    /// every byte. See [`crate::verify`].
    pub fn verify(&self) -> crate::verify::Report {
        crate::verify::verify(&self.inner, &mut |_| {})
    }

    /// [`verify`](Db::verify), calling `progress` with the size of each block as it is checked.
    pub fn verify_with_progress(&self, progress: &mut dyn FnMut(u64)) -> crate::verify::Report {
        crate::verify::verify(&self.inner, progress)
    }

    /// The raw payload of the block at `handle`, checked and decompressed: for tools that walk
    /// the file's structure themselves (`esdb dump`), with the types of `esdb-format`.
    ///
    /// # Errors
    /// [`Error::Decode`] if the handle lies outside the file or the block is corrupt.
    pub fn raw_block(&self, handle: Handle, section: &'static str) -> Result<Bytes> {
        self.inner.read_block(handle, section, handle.offset)
    }

    /// Every block and leaf entry of the file's catalog, depth first, checked as it goes: what
    /// `verify` and `esdb dump` walk. See [`CatalogWalk`](crate::CatalogWalk).
    pub fn walk_catalog(&self) -> crate::CatalogWalk {
        crate::CatalogWalk::catalog(&self.inner)
    }

    /// The same walk of the covering-timeline catalog, when the file covers its timelines
    /// (format 2.2, `esdb_write::WriterOptions::covering_timeline`).
    pub fn walk_covering_timeline_catalog(&self) -> Option<crate::CatalogWalk> {
        crate::CatalogWalk::covering_timeline_catalog(&self.inner)
    }

    /// The same walk of the covering catalog, when the file covers an index (format 2.1,
    /// `esdb_write::WriterOptions::covering_indexes`).
    pub fn walk_covering_catalog(&self) -> Option<crate::CatalogWalk> {
        crate::CatalogWalk::covering_catalog(&self.inner)
    }

    /// The payload of the catalog root block, read at open.
    pub fn catalog_root(&self) -> &Bytes {
        &self.inner.catalog.root
    }
}

/// Iterator over every space of a [`Db`], in ascending id order. See [`Db::spaces`].
#[derive(Debug)]
pub struct Spaces {
    inner: Arc<Inner>,
    cursor: Option<CatalogCursor>,
    done: bool,
}

impl Spaces {
    fn advance(&mut self) -> Result<Option<Space>> {
        let cursor = match &mut self.cursor {
            Some(cursor) => cursor,
            None => self.cursor.insert(CatalogCursor::seek(&self.inner, &[])?),
        };
        loop {
            let Some(entry) = cursor.current()? else { return Ok(None) };
            let parsed = key::CatalogKey::decode(entry.key(), entry.at)?;
            match parsed {
                key::CatalogKey::Space { space } => {
                    let space = Space::new(self.inner.clone(), Bytes::from(space), &entry)?;
                    cursor.advance()?;
                    return Ok(Some(space));
                }
                // Skip the space's groupings and index values in one descent.
                other => cursor.seek_forward(&key::space_key(other.space()))?,
            }
        }
    }
}

/// Iterator over the groupings of every space of a [`Db`]. See [`Db::groupings`].
#[derive(Debug)]
pub struct FileGroupings {
    inner: Arc<Inner>,
    cursor: Option<CatalogCursor>,
    done: bool,
    /// The space being walked: the key prefix of its groupings, and its id.
    space: Option<(Vec<u8>, Bytes)>,
}

impl FileGroupings {
    fn advance(&mut self) -> Result<Option<(Bytes, crate::space::GroupingInfo)>> {
        let cursor = match &mut self.cursor {
            Some(cursor) => cursor,
            None => self.cursor.insert(CatalogCursor::seek(&self.inner, &[])?),
        };
        loop {
            let Some(entry) = cursor.current()? else { return Ok(None) };
            // The space's next grouping: its id is known, its name is the rest of the key.
            if let Some((prefix, id)) = &self.space {
                if let Some(name) = entry.key().strip_prefix(prefix.as_slice()) {
                    let decoded = esdb_format::v1::catalog::GroupingEntry::decode(entry.value(), entry.at)?;
                    let info =
                        crate::space::GroupingInfo { name: Bytes::copy_from_slice(name), counts: decoded.stats.into() };
                    let id = id.clone();
                    cursor.advance()?;
                    return Ok(Some((id, info)));
                }
            }
            match key::CatalogKey::decode(entry.key(), entry.at)? {
                key::CatalogKey::Grouping { space, .. } => {
                    self.space = Some((key::grouping_prefix(&space), Bytes::from(space)))
                }
                // Groupings sort before index values, and those before the space's summary:
                // step over the index values in one descent.
                key::CatalogKey::IndexValue { space, .. } => cursor.seek_forward(&key::space_key(&space))?,
                key::CatalogKey::Space { .. } => cursor.advance()?,
            }
        }
    }
}

impl Iterator for FileGroupings {
    type Item = Result<(Bytes, crate::space::GroupingInfo)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let result = self.advance().transpose();
        self.done = !matches!(result, Some(Ok(_)));
        result
    }
}

impl Iterator for Spaces {
    type Item = Result<Space>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(Some(space)) => Some(Ok(space)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

impl std::iter::FusedIterator for Spaces {}
