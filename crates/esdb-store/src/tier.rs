//! The remote tier: where sealed partitions are copied to and read from in place, an
//! object-store location recorded in the MANIFEST. A partition's copy lives at
//! `{remote}/{store_id}/{file}`, so that stores sharing a location never touch each other's
//! objects. The rules that keep it safe (a copy is named only once checked, a local file is
//! deleted only once named remote) are in `docs/STORE.md`, "Remote tier".

use std::path::Path;
use std::sync::Arc;

use esdb_object_store::object_store::path::Path as ObjectPath;
use esdb_object_store::object_store::ObjectStore;
use esdb_object_store::{ObjectSource, ObjectSourceOptions};
use esdb_read::{Db, Source};

use crate::error::{Error, Result};
use crate::manifest::{PartitionMeta, END_CHECKSUM_LEN};

/// A store's remote tier.
#[derive(Debug, Clone)]
pub(crate) struct Tier {
    store: Arc<dyn ObjectStore>,
    /// `{prefix}/{store_id}` inside `store`.
    root: ObjectPath,
    /// `{remote}/{store_id}`, for messages.
    url: String,
}

impl Tier {
    /// The tier at `remote` (`s3://BUCKET/PREFIX`, `file:///PATH`) of the store `store_id`.
    pub fn new(remote: &str, store_id: &str) -> Result<Tier> {
        let (store, prefix) = esdb_object_store::store_for(remote).map_err(|source| Error::Remote {
            action: "reach",
            file: remote.to_owned(),
            source: Box::new(source),
        })?;
        let root = prefix.clone().join(store_id);
        Ok(Tier { store, root, url: format!("{}/{store_id}", remote.trim_end_matches('/')) })
    }

    fn key(&self, file: &str) -> ObjectPath {
        file.split('/').fold(self.root.clone(), |path, part| path.join(part))
    }

    /// The URL of `file`'s copy.
    pub fn url_of(&self, file: &str) -> String {
        format!("{}/{file}", self.url)
    }

    /// Copies the partition file at `local` (named `file` in the store) to the tier and reads
    /// the copy back, comparing it byte for byte with the file. Returns the bytes copied.
    pub fn upload(&self, local: &Path, file: &str) -> Result<u64> {
        let url = self.url_of(file);
        let remote = |action| move |source| Error::Remote { action, file: file.to_owned(), source: Box::new(source) };
        esdb_object_store::upload_to(self.store.clone(), self.key(file), local, &url).map_err(remote("upload"))?;
        esdb_object_store::check_upload(self.store.clone(), self.key(file), local, &url)
            .map_err(remote("check the upload of"))
    }

    /// Deletes `file`'s copy (one that is not there counts as deleted).
    pub fn delete(&self, file: &str) -> Result<()> {
        esdb_object_store::delete(self.store.clone(), self.key(file), &self.url_of(file))
            .map_err(|source| Error::Remote { action: "delete", file: file.to_owned(), source: Box::new(source) })
    }

    /// Opens `meta`'s copy in place, checking it is the file the manifest names: its length,
    /// the checksum of its end (read with the footer, no extra request) and its event count.
    pub fn open(&self, dir: &Path, meta: &PartitionMeta) -> Result<Db> {
        let url = self.url_of(&meta.file);
        let source = ObjectSource::open(self.store.clone(), self.key(&meta.file), &url, ObjectSourceOptions::default())
            .map_err(|err| Error::Remote { action: "open", file: meta.file.clone(), source: Box::new(err.into()) })?;
        let location = std::path::PathBuf::from(&url);
        crate::partition::check_identity(meta, &location, || {
            let len = source.len();
            let tail_len = len.min(END_CHECKSUM_LEN);
            let tail = source.read(len - tail_len, tail_len as usize).map_err(|source| Error::Io {
                action: "read remote partition",
                path: location.clone(),
                source,
            })?;
            Ok((len, esdb_format::checksum::xxh3(&tail)))
        })?;
        let db =
            Db::from_source(Arc::new(source)).map_err(|source| Error::Partition { path: location.clone(), source })?;
        crate::partition::check_events(dir, meta, db)
    }
}
