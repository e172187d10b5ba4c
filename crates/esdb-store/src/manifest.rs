//! The manifest: the one file that says which segments and partitions make up the store, which
//! store it is (`store_id`) and how many times it has changed (`generation`). It is only replaced
//! by [`crate::transition`]; its layout and invariants are in `docs/STORE.md`.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::options::TimeUnit;

/// Longest index name a partition can hold, in bytes.
const MAX_INDEX_NAME_LEN: usize = esdb_format::v1::MAX_KEY_PART_LEN;

/// Name of the manifest in the store directory.
pub const MANIFEST: &str = "MANIFEST";
/// The manifest being written; never read.
pub const MANIFEST_TMP: &str = "MANIFEST.tmp";
const FORMAT: &str = "esdb-store";
/// Layout version written: 2 adds `store_id`, `generation`, `obsolete` and the partitions'
/// `file_len` / `end_checksum`; 3 adds `time_unit` and the partitions' `last_window`; 4 adds
/// the remote tier: `remote`, `obsolete_remote` and the partitions' `remote` / `local`; 5 adds
/// the partitions' layout: `covering_indexes` and `covering_timeline`.
pub const VERSION: u32 = 5;
/// Directory of the log segments.
pub const LOG_DIR: &str = "log";
/// Directory of the sealed partitions.
pub const PARTITION_DIR: &str = "partitions";
/// Directory where files the store cannot use are moved instead of being deleted.
pub const QUARANTINE_DIR: &str = "quarantine";

/// The store's state as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `esdb-store`.
    pub format: String,
    /// Layout version of the store directory (1 or 2).
    pub version: u32,
    /// The store's identity: 32 hex digits, also in the header of every version-2 segment.
    /// Empty in a version-1 manifest until a writer first opens it.
    #[serde(default)]
    pub store_id: String,
    /// Incremented by every installed change; a reader that sees it change reloads.
    #[serde(default)]
    pub generation: u64,
    /// Width of a partition window, in timestamp units.
    pub partition_window: i64,
    /// Unit of the timestamps (`s`, `ms`, `us`, `ns`), if the store was given one (version 3).
    #[serde(default)]
    pub time_unit: Option<String>,
    /// Events below this offset are in partitions (or were retained away); the rest is the tail.
    pub sealed_through: u64,
    /// First offset the log still holds.
    pub log_start: u64,
    /// Sequence number of the next partition written.
    pub next_partition_seq: u64,
    /// Log segments, oldest first; the last is the active one.
    pub segments: Vec<SegmentMeta>,
    /// Sealed partitions, by sequence number.
    pub partitions: Vec<PartitionMeta>,
    /// Files an installed change stopped naming, to be deleted once no reader uses them. Only
    /// files listed here are ever deleted by the store.
    #[serde(default)]
    pub obsolete: Vec<String>,
    /// The remote tier (version 4): the object-store location (`s3://BUCKET/PREFIX`,
    /// `file:///PATH`) under which partitions are uploaded, in `{remote}/{store_id}/{file}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
    /// Partition files whose remote copies an installed change stopped naming, to be deleted
    /// from the remote tier (version 4). Only objects listed here are ever deleted remotely.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obsolete_remote: Vec<String>,
    /// Index names the partitions sealed or compacted from now on cover (version 5), in
    /// increasing byte order, each 1 to 65,535 bytes of UTF-8.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub covering_indexes: Vec<String>,
    /// Whether the partitions sealed or compacted from now on cover their spaces' timelines
    /// (version 5).
    #[serde(default, skip_serializing_if = "is_false")]
    pub covering_timeline: bool,
}

/// One log segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMeta {
    /// Offset of its first record.
    pub base: u64,
    /// One past its last offset, once the segment is closed.
    pub end: Option<u64>,
    /// Append time of its last record (ms since the Unix epoch), once closed and not empty.
    pub last_append_ms: Option<u64>,
}

