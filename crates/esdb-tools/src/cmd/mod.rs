//! The subcommands, one module each.

pub mod dump;
pub mod export;
pub mod import;
pub mod info;
pub mod merge;
pub mod scan;
pub mod spaces;
pub mod store;
pub mod verify;

use std::path::Path;

use anyhow::{Context, Result};
use esdb_read::Db;

/// Opens an ESDB file, saying which file failed and why.
pub fn open_db(path: &Path) -> Result<Db> {
    Db::open(path).with_context(|| format!("cannot open {} as an ESDB file", path.display()))
}
