//! `fixtures/v2/invalid/`: files that each break one MUST rule of the format, made by changing
//! a few bytes of a valid fixture and sealing the checksums again, so that only the rule (not a
//! checksum) can catch them. The manifest names the rule, the operation that must fail and the
//! error a reader must give: its field and absolute offset.

use anyhow::{ensure, Result};
use esdb_format::checksum::xxh3;
use esdb_format::v1::frame::TRAILER_LEN;
use esdb_format::v2::footer;
use serde_json::{json, Value};

/// One invalid file.
struct Invalid {
    name: &'static str,
    rule: &'static str,
    base: &'static str,
    bytes: Vec<u8>,
    /// `open`, or the space and grouping a scan of which must fail.
    when: Value,
    field: &'static str,
    offset: u64,
}

/// The payload of one_event.esdb's data block: `hello`.
const ONE_EVENT_DATA_LEN: usize = 5;

fn put_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, value: u64) {
    bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

fn get_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("four bytes"))
}

fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("eight bytes"))
}

/// Offset of the version 2 footer.
fn footer_at(bytes: &[u8]) -> usize {
    bytes.len() - footer::LEN
}

/// Seals the version 2 footer's checksum again.
fn reseal_footer(bytes: &mut [u8]) {
    let at = footer_at(bytes);
    let checksum = xxh3(&bytes[at..at + footer::CHECKSUM_OFFSET]);
    put_u64(bytes, at + footer::CHECKSUM_OFFSET, checksum);
}

/// `bytes` with the footer's u32 at `field` (an offset within the footer) set to `value` and the
/// footer sealed again; also the field's absolute offset.
fn with_footer_u32(mut bytes: Vec<u8>, field: usize, value: u32) -> (Vec<u8>, u64) {
    let at = footer_at(&bytes) + field;
    put_u32(&mut bytes, at, value);
    reseal_footer(&mut bytes);
    (bytes, at as u64)
}

/// Seals the checksum of the block whose payload is `len` bytes at `offset` again.
fn reseal_block(bytes: &mut [u8], offset: usize, len: usize) {
    let covered = offset + len + TRAILER_LEN - 8;
    let checksum = xxh3(&bytes[offset..covered]);
    put_u64(bytes, covered, checksum);
}