/// One sealed partition: an ordinary ESDB file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionMeta {
    /// Sequence number: later partitions of a window hold later offsets.
    pub seq: u64,
    /// The first window it covers: timestamps from `window * partition_window` on.
    pub window: i64,
    /// The last window it covers (version 3; `None`: `window`): a compaction merges neighbouring
    /// windows into one partition. Its timestamps lie in `window ..= last_window`.
    #[serde(default)]
    pub last_window: Option<i64>,
    /// Its file, relative to the store directory.
    pub file: String,
    /// Events in it.
    pub events: u64,
    /// Smallest timestamp.
    pub min_ts: i64,
    /// Largest timestamp.
    pub max_ts: i64,
    /// Smallest offset of an event in it.
    pub first_offset: u64,
    /// Largest offset of an event in it.
    pub last_offset: u64,
    /// Length of the file in bytes (version 2).
    #[serde(default)]
    pub file_len: Option<u64>,
    /// XXH3-64 of the file's last `min(file_len, 256)` bytes, its footer and trailer (version 2):
    /// tells this partition from another file of the same name and length.
    #[serde(default)]
    pub end_checksum: Option<u64>,
    /// A copy is in the remote tier, uploaded and verified (version 4).
    #[serde(default, skip_serializing_if = "is_false")]
    pub remote: bool,
    /// The file is in the store directory (version 4; absent: true). A partition that is not
    /// local is remote, and read in place from there.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub local: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_true(value: &bool) -> bool {
    *value
}

fn yes() -> bool {
    true
}

/// Bytes at the end of a partition covered by [`PartitionMeta::end_checksum`].
pub const END_CHECKSUM_LEN: u64 = 256;

impl PartitionMeta {
    /// The last window the partition covers.
    pub fn last_window(&self) -> i64 {
        self.last_window.unwrap_or(self.window)
    }
}

impl SegmentMeta {
    /// The segment's file, relative to the store directory.
    pub fn file(&self) -> String {
        segment_file(self.base)
    }
}

/// The file of the segment starting at `base`.
pub fn segment_file(base: u64) -> String {
    format!("{LOG_DIR}/{base:020}.log")
}

/// The base offset of a segment file name (`{base:020}.log`), if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".log")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok())?
}

/// The file of partition `seq` of `window`, written by a seal or compaction that leaves
/// `sealed_through` at `sealed`: the bound lets `repair` rebuild `sealed_through` from the files.
pub fn partition_file(seq: u64, window: i64, sealed: u64) -> String {
    format!("{PARTITION_DIR}/{seq:010}-w{window}-s{sealed}.esdb")
}

/// `(seq, window, sealed)` of a partition file name: `{seq:010}-w{window}-s{sealed}.esdb`, or the
/// version-1 `{seq:010}-w{window}.esdb` (no bound).
pub fn parse_partition_name(name: &str) -> Option<(u64, i64, Option<u64>)> {
    let stem = name.strip_suffix(".esdb")?;
    let (seq, rest) = stem.split_once("-w")?;
    if seq.len() != 10 || !seq.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (window, sealed) = match rest.split_once("-s") {
        Some((window, sealed)) => (window, Some(sealed.parse().ok()?)),
        None => (rest, None),
    };
    Some((seq.parse().ok()?, window.parse().ok()?, sealed))
}

