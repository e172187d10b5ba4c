//! Walking the catalog tree: seeks by key and in-order iteration.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use esdb_format::v1::catalog::{decode_child, CatalogBlock};
use esdb_format::DecodeError;

use crate::db::Inner;
use crate::error::Result;

/// One catalog entry, sharing the leaf block it was read from. It holds the block once and
/// the places of key and value in it: every `Bytes` made or dropped is an atomic operation on a
/// count that all threads reading the file share.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    leaf: Bytes,
    leaf_at: u64,
    key: Range<usize>,
    value: Range<usize>,
    /// Absolute offset of the entry, for error messages.
    pub(crate) at: u64,
}

impl Entry {
    /// The entry whose `key` and `value` are slices of `leaf`, the block at `leaf_at`.
    pub(crate) fn new(leaf: Bytes, leaf_at: u64, key: &[u8], value: &[u8], at: u64) -> Entry {
        let (key, value) = (range_in(&leaf, key), range_in(&leaf, value));
        Entry { leaf, leaf_at, key, value, at }
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.leaf[self.key.clone()]
    }

    pub(crate) fn value(&self) -> &[u8] {
        &self.leaf[self.value.clone()]
    }

    /// The key without its first `skip` bytes, sharing the leaf.
    pub(crate) fn key_suffix(&self, skip: usize) -> Bytes {
        self.leaf.slice(self.key.start + skip..self.key.end)
    }

    /// The leaf block holding the entry, and its offset.
    pub(crate) fn leaf(&self) -> (Bytes, u64) {
        (self.leaf.clone(), self.leaf_at)
    }
}

/// Where an entry's key and value lie in its leaf block, and the entry's absolute offset.
struct Place {
    key: Range<usize>,
    value: Range<usize>,
    at: u64,
}

/// A catalog entry borrowed from its leaf block.
pub(crate) struct EntryRef<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    /// Absolute offset of the entry, for error messages.
    pub(crate) at: u64,
}

/// Where `part`, a slice of `whole`, lies in it.
fn range_in(whole: &[u8], part: &[u8]) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    debug_assert!(start + part.len() <= whole.len(), "not a slice of the block");
    start..start + part.len()
}

#[derive(Debug)]
struct Frame {
    payload: Bytes,
    at: u64,
    idx: usize,
}

impl Frame {
    fn block(&self) -> Result<CatalogBlock<'_>> {
        Ok(CatalogBlock::decode(&self.payload, self.at)?)
    }
}

/// The root of a catalog tree: the file's catalog, or its covering catalog.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) root: Bytes,
    pub(crate) root_at: u64,
    pub(crate) height: u32,
}

/// A position in a catalog tree: the path from the root to a leaf entry.
///
/// Keys are checked to strictly increase as the cursor moves and never to fall below the last
/// seek target, so a corrupt tree whose blocks share children or hold keys out of order is
/// reported instead of walked again and again: every step of a walk makes progress through the
/// file's finite set of keys.
#[derive(Debug)]
pub(crate) struct CatalogCursor {
    inner: Arc<Inner>,
    tree: Tree,
    path: Vec<Frame>,
    last_key: Option<Vec<u8>>,
    floor: Vec<u8>,
}

impl CatalogCursor {
    /// A cursor at the first entry of the file's catalog whose key is `>= target`.
    pub(crate) fn seek(inner: &Arc<Inner>, target: &[u8]) -> Result<CatalogCursor> {
        CatalogCursor::seek_in(inner, inner.catalog.clone(), target)
    }

    /// A cursor at the first entry of `tree` whose key is `>= target`.
    pub(crate) fn seek_in(inner: &Arc<Inner>, tree: Tree, target: &[u8]) -> Result<CatalogCursor> {
        let mut cursor =
            CatalogCursor { inner: inner.clone(), tree, path: Vec::new(), last_key: None, floor: target.to_vec() };
        cursor.descend_from_root(target)?;
        Ok(cursor)
    }

    /// Moves to the first entry `>= target`, which must not be before the current entry.
    pub(crate) fn seek_forward(&mut self, target: &[u8]) -> Result<()> {
        self.path.clear();
        self.floor.clear();
        self.floor.extend_from_slice(target);
        self.descend_from_root(target)
    }