/// The metadata block's handle from the footer.
fn metadata_block(bytes: &[u8]) -> (usize, usize) {
    let at = footer_at(bytes);
    (
        get_u64(bytes, at + footer::METADATA_OFFSET_OFFSET) as usize,
        get_u32(bytes, at + footer::METADATA_LEN_OFFSET) as usize,
    )
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn scan(space: &str, grouping: &str) -> Value {
    json!({ "scan": { "space": space, "grouping": grouping } })
}

fn invalid_files(base: &dyn Fn(&str) -> Vec<u8>) -> Result<Vec<Invalid>> {
    let mut out = Vec::new();

    let (bytes, at) = with_footer_u32(base("one_event"), footer::INCOMPATIBLE_OFFSET, 1 << 31);
    out.push(Invalid {
        name: "unknown_incompatible_feature.esdb",
        rule: "A reader MUST refuse a file with an incompatible feature it does not know (here bit 31, which version 2.0 leaves undefined).",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer incompatible features",
        offset: at,
    });

    let (bytes, at) =
        with_footer_u32(base("one_event"), footer::INCOMPATIBLE_OFFSET, esdb_format::v2::features::ZSTD_DICTIONARY);
    out.push(Invalid {
        name: "dictionary_feature_without_dictionary.esdb",
        rule: "A file with the zstd_dictionary feature MUST name its dictionary block in esdb.zstd_dictionary.",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer incompatible features",
        offset: at,
    });

    let (bytes, at) =
        with_footer_u32(base("one_event"), footer::COMPATIBLE_OFFSET, esdb_format::v2::features::COVERING_INDEXES);
    out.push(Invalid {
        name: "covering_feature_without_catalog.esdb",
        rule: "A file with the covering_indexes feature (2.1) MUST locate its covering catalog in esdb.covering; a reader that knows the feature checks it.",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer compatible features",
        offset: at,
    });

    let (bytes, at) =
        with_footer_u32(base("one_event"), footer::COMPATIBLE_OFFSET, esdb_format::v2::features::COVERING_TIMELINE);
    out.push(Invalid {
        name: "covering_timeline_feature_without_catalog.esdb",
        rule: "A file with the covering_timeline feature (2.2) MUST locate its covering-timeline catalog in esdb.covering_timeline; a reader that knows the feature checks it.",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer compatible features",
        offset: at,
    });

    let mut bytes = base("covering_timeline");
    let (offset, len) = metadata_block(&bytes);
    let key = esdb_format::v2::metadata::COVERING_TIMELINE;
    let value = offset + find(&bytes[offset..offset + len], key).expect("the fixture's catalog") + key.len() + 1;
    // The root's offset, a varint of two bytes in this small file, becomes 128: still two bytes,
    // and before the tail region.
    ensure!(bytes[value] & 0x80 != 0 && bytes[value + 1] & 0x80 == 0, "a two-byte root offset");
    bytes[value..value + 2].copy_from_slice(&[0x80, 0x01]);
    reseal_block(&mut bytes, offset, len);
    out.push(Invalid {
        name: "covering_timeline_root_outside_tail.esdb",
        rule: "The covering-timeline catalog's root block MUST lie in the tail region, like the main catalog's.",
        base: "covering_timeline.esdb",
        bytes,
        when: json!("open"),
        field: "metadata esdb.covering_timeline root",
        offset: offset as u64,
    });

    let mut bytes = base("many_blocks");
    let at = footer_at(&bytes);
    let root = get_u64(&bytes, at + footer::ROOT_OFFSET_OFFSET);
    put_u64(&mut bytes, at + footer::TAIL_OFFSET_OFFSET, root + 1);
    reseal_footer(&mut bytes);
    out.push(Invalid {
        name: "root_outside_tail.esdb",
        rule: "The catalog root block MUST lie in the tail region, between tail_offset and the footer.",
        base: "many_blocks.esdb",
        bytes,
        when: json!("open"),
        field: "footer catalog root",
        offset: (at + footer::ROOT_OFFSET_OFFSET) as u64,
    });

    let mut bytes = base("one_event");
    let at = footer_at(&bytes);
    put_u64(&mut bytes, at + footer::TAIL_OFFSET_OFFSET, at as u64 + 1);
    reseal_footer(&mut bytes);
    out.push(Invalid {
        name: "tail_offset_past_footer.esdb",
        rule: "tail_offset MUST lie between the end of the header and the start of the footer.",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer tail offset",
        offset: (at + footer::TAIL_OFFSET_OFFSET) as u64,
    });

    let mut bytes = base("one_event");
    let at = footer_at(&bytes);
    // The data block: a block before the tail region.
    let (offset, len) = (24, ONE_EVENT_DATA_LEN);
    ensure!(get_u32(&bytes, offset + len + 1) == len as u32, "one_event's data block is where expected");
    put_u64(&mut bytes, at + footer::METADATA_OFFSET_OFFSET, offset as u64);
    put_u32(&mut bytes, at + footer::METADATA_LEN_OFFSET, len as u32);
    reseal_footer(&mut bytes);
    out.push(Invalid {
        name: "metadata_outside_tail.esdb",
        rule: "The metadata block MUST lie in the tail region.",
        base: "one_event.esdb",
        bytes,
        when: json!("open"),
        field: "footer metadata",
        offset: (at + footer::METADATA_LEN_OFFSET) as u64,
    });

    let mut bytes = base("metadata");
    let (offset, len) = metadata_block(&bytes);
    let key = offset + find(&bytes[offset..offset + len], b"\x09app.owner").expect("the fixture's key");
    bytes[key + 1..key + 4].copy_from_slice(b"aaa");
    reseal_block(&mut bytes, offset, len);
    out.push(Invalid {
        name: "metadata_keys_out_of_order.esdb",
        rule: "Metadata keys MUST strictly increase (here `aaa.owner` follows `app.\\u0000binary`).",
        base: "metadata.esdb",
        bytes,
        when: json!("open"),
        field: "metadata key",
        offset: key as u64,
    });

    let mut bytes = base("zstd");
    let (offset, len) = metadata_block(&bytes);
    let value = offset + find(&bytes[offset..offset + len], b"esdb.time_unit\x02ms").expect("the fixture's unit") + 14;
    bytes[value + 2] = b'n';
    reseal_block(&mut bytes, offset, len);
    out.push(Invalid {
        name: "unknown_time_unit.esdb",
        rule: "The value of esdb.time_unit MUST be one of s, ms, us, ns (here `mn`): a reader MUST NOT guess a unit.",
        base: "zstd.esdb",
        bytes,
        when: json!("open"),
        field: "metadata esdb.time_unit",
        offset: value as u64,
    });

    let mut bytes = base("one_event");
    // The data block: the event's 5 bytes right after the header (a version 2 block of one event
    // is its data alone).
    let trailer = 24 + ONE_EVENT_DATA_LEN;
    ensure!(
        bytes[trailer] == 0 && get_u32(&bytes, trailer + 1) == ONE_EVENT_DATA_LEN as u32,
        "one_event's data block is where expected"
    );
    bytes[trailer] = 9;
    reseal_block(&mut bytes, 24, ONE_EVENT_DATA_LEN);
    out.push(Invalid {
        name: "unknown_codec.esdb",
        rule: "A block's codec MUST be one the file's version defines (0, 1 or 2 in version 2; here 9).",
        base: "one_event.esdb",
        bytes,
        when: scan("s", ""),
        field: "block codec",
        offset: trailer as u64,
    });

    let mut bytes = base("large_payloads");
    // Two blocks in one grouping: the block index comes first, at 24, then the blocks.
    let index_len = get_u32(&bytes, 24 + 2 * 28 + 1) as usize;
    ensure!(index_len == 2 * 28, "large_payloads starts with its block index");
    let first = get_u64(&bytes, 24 + 16) as usize;
    let first_len = get_u32(&bytes, 24 + 24) as usize;
    ensure!(first == 24 + index_len + TRAILER_LEN, "the first data block follows its index");
    let at = footer_at(&bytes);
    put_u32(&mut bytes, at + footer::MAX_BLOCK_LEN_OFFSET, 4096);
    reseal_footer(&mut bytes);
    out.push(Invalid {
        name: "block_above_max_block_len.esdb",
        rule: "A block's raw_len MUST NOT exceed the footer's max_block_len; a reader checks before it allocates.",
        base: "large_payloads.esdb",
        bytes,
        when: scan("big", ""),
        field: "block raw length",
        offset: (first + first_len + 1) as u64,
    });

    let mut bytes = std::fs::read(crate::root().join("fixtures/v1/one_event.esdb"))?;
    // Version 1 stores the event with its block header: 9 bytes.
    let trailer = 24 + 9;
    ensure!(bytes[trailer] == 0, "v1 one_event's data block is where expected");
    bytes[trailer] = 2;
    reseal_block(&mut bytes, 24, 9);
    out.push(Invalid {
        name: "zstd_in_version_1.esdb",
        rule: "Codec 2 (zstd) exists from version 2 on: a version 1 file MUST NOT use it.",
        base: "../../v1/one_event.esdb",
        bytes,
        when: scan("s", ""),
        field: "block codec",
        offset: trailer as u64,
    });
    Ok(out)
}

/// The invalid files and their manifest, named as in `fixtures/v2/invalid/`.
pub(crate) fn generate(base: &dyn Fn(&str) -> Vec<u8>) -> Result<Vec<(String, Vec<u8>)>> {
    let invalid = invalid_files(base)?;
    let entries: Vec<Value> = invalid
        .iter()
        .map(|file| {
            json!({
                "file": file.name,
                "made_from": file.base,
                "rule": file.rule,
                "fails_on": file.when,
                "error": { "field": file.field, "offset": file.offset },
            })
        })
        .collect();
    let manifest = json!({
        "format_version": "2.0",
        "about": "ESDB v2 files that each break one MUST rule of docs/FORMAT.md, made from a valid fixture with its checksums sealed again. `fails_on` is `open` (opening the file must fail) or a scan of one grouping of one space (which must fail when read). `error` is the field and absolute file offset the reader's error must name.",
        "files": entries,
    });
    let mut files: Vec<(String, Vec<u8>)> =
        invalid.into_iter().map(|file| (file.name.to_owned(), file.bytes)).collect();
    files.push(("manifest.json".into(), (serde_json::to_string_pretty(&manifest)? + "\n").into_bytes()));
    Ok(files)
}