impl Manifest {
    /// The manifest of a new, empty store.
    pub fn new(store_id: String, partition_window: i64) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            store_id,
            generation: 0,
            partition_window,
            time_unit: None,
            sealed_through: 0,
            log_start: 0,
            next_partition_seq: 0,
            segments: vec![SegmentMeta { base: 0, end: None, last_append_ms: None }],
            partitions: Vec::new(),
            obsolete: Vec::new(),
            remote: None,
            obsolete_remote: Vec::new(),
            covering_indexes: Vec::new(),
            covering_timeline: false,
        }
    }

    /// Reads and checks the manifest of the store in `dir`; `None` if there is none.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(Error::Io { action: "read", path, source: err }),
        };
        Manifest::parse(&text).map(Some).map_err(|reason| Error::Manifest { path, reason })
    }

    /// Parses and checks a manifest's bytes.
    pub fn parse(text: &[u8]) -> std::result::Result<Manifest, String> {
        let manifest: Manifest = serde_json::from_slice(text).map_err(|err| err.to_string())?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The manifest as it is stored.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).expect("manifests serialize");
        text.push(b'\n');
        text
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("format is {:?}, expected {FORMAT:?}", self.format));
        }
        if !(1..=VERSION).contains(&self.version) {
            return Err(format!("version {} is not supported (supported: 1..={VERSION})", self.version));
        }
        if self.version >= 2 && !is_store_id(&self.store_id) {
            return Err(format!("store_id {:?} is not 32 hex digits", self.store_id));
        }
        if self.partition_window < 1 {
            return Err("partition_window must be at least 1".into());
        }
        if let Some(unit) = &self.time_unit {
            unit.parse::<TimeUnit>().map_err(|err| format!("time_unit: {err}"))?;
        }
        let Some(active) = self.segments.last() else { return Err("no log segment".into()) };
        if active.end.is_some() {
            return Err("the last segment must be the active one (no end)".into());
        }
        for (idx, pair) in self.segments.windows(2).enumerate() {
            if pair[0].end != Some(pair[1].base) || pair[1].base < pair[0].base {
                return Err(format!("segment {idx} ends at {:?}, the next starts at {}", pair[0].end, pair[1].base));
            }
        }
        if self.segments[0].base != self.log_start {
            return Err(format!(
                "log_start {} is not the first segment's base {}",
                self.log_start, self.segments[0].base
            ));
        }
        if self.log_start > self.sealed_through {
            return Err(format!("log_start {} is past sealed_through {}", self.log_start, self.sealed_through));
        }
        let mut files = HashSet::new();
        for partition in &self.partitions {
            if partition.seq >= self.next_partition_seq {
                return Err(format!("partition {} is not below next_partition_seq", partition.seq));
            }
            let named = parse_partition_name(partition.file.strip_prefix("partitions/").unwrap_or(""));
            if !named.is_some_and(|(seq, window, _)| seq == partition.seq && window == partition.window)
                || !files.insert(&partition.file)
            {
                return Err(format!(
                    "partition {} has an unexpected or repeated file {:?}",
                    partition.seq, partition.file
                ));
            }
            if partition.last_window() < partition.window {
                return Err(format!(
                    "partition {} ends at window {}, before its first window {}",
                    partition.seq,
                    partition.last_window(),
                    partition.window
                ));
            }
            if !partition.local && !partition.remote {
                return Err(format!("partition {} is neither local nor remote", partition.seq));
            }
            if partition.remote && self.remote.is_none() {
                return Err(format!("partition {} is remote, but the manifest names no remote tier", partition.seq));
            }
            if partition.last_offset >= self.sealed_through || partition.first_offset > partition.last_offset {
                return Err(format!(
                    "partition {} holds offsets {}..={} outside the sealed log (sealed_through {})",
                    partition.seq, partition.first_offset, partition.last_offset, self.sealed_through
                ));
            }
        }
        let referenced = self.referenced();
        for file in &self.obsolete {
            if referenced.contains(Path::new(file)) || !is_data_file_name(file) {
                return Err(format!("obsolete file {file:?} is still named by the manifest or is not a store file"));
            }
        }
        for file in &self.obsolete_remote {
            let named_remote = self.partitions.iter().any(|p| p.remote && &p.file == file);
            if named_remote || self.remote.is_none() || !is_data_file_name(file) || !file.starts_with(PARTITION_DIR) {
                return Err(format!(
                    "obsolete remote file {file:?} is still named by the manifest, is not a partition or has no remote tier"
                ));
            }
        }
        if let Some(remote) = &self.remote {
            if remote.is_empty() {
                return Err("remote is empty".into());
            }
        }
        for (idx, name) in self.covering_indexes.iter().enumerate() {
            if !(1..=MAX_INDEX_NAME_LEN).contains(&name.len()) {
                return Err(format!(
                    "covering_indexes[{idx}] is {} bytes long, not 1 to {MAX_INDEX_NAME_LEN}",
                    name.len()
                ));
            }
            if idx > 0 && self.covering_indexes[idx - 1] >= *name {
                return Err(format!("covering_indexes[{idx}] {name:?} is not after the name before it"));
            }
        }
        Ok(())
    }

    /// The recorded time unit (checked when the manifest was parsed).
    pub fn unit(&self) -> Option<TimeUnit> {
        self.time_unit.as_deref().and_then(|unit| unit.parse().ok())
    }

    /// Every live file the manifest names in the store directory, relative to it (partitions that
    /// are only remote are not among them).
    pub fn referenced(&self) -> HashSet<PathBuf> {
        let segments = self.segments.iter().map(|s| PathBuf::from(s.file()));
        let partitions = self.partitions.iter().filter(|p| p.local).map(|p| PathBuf::from(&p.file));
        segments.chain(partitions).collect()
    }

    /// Lists the remote copies of `dropped` partitions (those that have one) for deletion from
    /// the remote tier.
    pub(crate) fn drop_remote<'a>(&mut self, dropped: impl IntoIterator<Item = &'a PartitionMeta>) {
        self.obsolete_remote.extend(dropped.into_iter().filter(|p| p.remote).map(|p| p.file.clone()));
        self.obsolete_remote.sort();
        self.obsolete_remote.dedup();
    }

    /// The sequence number after `seq`, refusing to wrap.
    pub fn seq_after(seq: u64) -> Result<u64> {
        seq.checked_add(1).ok_or(Error::Exhausted { what: "partition sequence numbers" })
    }
}

