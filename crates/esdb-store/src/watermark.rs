//! The durable watermark: the file `DURABLE`, which the writer rewrites in place after every
//! fsync of the log. Readers in other processes read records only below it, so that in `Sync`
//! mode nobody sees an event before its producer is told it is durable; recovery takes it as the
//! recovery point (a bad record before it is damage, never a torn write); `verify` checks that
//! no acknowledged record was cut off. Layout in `docs/STORE.md`.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use esdb_format::checksum::xxh3;

use crate::error::{Error, Result};
use crate::io::Fs;

/// Name of the watermark file in the store directory.
pub const DURABLE: &str = "DURABLE";
const MAGIC: [u8; 8] = *b"ESDBDURA";
/// Length of the watermark file.
pub const LEN: usize = 56;

/// What the writer knew durable at its last fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watermark {
    /// The store's id.
    pub store_id: [u8; 16],
    /// One past the last durable offset.
    pub offset: u64,
    /// Base offset of the segment it lies in.
    pub segment_base: u64,
    /// Bytes of that segment that are durable.
    pub segment_len: u64,
}

impl Watermark {
    /// The 56 bytes of the file: magic, store id, offset, segment base, segment length, xxh3.
    pub fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8..24].copy_from_slice(&self.store_id);
        out[24..32].copy_from_slice(&self.offset.to_le_bytes());
        out[32..40].copy_from_slice(&self.segment_base.to_le_bytes());
        out[40..48].copy_from_slice(&self.segment_len.to_le_bytes());
        let checksum = xxh3(&out[..48]);
        out[48..].copy_from_slice(&checksum.to_le_bytes());
        out
    }

    /// Decodes the file's bytes; `None` when they are not a whole, valid watermark.
    pub fn decode(bytes: &[u8]) -> Option<Watermark> {
        let bytes: &[u8; LEN] = bytes.try_into().ok()?;
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        if bytes[..8] != MAGIC || !esdb_format::checksum::accepts(u64_at(48), xxh3(&bytes[..48])) {
            return None;
        }
        Some(Watermark {
            store_id: bytes[8..24].try_into().expect("16 bytes"),
            offset: u64_at(24),
            segment_base: u64_at(32),
            segment_len: u64_at(40),
        })
    }
}

/// Reads the watermark of the store in `dir`. `Ok(None)` when there is none (a store last
/// written by a version that did not keep one) or it stays unreadable (a crash while it was
/// first written; the next writer writes it anew). A torn read (the writer rewriting it at that
/// moment) is retried first.
pub fn read(dir: &Path) -> Result<Option<Watermark>> {
    let path = dir.join(DURABLE);
    for _ in 0..100 {
        let mut bytes = Vec::with_capacity(LEN);
        match File::open(&path) {
            Ok(file) => file.take(LEN as u64 + 1).read_to_end(&mut bytes).map_err(Error::io("read", &path))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::io("read", &path)(err)),
        };
        if let Some(mark) = Watermark::decode(&bytes) {
            return Ok(Some(mark));
        }
        std::thread::yield_now();
    }
    Ok(None)
}

/// The writer's handle on the watermark file: it only ever moves forwards.
#[derive(Debug)]
pub struct Publisher {
    file: File,
    path: PathBuf,
    last: Watermark,
}

impl Publisher {
    /// Opens (creating) the watermark of the store in `dir` and writes `mark`.
    pub fn open(fs: &Fs, dir: &Path, mark: Watermark) -> Result<Publisher> {
        let path = dir.join(DURABLE);
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => fs.create(&path)?,
            Err(err) => return Err(Error::io("open", &path)(err)),
        };
        fs.write_at(&file, &path, &mark.encode(), 0)?;
        if file.metadata().map_err(Error::io("stat", &path))?.len() != LEN as u64 {
            fs.set_len(&file, &path, LEN as u64)?;
        }
        Ok(Publisher { file, path, last: mark })
    }

    /// Publishes `mark` if it is past the last one published. Not fsynced: after a crash the
    /// next writer recovers the log and publishes again before anyone reads.
    pub fn publish(&mut self, fs: &Fs, mark: Watermark) -> Result<()> {
        if mark.offset < self.last.offset
            || (mark.offset == self.last.offset && mark.segment_base <= self.last.segment_base)
        {
            return Ok(());
        }
        fs.write_at(&self.file, &self.path, &mark.encode(), 0)?;
        self.last = mark;
        Ok(())
    }

    /// The last watermark published.
    pub fn last(&self) -> Watermark {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watermark_round_trips_and_damage_is_refused() {
        let mark = Watermark { store_id: [3; 16], offset: 10, segment_base: 4, segment_len: 900 };
        let bytes = mark.encode();
        assert_eq!(Watermark::decode(&bytes), Some(mark));
        for at in 0..LEN {
            let mut bad = bytes;
            bad[at] ^= 1;
            assert_eq!(Watermark::decode(&bad), None, "flip at {at}");
        }
        assert_eq!(Watermark::decode(&bytes[..LEN - 1]), None);
    }
}
