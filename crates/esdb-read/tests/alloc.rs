//! Allocation bound: files whose lengths and counts claim gigabytes make no allocation larger
//! than the largest legal block. A counting global allocator records the largest single
//! allocation while each hostile file is opened, queried and verified.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use esdb_format::checksum::xxh3;
use esdb_format::v1::catalog::{CatalogBlock, GroupingEntry, SpaceSummary};
use esdb_format::v1::footer::{self, Footer};
use esdb_format::v1::frame::{Handle, TRAILER_LEN};
use esdb_format::v1::key::CatalogKey;
use esdb_format::v1::MAX_BLOCK_LEN;
use esdb_read::Db;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; it only records sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same layout, as the caller of `alloc` guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The largest allocation reading a file may make: a decoded data block's spans (65536 × 16
/// bytes) plus slack; every file here is a few hundred bytes.
const LIMIT: usize = 2 << 20;

fn exercise(bytes: Vec<u8>) -> usize {
    LARGEST.store(0, Ordering::SeqCst);
    if let Ok(db) = Db::from_bytes(bytes.into()) {
        let _ = db.verify();
        for space in db.spaces().flatten() {
            let _ = space.events().map(|scan| scan.count());
            let _ = space.events().map(|scan| scan.rev().count());
            let _ = space.records().map(|records| records.count());
            for name in space.index_names().flatten() {
                for value in space.index_values(&name).flatten() {
                    let _ = space.scan_index(&name, &value.value).map(|scan| scan.count());
                }
            }
        }
    }
    LARGEST.load(Ordering::SeqCst)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/../../fixtures/v1/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Recomputes the checksum of the block at `handle` after its bytes were edited.
fn reseal(bytes: &mut [u8], handle: Handle) {
    let end = (handle.offset + u64::from(handle.len)) as usize;
    let checksum = xxh3(&bytes[handle.offset as usize..end + 5]);
    bytes[end + 5..end + TRAILER_LEN].copy_from_slice(&checksum.to_le_bytes());
}

fn reseal_footer(bytes: &mut [u8]) {
    let at = bytes.len() - footer::LEN;
    let checksum = xxh3(&bytes[at..at + footer::CHECKSUM_OFFSET]);
    bytes[at + footer::CHECKSUM_OFFSET..].copy_from_slice(&checksum.to_le_bytes());
}

struct Layout1 {
    footer: Footer,
    data: Handle,
    grouping_table: Handle,
}

/// Where the blocks of the one-event fixture are.
fn layout(bytes: &[u8]) -> Layout1 {
    let footer = Footer::decode(&bytes[bytes.len() - footer::LEN..], bytes.len() as u64).unwrap();
    let root = footer.catalog_root;
    let block =
        CatalogBlock::decode(&bytes[root.offset as usize..(root.offset + u64::from(root.len)) as usize], root.offset)
            .unwrap();
    let (mut data, mut grouping_table) = (None, None);
    for idx in 0..block.len() {
        let (key, value, at) = block.entry(idx).unwrap();
        match CatalogKey::decode(key, at).unwrap() {
            CatalogKey::Grouping { .. } => data = Some(GroupingEntry::decode(value, at).unwrap().stream.handle),
            CatalogKey::Space { .. } => grouping_table = Some(SpaceSummary::decode(value, at).unwrap().grouping_table),
            CatalogKey::IndexValue { .. } => {}
        }
    }
    Layout1 { footer, data: data.unwrap(), grouping_table: grouping_table.unwrap() }
}

#[test]
fn lengths_that_claim_gigabytes_allocate_nothing_large() {
    let clean = fixture("one_event.esdb");
    let layout = layout(&clean);
    let footer_at = clean.len() - footer::LEN;
    assert!(exercise(clean.clone()) < LIMIT);

    // 1. An LZ4 block claiming to expand to 1 GiB, in a file whose footer allows 1 GiB blocks.
    let mut bytes = clean.clone();
    let trailer = (layout.data.offset + u64::from(layout.data.len)) as usize;
    bytes[trailer] = 1;
    bytes[trailer + 1..trailer + 5].copy_from_slice(&(1u32 << 30).to_le_bytes());
    reseal(&mut bytes, layout.data);
    bytes[footer_at + footer::MAX_BLOCK_LEN_OFFSET..footer_at + footer::FLAGS_OFFSET]
        .copy_from_slice(&MAX_BLOCK_LEN.to_le_bytes());
    reseal_footer(&mut bytes);
    let largest = exercise(bytes);
    assert!(largest < LIMIT, "LZ4 bomb: allocated {largest} bytes");

    // 2. A data block claiming 2^63 events.
    let mut bytes = clean.clone();
    let start = layout.data.offset as usize;
    let claim = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f];
    bytes[start..start + claim.len().min(layout.data.len as usize)]
        .copy_from_slice(&claim[..claim.len().min(layout.data.len as usize)]);
    reseal(&mut bytes, layout.data);
    let largest = exercise(bytes);
    assert!(largest < LIMIT, "event count: allocated {largest} bytes");

    // 3. A grouping table entry claiming 2^40 blocks of 2^40 events.
    let mut bytes = clean.clone();
    let entry = layout.grouping_table.offset as usize;
    bytes[entry + 8..entry + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
    bytes[entry + 36..entry + 44].copy_from_slice(&(1u64 << 40).to_le_bytes());
    reseal(&mut bytes, layout.grouping_table);
    let largest = exercise(bytes);
    assert!(largest < LIMIT, "grouping table: allocated {largest} bytes");

    // 4. A catalog root claiming 2^32 - 1 entries.
    let mut bytes = clean.clone();
    let root = layout.footer.catalog_root;
    let tail = (root.offset + u64::from(root.len)) as usize - 5;
    bytes[tail..tail + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    reseal(&mut bytes, root);
    let largest = exercise(bytes);
    assert!(largest < LIMIT, "catalog entries: allocated {largest} bytes");
}

#[test]
fn random_damage_allocates_nothing_large() {
    let clean = fixture("many_blocks.esdb");
    let limit = LIMIT + clean.len();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let mut bytes = clean.clone();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let pos = (state % bytes.len() as u64) as usize;
            bytes[pos] = (state >> 32) as u8;
        }
        let largest = exercise(bytes);
        assert!(largest < limit, "allocated {largest} bytes");
    }
}