/// True for a 32-hex-digit store id.
pub fn is_store_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The 16 bytes of a store id, its hex digits in pairs in order (zeros for none).
pub fn store_id_bytes(id: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    if !is_store_id(id) {
        return bytes;
    }
    for (idx, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&id[idx * 2..idx * 2 + 2], 16).unwrap_or(0);
    }
    bytes
}

/// A store id as 32 hex digits: the inverse of [`store_id_bytes`].
pub fn store_id_hex(bytes: &[u8; 16]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new store id: a hash of the time, the process and the directory, unique in practice.
pub fn new_store_id(dir: &Path) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut seed = Vec::new();
    seed.extend_from_slice(&nanos.to_le_bytes());
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    seed.extend_from_slice(dir.as_os_str().as_encoded_bytes());
    let mut id = xxhash_rust::xxh3::xxh3_128(&seed).to_le_bytes();
    id[0] |= 1; // never all zeros, which stands for "no id"
    store_id_hex(&id)
}

/// True for a name the store gives its data files: `log/…​.log` or `partitions/…​.esdb`.
pub fn is_data_file_name(file: &str) -> bool {
    match file.split_once('/') {
        Some((LOG_DIR, name)) => parse_segment_name(name).is_some(),
        Some((PARTITION_DIR, name)) => parse_partition_name(name).is_some(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_round_trip() {
        assert_eq!(parse_segment_name("00000000000000000042.log"), Some(42));
        assert_eq!(parse_segment_name("42.log"), None);
        let file = partition_file(7, -3, 99);
        assert_eq!(parse_partition_name(file.strip_prefix("partitions/").unwrap()), Some((7, -3, Some(99))));
        assert_eq!(parse_partition_name("0000000007-w12.esdb"), Some((7, 12, None)));
        assert_eq!(parse_partition_name(".tmp-0000000007-w12.esdb"), None);
        assert!(is_data_file_name("log/00000000000000000000.log"));
        assert!(!is_data_file_name("MANIFEST"));
    }

    #[test]
    fn a_manifest_round_trips_and_its_claims_are_checked() {
        let manifest = Manifest::new(new_store_id(Path::new("/x")), 10);
        assert_eq!(Manifest::parse(&manifest.to_bytes()).unwrap(), manifest);
        let mut bad = manifest.clone();
        bad.store_id = "nope".into();
        assert!(Manifest::parse(&bad.to_bytes()).unwrap_err().contains("store_id"));
        let mut bad = manifest.clone();
        bad.obsolete.push("log/00000000000000000000.log".into());
        assert!(Manifest::parse(&bad.to_bytes()).unwrap_err().contains("obsolete"));
        assert!(matches!(Manifest::seq_after(u64::MAX), Err(Error::Exhausted { .. })));
        assert_eq!(store_id_hex(&store_id_bytes(&manifest.store_id)), manifest.store_id);
    }
}