    fn descend_from_root(&mut self, target: &[u8]) -> Result<()> {
        let height = self.tree.height;
        let mut payload = self.tree.root.clone();
        let mut at = self.tree.root_at;
        for level in (0..height).rev() {
            let frame = Frame { payload, at, idx: 0 };
            let block = frame.block()?;
            check_level(&block, level, at)?;
            if block.is_empty() && !(level == 0 && height == 1) {
                return Err(empty_block(at).into());
            }
            let idx = block.lower_bound(target)?;
            let child = if level > 0 && idx < block.len() {
                let (_, value, entry_at) = block.entry(idx)?;
                Some((decode_child(value, entry_at)?, entry_at))
            } else {
                None
            };
            self.path.push(Frame { idx, ..frame });
            let Some((handle, entry_at)) = child else { break };
            payload = self.inner.read_catalog_block(handle, entry_at)?;
            at = handle.offset;
        }
        if self.path.len() as u32 != height {
            // The target is above every key: no entry at or after it.
            self.path.clear();
        }
        Ok(())
    }

    /// The entry under the cursor, or `None` at the end.
    pub(crate) fn current(&mut self) -> Result<Option<Entry>> {
        let Some(Place { key, value, at }) = self.current_place()? else { return Ok(None) };
        let leaf = self.path.last().expect("current_place found a leaf");
        Ok(Some(Entry { leaf: leaf.payload.clone(), leaf_at: leaf.at, key, value, at }))
    }

    /// The key of the entry under the cursor, or `None` at the end.
    pub(crate) fn current_key(&mut self) -> Result<Option<&[u8]>> {
        let Some(place) = self.current_place()? else { return Ok(None) };
        Ok(Some(&self.path.last().expect("current_place found a leaf").payload[place.key]))
    }

    /// Where the key and value of the entry under the cursor lie in its leaf, and the entry's
    /// offset; `None` at the end.
    fn current_place(&mut self) -> Result<Option<Place>> {
        loop {
            let Some(leaf) = self.path.last() else { return Ok(None) };
            let block = leaf.block()?;
            if leaf.idx < block.len() {
                let (key, value, at) = block.entry(leaf.idx)?;
                let behind_last = self.last_key.as_deref().is_some_and(|last| key <= last);
                if behind_last || key < &self.floor[..] {
                    return Err(
                        DecodeError::invalid("catalog key", at, "keys do not increase along the catalog").into()
                    );
                }
                return Ok(Some(Place {
                    key: range_in(&leaf.payload, key),
                    value: range_in(&leaf.payload, value),
                    at,
                }));
            }
            self.next_leaf()?;
        }
    }

    /// Moves past the entry under the cursor.
    pub(crate) fn advance(&mut self) -> Result<()> {
        if let Some(leaf) = self.path.last_mut() {
            let block = CatalogBlock::decode(&leaf.payload, leaf.at)?;
            if leaf.idx < block.len() {
                let (key, _, _) = block.entry(leaf.idx)?;
                let last = self.last_key.get_or_insert_with(Vec::new);
                last.clear();
                last.extend_from_slice(key);
            }
            leaf.idx += 1;
        }
        Ok(())
    }

