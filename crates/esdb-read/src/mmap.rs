//! The memory-mapped file source used by [`Db::open`](crate::Db::open).
#![allow(unsafe_code)]

use std::fs::File;
use std::path::Path;

use bytes::Bytes;

use crate::error::{Error, Result};

/// Maps `path` read-only and wraps the map in `Bytes`, so that slices of it (and the events that
/// borrow from raw blocks) keep the map alive.
pub(crate) fn map(path: &Path) -> Result<Bytes> {
    let file = File::open(path).map_err(|source| Error::Open { action: "open", path: path.to_path_buf(), source })?;
    let len = file.metadata().map_err(|source| Error::Open { action: "stat", path: path.to_path_buf(), source })?.len();
    if len == 0 {
        // Mapping an empty file fails on some platforms; an empty file is simply too short.
        return Ok(Bytes::new());
    }
    // SAFETY: `Mmap::map` is unsafe because the mapped bytes change, or reading them raises
    // SIGBUS, if another process modifies or truncates the file while it is mapped. ESDB files
    // are immutable once renamed into place (the writer never modifies a finished file), and the
    // reader never assumes more than what it checks: every length and offset read from the map is
    // validated and every block is checksummed before use, so changed bytes surface as errors.
    // Truncation by another process remains outside our control; `Db::open` documents it and
    // `Db::from_bytes` is the alternative that avoids the map.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| Error::Open {
        action: "map",
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Bytes::from_owner(map))
}
