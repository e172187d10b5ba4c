//! Builds the catalog tree: leaves are written to the output as they fill, while the upper
//! levels wait for `finish`, which writes them together at the end of the file (its tail
//! region), so that one read of the file's end gives a reader every interior block.
//!
//! Memory: one open leaf, plus the last key and handle of every leaf written (the entries of
//! level 1), about 1% of the catalog.

use std::io::{self, Write};

use esdb_format::v1::catalog::CatalogBlockBuilder;
use esdb_format::v1::frame::{Codec, Handle};

use crate::output::Output;

/// Builds the catalog from entries added in strictly increasing key order.
pub(crate) struct CatalogWriter {
    leaf: CatalogBlockBuilder,
    last_key: Vec<u8>,
    /// For each leaf written: its last key and its handle.
    leaves: Vec<(Vec<u8>, Handle)>,
    block_size: usize,
    /// Raw, so that lookups search blocks in place, unless the file is written for size (zstd).
    codec: Codec,
    payload: Vec<u8>,
    value: Vec<u8>,
}

/// Where `finish` put the catalog.
pub(crate) struct CatalogRoot {
    pub(crate) root: Handle,
    pub(crate) height: u32,
    /// First byte of the tail region: the catalog's upper levels, or the root leaf.
    pub(crate) tail_offset: u64,
}

/// Bytes an entry may take beyond its key and value: two varint lengths and its offset.
fn entry_overhead() -> usize {
    2 * esdb_format::varint::MAX_LEN + 4
}

impl CatalogWriter {
    pub(crate) fn new(block_size: usize, codec: Codec) -> Self {
        CatalogWriter {
            leaf: CatalogBlockBuilder::new(),
            last_key: Vec::new(),
            leaves: Vec::new(),
            block_size,
            codec,
            payload: Vec::new(),
            value: Vec::new(),
        }
    }

    /// Adds a leaf entry.
    pub(crate) fn add<W: Write>(&mut self, key: &[u8], value: &[u8], out: &mut Output<W>) -> io::Result<()> {
        let entry_len = key.len() + value.len() + entry_overhead();
        if !self.leaf.is_empty() && self.leaf.encoded_len() + entry_len > self.block_size {
            let handle = self.write_block(0, out)?;
            self.leaves.push((std::mem::take(&mut self.last_key), handle));
        }
        self.leaf.push(key, value);
        self.last_key.clear();
        self.last_key.extend_from_slice(key);
        Ok(())
    }

    /// Writes the block `self.leaf` holds, at `level`: raw by default, since lookups read catalog
    /// blocks on every query and a raw block is searched in place without decompression.
    fn write_block<W: Write>(&mut self, level: usize, out: &mut Output<W>) -> io::Result<Handle> {
        self.payload.clear();
        let level_byte = u8::try_from(level).expect("catalog height stays far below 256");
        self.leaf.finish(level_byte, &mut self.payload);
        out.write_block(&self.payload, self.codec)
    }

    /// Writes the last leaf and every upper level, bottom up; returns the root, the tree's height
    /// and where the tail region starts.
    pub(crate) fn finish<W: Write>(mut self, out: &mut Output<W>) -> io::Result<CatalogRoot> {
        if self.leaves.is_empty() {
            // One leaf (perhaps the empty one of an empty file) is the whole tree.
            let tail_offset = out.offset();
            let root = self.write_block(0, out)?;
            return Ok(CatalogRoot { root, height: 1, tail_offset });
        }
        if !self.leaf.is_empty() {
            let handle = self.write_block(0, out)?;
            self.leaves.push((std::mem::take(&mut self.last_key), handle));
        }
        let tail_offset = out.offset();
        let mut children = std::mem::take(&mut self.leaves);
        let mut level = 1;
        // The highest level a reader accepts: there, the remaining children all go in the root.
        let top = esdb_format::v1::MAX_CATALOG_HEIGHT as usize - 1;
        loop {
            let mut parents = Vec::new();
            for (last_key, handle) in &children {
                self.value.clear();
                handle.encode(&mut self.value);
                let entry_len = last_key.len() + self.value.len() + entry_overhead();
                // An interior block takes at least two children, even when their keys outgrow
                // the block size, so that every level at least halves and the tree ends.
                if self.leaf.len() >= 2 && level < top && self.leaf.encoded_len() + entry_len > self.block_size {
                    let written = self.write_block(level, out)?;
                    parents.push((std::mem::take(&mut self.last_key), written));
                }
                self.leaf.push(last_key, &self.value);
                self.last_key.clone_from(last_key);
            }
            let written = self.write_block(level, out)?;
            if parents.is_empty() {
                return Ok(CatalogRoot { root: written, height: level as u32 + 1, tail_offset });
            }
            parents.push((std::mem::take(&mut self.last_key), written));
            children = parents;
            level += 1;
        }
    }
}