    /// Climbs to the nearest ancestor with an unvisited child and descends to that child's first
    /// leaf; clears the path at the end of the tree.
    fn next_leaf(&mut self) -> Result<()> {
        self.path.pop();
        while let Some(parent) = self.path.last_mut() {
            parent.idx += 1;
            let block = CatalogBlock::decode(&parent.payload, parent.at)?;
            if parent.idx >= block.len() {
                self.path.pop();
                continue;
            }
            // Descend leftmost down to a leaf.
            loop {
                let parent = self.path.last().expect("loop keeps a parent");
                let block = parent.block()?;
                let expected_level = block.level().checked_sub(1);
                let (_, value, entry_at) = block.entry(parent.idx)?;
                let handle = decode_child(value, entry_at)?;
                let payload = self.inner.read_catalog_block(handle, entry_at)?;
                let child = Frame { payload, at: handle.offset, idx: 0 };
                let child_block = child.block()?;
                if child_block.is_empty() {
                    return Err(empty_block(handle.offset).into());
                }
                let child_level = child_block.level();
                // A parent at level 0 has no children, so any level is wrong for a child of it.
                check_level(&child_block, expected_level.map_or(u32::MAX, u32::from), handle.offset)?;
                self.path.push(child);
                if child_level == 0 {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// Fails unless the catalog block at `at` sits at `expected` level of the tree.
pub(crate) fn check_level(block: &CatalogBlock<'_>, expected: u32, at: u64) -> Result<(), DecodeError> {
    if u32::from(block.level()) == expected {
        return Ok(());
    }
    Err(DecodeError::invalid("catalog level", at, format!("block is at level {}, expected {expected}", block.level())))
}

/// Only the root of an empty file's catalog may be empty. Every other block holds at least one
/// entry, which is what lets key order catch a tree whose blocks share children: a walk that
/// revisits a leaf sees its keys again. Empty leaves would let such a walk run through an
/// exponential number of blocks without a key to compare.
pub(crate) fn empty_block(at: u64) -> DecodeError {
    DecodeError::invalid(
        "catalog entry count",
        at,
        "a catalog block below the root, or an interior root, has no entries",
    )
}

/// Entries whose keys start with `prefix`, in key order.
#[derive(Debug)]
pub(crate) struct PrefixIter {
    cursor: Option<CatalogCursor>,
    inner: Arc<Inner>,
    prefix: Vec<u8>,
    done: bool,
}

impl PrefixIter {
    pub(crate) fn new(inner: Arc<Inner>, prefix: Vec<u8>) -> PrefixIter {
        PrefixIter { cursor: None, inner, prefix, done: false }
    }

    /// Jumps forward to the first entry `>= target`.
    pub(crate) fn skip_to(&mut self, target: &[u8]) -> Result<()> {
        match &mut self.cursor {
            Some(cursor) => cursor.seek_forward(target),
            None => {
                self.cursor = Some(CatalogCursor::seek(&self.inner, target)?);
                Ok(())
            }
        }
    }

    /// The next entry under the prefix.
    pub(crate) fn next_entry(&mut self) -> Result<Option<Entry>> {
        if self.done {
            return Ok(None);
        }
        let cursor = match &mut self.cursor {
            Some(cursor) => cursor,
            None => self.cursor.insert(CatalogCursor::seek(&self.inner, &self.prefix)?),
        };
        match cursor.current()? {
            Some(entry) if entry.key().starts_with(&self.prefix) => {
                cursor.advance()?;
                Ok(Some(entry))
            }
            _ => {
                self.done = true;
                Ok(None)
            }
        }
    }

    /// The next entry under the prefix as key, value and offset, borrowed from its leaf: no
    /// reference count is touched.
    pub(crate) fn next_ref(&mut self) -> Result<Option<EntryRef<'_>>> {
        let PrefixIter { cursor, inner, prefix, done } = self;
        if *done {
            return Ok(None);
        }
        let cursor = match cursor {
            Some(cursor) => cursor,
            None => cursor.insert(CatalogCursor::seek(inner, prefix)?),
        };
        let Some(Place { key, value, at }) = cursor.current_place()? else {
            *done = true;
            return Ok(None);
        };
        let under_prefix = cursor.path.last().is_some_and(|leaf| leaf.payload[key.clone()].starts_with(prefix));
        if !under_prefix {
            *done = true;
            return Ok(None);
        }
        cursor.advance()?;
        // `advance` moves within the leaf, which stays the last frame of the path.
        let leaf = &cursor.path.last().expect("current_place found a leaf").payload;
        Ok(Some(EntryRef { key: &leaf[key], value: &leaf[value], at }))
    }

    /// Steps over the next entry under the prefix without taking it; `false` at the end.
    pub(crate) fn skip_entry(&mut self) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        let cursor = match &mut self.cursor {
            Some(cursor) => cursor,
            None => self.cursor.insert(CatalogCursor::seek(&self.inner, &self.prefix)?),
        };
        if cursor.current_key()?.is_some_and(|key| key.starts_with(&self.prefix)) {
            cursor.advance()?;
            Ok(true)
        } else {
            self.done = true;
            Ok(false)
        }
    }

    /// Ends the iteration, e.g. after an error.
    pub(crate) fn stop(&mut self) {
        self.done = true;
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    pub(crate) fn prefix(&self) -> &[u8] {
        &self.prefix
    }
}
