//! The one way a store changes state: [`Shared::install`] writes a new MANIFEST (temporary
//! name, fsync, rename, directory fsync). Roll, seal, compact, retain, the upgrade of an older
//! store and repair all go through it. Before the rename nothing has changed and the caller's new
//! files are deleted; from the rename on the change is committed or its outcome unknown, so
//! nothing is deleted and a failure leaves the handle unsettled until the store is reopened.
//!
//! Files a change stops naming are listed in the new manifest's `obsolete` and deleted by
//! [`Shared::delete_obsolete`] only once no reader in this process holds them; readers in other
//! processes have them open already or reload the manifest (`docs/STORE.md`, "File lifecycle").

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::io::Fs;
use crate::manifest::{Manifest, MANIFEST, MANIFEST_TMP};
use crate::partition::Handle;
use crate::store::{lock, Shared};

/// A file a change stopped naming, waiting to be deleted.
#[derive(Debug)]
pub(crate) struct Obsolete {
    /// Relative to the store directory.
    pub file: String,
    /// The partition's handle: the file is in use while anyone else holds it.
    pub pin: Option<Handle>,
}

impl Obsolete {
    pub fn segment(file: String) -> Obsolete {
        Obsolete { file, pin: None }
    }

    pub fn partition(handle: &Handle) -> Obsolete {
        Obsolete { file: handle.meta.file.clone(), pin: Some(handle.clone()) }
    }

    fn in_use(&self) -> bool {
        self.pin.as_ref().is_some_and(|pin| Arc::strong_count(pin) > 1)
    }
}

/// Why writing a manifest failed: before the rename nothing changed, after it the outcome is
/// unknown.
#[derive(Debug)]
pub(crate) enum WriteFailure {
    BeforeRename(Error),
    AfterRename(Error),
}

/// Writes `manifest` as the MANIFEST of `dir`: temporary file, fsync, rename, directory fsync.
pub(crate) fn write_manifest(fs: &Fs, dir: &Path, manifest: &Manifest) -> std::result::Result<(), WriteFailure> {
    let tmp = dir.join(MANIFEST_TMP);
    let staged = (|| {
        let file = fs.create(&tmp)?;
        fs.write_all(&file, &tmp, &manifest.to_bytes())?;
        fs.sync_all(&file, &tmp)
    })();
    if let Err(err) = staged {
        let _ = fs.remove(&tmp);
        return Err(WriteFailure::BeforeRename(err));
    }
    fs.rename(&tmp, &dir.join(MANIFEST)).map_err(WriteFailure::AfterRename)?;
    fs.sync_dir(dir).map_err(WriteFailure::AfterRename)
}

impl Shared {
    /// Installs `next` as the store's manifest in place of `current` (the guarded in-memory
    /// copy). `new_files` are the files the change wrote, deleted when it fails before the
    /// rename; `dropped` are the files it stops naming.
    ///
    /// # Errors
    /// Before the rename: the error, nothing changed. From the rename on: [`Error::Unsettled`];
    /// the handle refuses further changes.
    pub(crate) fn install(
        &self,
        current: &mut Manifest,
        mut next: Manifest,
        new_files: &[PathBuf],
        dropped: Vec<Obsolete>,
    ) -> Result<()> {
        self.check_settled()?;
        next.generation = current.generation.checked_add(1).ok_or(Error::Exhausted { what: "manifest generations" })?;
        let mut obsolete: Vec<String> = current.obsolete.clone();
        obsolete.extend(dropped.iter().map(|file| file.file.clone()));
        obsolete.retain(|file| self.dir.join(file).exists());
        obsolete.sort();
        obsolete.dedup();
        next.obsolete = obsolete;
        match write_manifest(&self.fs, &self.dir, &next) {
            Ok(()) => {}
            Err(WriteFailure::BeforeRename(err)) => {
                for file in new_files {
                    let _ = self.fs.remove(file);
                }
                return Err(err);
            }
            Err(WriteFailure::AfterRename(err)) => {
                let reason = err.to_string();
                lock(&self.unsettled).get_or_insert(reason.clone());
                return Err(Error::Unsettled { reason });
            }
        }
        *current = next;
        lock(&self.obsolete).extend(dropped);
        Ok(())
    }

    /// Fails once an install's outcome is unknown.
    pub(crate) fn check_settled(&self) -> Result<()> {
        match &*lock(&self.unsettled) {
            Some(reason) => Err(Error::Unsettled { reason: reason.clone() }),
            None => Ok(()),
        }
    }

    /// Deletes the obsolete files nothing in this process uses any more. A file that cannot be
    /// deleted stays listed in the manifest and is tried again later (or by the next open).
    pub(crate) fn delete_obsolete(&self) {
        if self.read_only || lock(&self.unsettled).is_some() {
            return;
        }
        let mut pending = lock(&self.obsolete);
        pending.retain(|file| {
            if file.in_use() {
                return true;
            }
            if let Some(pin) = &file.pin {
                self.cache.forget(pin.meta.seq);
            }
            self.fs.remove(&self.dir.join(&file.file)).is_err()
        });
    }
}
