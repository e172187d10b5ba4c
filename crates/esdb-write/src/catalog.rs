//! Streams the catalog tree to the output: leaves are written as they fill, and each written
//! block's last key goes up one level, so memory stays at one open block per level.

use std::io::{self, Write};

use esdb_format::v1::catalog::CatalogBlockBuilder;
use esdb_format::v1::frame::{Codec, Handle};

use crate::output::Output;

struct Level {
    block: CatalogBlockBuilder,
    last_key: Vec<u8>,
    n_written: u64,
}

/// Builds the catalog from entries added in strictly increasing key order.
pub(crate) struct CatalogWriter {
    levels: Vec<Level>,
    block_size: usize,
    payload: Vec<u8>,
}

impl CatalogWriter {
    pub(crate) fn new(block_size: usize) -> Self {
        CatalogWriter { levels: Vec::new(), block_size, payload: Vec::new() }
    }

    /// Adds a leaf entry.
    pub(crate) fn add<W: Write>(&mut self, key: &[u8], value: &[u8], out: &mut Output<W>) -> io::Result<()> {
        self.add_at(0, key, value, out)
    }

    fn add_at<W: Write>(&mut self, level: usize, key: &[u8], value: &[u8], out: &mut Output<W>) -> io::Result<()> {
        if self.levels.len() == level {
            self.levels.push(Level { block: CatalogBlockBuilder::new(), last_key: Vec::new(), n_written: 0 });
        }
        let entry_len = key.len() + value.len() + 2 * esdb_format::varint::MAX_LEN + 4;
        let block = &self.levels[level].block;
        if !block.is_empty() && block.encoded_len() + entry_len > self.block_size {
            self.flush(level, out)?;
        }
        let state = &mut self.levels[level];
        state.block.push(key, value);
        state.last_key.clear();
        state.last_key.extend_from_slice(key);
        Ok(())
    }

    fn write_block<W: Write>(&mut self, level: usize, out: &mut Output<W>) -> io::Result<Handle> {
        self.payload.clear();
        let level_byte = u8::try_from(level).expect("catalog height stays far below 256");
        self.levels[level].block.finish(level_byte, &mut self.payload);
        self.levels[level].n_written += 1;
        // Catalog blocks stay raw: lookups read them on every query, and a raw block is read in
        // place without decompression.
        out.write_block(&self.payload, Codec::Raw)
    }

    fn flush<W: Write>(&mut self, level: usize, out: &mut Output<W>) -> io::Result<()> {
        let handle = self.write_block(level, out)?;
        let mut value = Vec::new();
        handle.encode(&mut value);
        let last_key = std::mem::take(&mut self.levels[level].last_key);
        self.add_at(level + 1, &last_key, &value, out)
    }

    /// Writes every open block and returns the root and the tree's height.
    pub(crate) fn finish<W: Write>(mut self, out: &mut Output<W>) -> io::Result<(Handle, u32)> {
        if self.levels.is_empty() {
            self.levels.push(Level { block: CatalogBlockBuilder::new(), last_key: Vec::new(), n_written: 0 });
        }
        let mut level = 0;
        loop {
            let is_top = level + 1 == self.levels.len();
            if is_top && self.levels[level].n_written == 0 {
                let root = self.write_block(level, out)?;
                return Ok((root, level as u32 + 1));
            }
            if !self.levels[level].block.is_empty() {
                self.flush(level, out)?;
            }
            level += 1;
        }
    }
}
