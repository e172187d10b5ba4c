//! Helpers shared by the store tests.

use std::time::Duration;

use esdb_store::{Durability, StoreOptions};

/// Options that make every code path run on small data: tiny segments, a short fsync interval,
/// no automatic seals (tests seal explicitly) and a small dedupe window.
pub fn small_options(durability: Durability) -> StoreOptions {
    StoreOptions::default()
        .with_durability(durability)
        .with_segment_bytes(4096)
        .with_partition_window(Some(10))
        .with_seal_after_bytes(None)
        .with_seal_after_age(None)
        .with_dedupe_window(5)
}

/// Buffered with a 5 ms interval.
pub fn buffered() -> Durability {
    Durability::Buffered { interval: Duration::from_millis(5) }
}

/// Collects a scan's timestamps and data.
pub fn collect(scan: impl Iterator<Item = esdb_store::Result<esdb_store::Event>>) -> Vec<(i64, Vec<u8>)> {
    scan.map(|event| event.map(|e| (e.timestamp(), e.data().to_vec()))).collect::<Result<_, _>>().expect("scan")
}
