//! The subcommands, one module each.

pub mod completions;
pub mod dump;
pub mod export;
pub mod import;
pub mod info;
pub mod merge;
pub mod scan;
pub mod spaces;
pub mod sql;
pub mod store;
pub mod verify;

use std::path::Path;

use anyhow::{Context, Result};
use esdb_read::Db;

/// Opens an ESDB file, saying which file failed and why; `-` reads the file from standard input,
/// and `s3://BUCKET/KEY` (or `file:///PATH`) reads the object in place, configured from the AWS
/// environment variables.
pub fn open_db(path: &Path) -> Result<Db> {
    if let Some(url) = path.to_str().filter(|location| esdb_object_store::is_object_url(location)) {
        return esdb_object_store::open(url).with_context(|| format!("cannot open {url} as an ESDB file"));
    }
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes).context("cannot read standard input")?;
        return Db::from_bytes(bytes.into()).context("cannot open standard input as an ESDB file");
    }
    Db::open(path).with_context(|| format!("cannot open {} as an ESDB file", path.display()))
}

/// Where `import` and `merge` write an ESDB file: the path, or for `-` a temporary file that
/// [`OutputFile::deliver`] copies to standard output once complete.
pub struct OutputFile {
    pub path: std::path::PathBuf,
    _scratch: Option<tempfile::TempDir>,
}

impl OutputFile {
    pub fn new(path: &Path) -> Result<OutputFile> {
        if path.as_os_str() != "-" {
            return Ok(OutputFile { path: path.to_path_buf(), _scratch: None });
        }
        let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
        Ok(OutputFile { path: scratch.path().join("out.esdb"), _scratch: Some(scratch) })
    }

    /// Copies a file written for `-` to standard output.
    pub fn deliver(&self) -> Result<()> {
        if self._scratch.is_some() {
            let mut file = std::fs::File::open(&self.path).context("cannot read the written file")?;
            let mut out = std::io::stdout().lock();
            std::io::copy(&mut file, &mut out).context("cannot write to standard output")?;
            std::io::Write::flush(&mut out).context("cannot write to standard output")?;
        }
        Ok(())
    }
}
