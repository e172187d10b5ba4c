//! A small cache of catalog blocks that passed their checksum, shared by every query of a `Db`.
//!
//! Every lookup descends the catalog from the root, so the upper levels are read again and
//! again; caching them saves the read (a range request for remote sources) and the checksum.
//! Data blocks are not cached: scans read each one once.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use esdb_format::v1::frame::Handle;

/// Catalog blocks kept at most (about 1 MiB with the default 4 KiB catalog blocks).
const CAPACITY: usize = 256;

/// Verified catalog block payloads by handle (offset and stored length).
#[derive(Debug, Default)]
pub(crate) struct BlockCache {
    blocks: Mutex<HashMap<(u64, u32), Bytes>>,
}

impl BlockCache {
    pub(crate) fn get(&self, handle: Handle) -> Option<Bytes> {
        self.blocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&(handle.offset, handle.len)).cloned()
    }

    pub(crate) fn insert(&self, handle: Handle, payload: Bytes) {
        let mut blocks = self.blocks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if blocks.len() >= CAPACITY {
            // Upper levels are re-inserted by the next lookups; a full reset keeps this simple and
            // bounded, and the cache refills within a few queries.
            blocks.clear();
        }
        blocks.insert((handle.offset, handle.len), payload);
    }
}
