//! [`CatalogWalk`]: every block and entry of a catalog tree, depth first, checked as it goes.
//! `verify` and `esdb dump` walk a whole tree with it; lookups and scans seek with the catalog
//! cursor, which applies the same per-block rules ([`check_level`], [`empty_block`]).

use std::sync::Arc;

use bytes::Bytes;
use esdb_format::v1::catalog::{decode_child, CatalogBlock};
use esdb_format::v1::frame::Handle;
use esdb_format::DecodeError;

use crate::catalog::{check_level, empty_block};
use crate::db::Inner;
use crate::error::Result;

/// One step of a [`CatalogWalk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogStep {
    /// The walk entered a block, before its entries.
    Block {
        /// Where the block lies.
        handle: Handle,
        /// Its level: 0 for leaves.
        level: u32,
        /// Its depth: 1 for the root.
        depth: usize,
        /// Its entry count.
        n_entries: usize,
        /// Its payload's length, decompressed.
        payload_len: usize,
    },
    /// A leaf entry.
    Entry {
        /// The entry's key.
        key: Bytes,
        /// The entry's value.
        value: Bytes,
        /// The entry's absolute offset.
        at: u64,
    },
}

#[derive(Debug)]
struct Frame {
    payload: Bytes,
    at: u64,
    level: u32,
    idx: usize,
    len: usize,
}

/// Every block and leaf entry of a catalog tree in depth-first order, blocks before their
/// entries, returned by [`Db::walk_catalog`](crate::Db::walk_catalog) and
/// [`Db::walk_covering_catalog`](crate::Db::walk_covering_catalog).
///
/// The walk checks what makes it finite and ordered, and stops with an error at the first
/// break: each block decodes and is at the level its parent implies; only a leaf root may be
/// empty; each block's last key is its parent's key for it; leaf keys strictly increase. So a
/// crafted file whose interior blocks share children fails at the first leaf seen twice instead
/// of being walked once per path.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("f.esdb");
/// # let mut w = esdb_write::Writer::create(&path)?;
/// # for ts in 0..10 { w.add(format!("s{}", ts % 3), ts, "", [("n", "v")], "{}")?; }
/// # w.finish()?;
/// use esdb_read::CatalogStep;
/// let db = esdb_read::Db::open(&path)?;
/// let mut entries = 0;
/// for step in db.walk_catalog() {
///     if let CatalogStep::Entry { .. } = step? {
///         entries += 1;
///     }
/// }
/// assert!(entries >= 3); // at least one summary per space
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CatalogWalk {
    inner: Arc<Inner>,
    /// Section name of the tree's blocks below the root, for read errors.
    section: &'static str,
    root: Option<(Bytes, Handle, u32)>,
    stack: Vec<Frame>,
    last_key: Option<Bytes>,
    failed: bool,
}

impl CatalogWalk {
    /// A walk of the file's catalog.
    pub(crate) fn catalog(inner: &Arc<Inner>) -> CatalogWalk {
        let (root, height) = (inner.footer.catalog_root, inner.footer.catalog_height);
        CatalogWalk::new(inner.clone(), "catalog block", root, inner.catalog.root.clone(), height)
    }

    /// A walk of the file's covering catalog, if it has one.
    pub(crate) fn covering_catalog(inner: &Arc<Inner>) -> Option<CatalogWalk> {
        let (covering, catalog) = (inner.covering.as_ref()?, inner.metadata.covering()?);
        let payload = covering.tree.root.clone();
        Some(CatalogWalk::new(inner.clone(), "covering catalog block", catalog.root, payload, covering.tree.height))
    }

    /// A walk of the file's covering-timeline catalog, if it has one.
    pub(crate) fn covering_timeline_catalog(inner: &Arc<Inner>) -> Option<CatalogWalk> {
        let (tree, catalog) = (inner.covering_timeline.as_ref()?, inner.metadata.covering_timeline()?);
        let payload = tree.root.clone();
        Some(CatalogWalk::new(inner.clone(), "covering-timeline catalog block", catalog.root, payload, tree.height))
    }

    /// A walk of the tree whose root block (at `root`, payload `root_payload`) is at level
    /// `height - 1`.
    fn new(inner: Arc<Inner>, section: &'static str, root: Handle, root_payload: Bytes, height: u32) -> CatalogWalk {
        CatalogWalk {
            inner,
            section,
            root: Some((root_payload, root, height.saturating_sub(1))),
            stack: Vec::new(),
            last_key: None,
            failed: false,
        }
    }

    /// Checks the block `payload` (at `handle`, expected at `level`; `separator` is the
    /// parent's key for it and where that lies) and walks into it.
    fn enter(
        &mut self,
        payload: Bytes,
        handle: Handle,
        level: u32,
        separator: Option<(&[u8], u64)>,
    ) -> Result<CatalogStep> {
        let at = handle.offset;
        let block = CatalogBlock::decode(&payload, at)?;
        block.validate()?;
        if block.is_empty() && (separator.is_some() || level > 0) {
            return Err(empty_block(at).into());
        }
        check_level(&block, level, at)?;
        if let Some((separator, separator_at)) = separator {
            if block.entry(block.len() - 1)?.0 != separator {
                return Err(DecodeError::invalid(
                    "catalog separator",
                    separator_at,
                    "separator differs from the last key of its child",
                )
                .into());
            }
        }
        let len = block.len();
        let payload_len = payload.len();
        self.stack.push(Frame { payload, at, level, idx: 0, len });
        Ok(CatalogStep::Block { handle, level, depth: self.stack.len(), n_entries: len, payload_len })
    }

    fn step(&mut self) -> Result<Option<CatalogStep>> {
        if let Some((payload, handle, level)) = self.root.take() {
            return self.enter(payload, handle, level, None).map(Some);
        }
        loop {
            let Some(frame) = self.stack.last_mut() else { return Ok(None) };
            if frame.idx == frame.len {
                self.stack.pop();
                continue;
            }
            let block = CatalogBlock::decode(&frame.payload, frame.at)?;
            let (key, value, at) = block.entry(frame.idx)?;
            frame.idx += 1;
            if frame.level > 0 {
                let child = decode_child(value, at)?;
                let (separator, level) = (frame.payload.slice_ref(key), frame.level - 1);
                let payload = self.inner.read_block(child, self.section, at)?;
                return self.enter(payload, child, level, Some((&separator, at))).map(Some);
            }
            if self.last_key.as_deref().is_some_and(|last| last >= key) {
                return Err(DecodeError::invalid("catalog key", at, "keys do not increase along the catalog").into());
            }
            let (key, value) = (frame.payload.slice_ref(key), frame.payload.slice_ref(value));
            self.last_key = Some(key.clone());
            return Ok(Some(CatalogStep::Entry { key, value, at }));
        }
    }
}

impl Iterator for CatalogWalk {
    type Item = Result<CatalogStep>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let step = self.step().transpose();
        if matches!(step, Some(Err(_))) {
            self.failed = true;
        }
        step
    }
}

impl std::iter::FusedIterator for CatalogWalk {}
