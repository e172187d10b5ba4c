//! The golden files in `fixtures/v1/` and `fixtures/v2/` read back as their manifests say, and
//! the writer still produces the version 2 files byte for byte: the compatibility contract for
//! ports and future versions. (Version 1 files are frozen: `cargo xtask fixtures --check` checks
//! their hashes.)

use std::path::{Path, PathBuf};

use esdb_format::v1::catalog::{decode_child, CatalogBlock, GroupingEntry, IndexValueEntry, SpaceSummary};
use esdb_format::v1::key::CatalogKey;
use esdb_read::Db;
use esdb_write::{Compression, WriterOptions};
use serde_json::Value;

use crate::common::{all_queries, collect, open_bytes, run_query, write_file, TestEvent};

fn fixtures_dir(version: u16) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fixtures/v{version}"))
}

fn bytes_of(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) => {
            let hex = map["hex"].as_str().expect("hex string");
            (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits")).collect()
        }
        other => panic!("not a byte string: {other}"),
    }
}

pub struct Golden {
    pub file: String,
    pub bytes: Vec<u8>,
    pub events: Vec<TestEvent>,
    pub options: WriterOptions,
}

/// Every fixture of the current version (2) with its manifest entry.
pub fn goldens() -> Vec<Golden> {
    goldens_of(2)
}

/// Every fixture of format `version` with its manifest entry.
pub fn goldens_of(version: u16) -> Vec<Golden> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir(version).join("manifest.json")).unwrap()).unwrap();
    manifest["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let file = entry["file"].as_str().unwrap().to_owned();
            let options = &entry["writer_options"];
            let options = WriterOptions::default()
                .with_block_size(options["block_size"].as_u64().unwrap() as usize)
                .with_postings_per_block(options["postings_per_block"].as_u64().unwrap() as usize)
                .with_catalog_block_size(options["catalog_block_size"].as_u64().unwrap() as usize)
                .with_compression(match options["compression"].as_str().unwrap() {
                    "none" => Compression::None,
                    "lz4" => Compression::Lz4,
                    "zstd" => Compression::Zstd { level: options["zstd_level"].as_i64().unwrap() as i32 },
                    other => panic!("unknown compression {other}"),
                })
                .with_time_unit(options.get("time_unit").and_then(Value::as_str).map(|unit| unit.parse().unwrap()))
                .with_zstd_dictionary(options.get("zstd_dictionary").and_then(Value::as_u64).unwrap_or(0) as usize)
                .with_metadata(
                    options
                        .get("metadata")
                        .and_then(Value::as_array)
                        .map(|pairs| {
                            pairs.iter().map(|pair| (bytes_of(&pair[0]), bytes_of(&pair[1]))).collect::<Vec<_>>()
                        })
                        .unwrap_or_default(),
                )
                .with_covering_indexes(
                    options
                        .get("covering_indexes")
                        .and_then(Value::as_array)
                        .map(|names| names.iter().map(bytes_of).collect::<Vec<_>>())
                        .unwrap_or_default(),
                )
                .with_covering_timeline(options.get("covering_timeline").and_then(Value::as_bool).unwrap_or(false));
            let events = entry["events_in_insertion_order"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| TestEvent {
                    space: bytes_of(&e["space"]),
                    ts: e["timestamp"].as_i64().unwrap(),
                    grouping: bytes_of(&e["grouping"]),
                    indexes: e["indexes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|pair| (bytes_of(&pair[0]), bytes_of(&pair[1])))
                        .collect(),
                    data: bytes_of(&e["data"]),
                })
                .collect();
            let bytes = std::fs::read(fixtures_dir(version).join(&file)).unwrap();
            assert_eq!(bytes.len() as u64, entry["file_len"].as_u64().unwrap(), "{file}");
            Golden { file, bytes, events, options }
        })
        .collect()
}

#[test]
fn every_golden_file_reads_as_its_manifest_says() {
    for version in [1, 2] {
        let goldens = goldens_of(version);
        assert!(goldens.len() >= 7);
        for golden in goldens {
            check_golden(&golden);
            let db = open_bytes(golden.bytes.clone());
            assert_eq!(db.header().major, version, "{}", golden.file);
            if version == 2 {
                assert_eq!(db.time_unit(), golden.options.time_unit, "{}", golden.file);
                for (key, value) in &golden.options.metadata {
                    assert_eq!(db.metadata().get(key), Some(&value[..]), "{}", golden.file);
                }
                assert_eq!(db.metadata().writer(), Some("esdb-write (golden fixtures)"), "{}", golden.file);
                let mut names: Vec<Vec<u8>> =
                    golden.events.iter().flat_map(|e| e.indexes.iter().map(|(name, _)| name.clone())).collect();
                names.sort();
                names.dedup();
                let listed: Vec<Vec<u8>> = db.index_names().unwrap().iter().map(|n| n.to_vec()).collect();
                assert_eq!(listed, names, "{}", golden.file);
                let covered: Vec<Vec<u8>> = db.covering_index_names().iter().map(|n| n.to_vec()).collect();
                assert_eq!(covered, golden.options.covering_indexes, "{}", golden.file);
                assert_eq!(db.covers_timeline(), golden.options.covering_timeline, "{}", golden.file);
                let minor = match (golden.options.covering_timeline, covered.is_empty()) {
                    (true, _) => 2,
                    (false, false) => 1,
                    (false, true) => 0,
                };
                assert_eq!((db.header().minor, db.footer().minor), (minor, minor), "{}", golden.file);
            } else {
                assert!(db.metadata().is_empty() && db.index_names().is_none(), "{}", golden.file);
            }
        }
    }
}

fn check_golden(golden: &Golden) {
    {
        let db = open_bytes(golden.bytes.clone());
        assert_eq!(db.len(), golden.events.len() as u64, "{}", golden.file);
        assert!(db.verify().is_ok(), "{}: {:?}", golden.file, db.verify().problems);
        for (label, space, kind, want) in all_queries(&golden.events) {
            let space = db.space(&space).unwrap().unwrap_or_else(|| panic!("{}: {label}: missing space", golden.file));
            assert_eq!(collect(run_query(&space, &kind).unwrap()), want, "{}: {label}", golden.file);
            let mut reversed = want.clone();
            reversed.reverse();
            assert_eq!(collect(run_query(&space, &kind).unwrap().rev()), reversed, "{}: {label} reversed", golden.file);
        }
    }
}

#[test]
fn the_writer_reproduces_every_golden_file_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    for golden in goldens() {
        let written = write_file(dir.path(), &golden.file, &golden.events, golden.options.clone());
        assert!(
            written == golden.bytes,
            "{}: the writer no longer produces the golden file; run `cargo xtask fixtures --check`",
            golden.file
        );
    }
}

#[test]
fn many_blocks_fixture_has_a_catalog_tree_of_several_levels() {
    for version in [1, 2] {
        let bytes = std::fs::read(fixtures_dir(version).join("many_blocks.esdb")).unwrap();
        let db = open_bytes(bytes);
        assert!(db.footer().catalog_height >= 3, "height {}", db.footer().catalog_height);
    }
}

/// In version 2 files, the catalog's upper levels and the metadata block sit in the tail region,
/// and a stream's block index right before its first block.
#[test]
fn version_2_layout_puts_what_a_lookup_needs_together() {
    let golden = goldens().into_iter().find(|g| g.file == "many_blocks.esdb").unwrap();
    let db = open_bytes(golden.bytes.clone());
    let footer = db.footer();
    assert!(footer.catalog_root.offset >= footer.tail_offset);
    assert!(footer.metadata.unwrap().offset >= footer.tail_offset);
    assert!(golden.bytes.len() as u64 - footer.tail_offset < esdb_format::v2::SUFFIX_READ_LEN);
    // Every interior block is in the tail; every leaf before it. Every multi-block stream's
    // block index ends where its first block starts.
    let mut stack = vec![(footer.catalog_root, footer.catalog_height - 1)];
    let (mut n_leaves, mut n_indexed_streams) = (0, 0);
    while let Some((handle, level)) = stack.pop() {
        let payload = db.raw_block(handle, "catalog").unwrap();
        let block = CatalogBlock::decode(&payload, handle.offset).unwrap();
        if level > 0 {
            assert!(handle.offset >= footer.tail_offset, "interior block at {}", handle.offset);
            for idx in 0..block.len() {
                let (_, value, at) = block.entry(idx).unwrap();
                stack.push((decode_child(value, at).unwrap(), level - 1));
            }
            continue;
        }
        n_leaves += 1;
        assert!(handle.offset < footer.tail_offset);
        for idx in 0..block.len() {
            let (key, value, at) = block.entry(idx).unwrap();
            let stream = match CatalogKey::decode(key, at).unwrap() {
                CatalogKey::Grouping { .. } => GroupingEntry::decode(value, at).unwrap().stream,
                CatalogKey::IndexValue { .. } => IndexValueEntry::decode(value, at).unwrap().stream,
                CatalogKey::Space { .. } => continue,
            };
            if stream.n_blocks > 1 {
                n_indexed_streams += 1;
                let index = db.raw_block(stream.handle, "block index").unwrap();
                let index =
                    esdb_format::v1::block_index::BlockIndex::decode(&index, stream.handle.offset, stream.n_blocks)
                        .unwrap();
                assert_eq!(index.entry(0).block.offset, stream.handle.end());
            }
        }
    }
    assert!(n_leaves > 1 && n_indexed_streams > 10, "{n_leaves} leaves, {n_indexed_streams} indexed streams");
}

/// A readable listing of a file's footer and catalog, decoded with `esdb-format` alone.
fn describe(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let db = Db::from_bytes(bytes.to_vec().into()).unwrap();
    let mut out = format!("{:#?}\n{:#?}\n", db.header(), db.footer());
    let mut stack = vec![(db.footer().catalog_root, db.footer().catalog_height - 1)];
    let mut leaves = Vec::new();
    while let Some((handle, level)) = stack.pop() {
        let payload = esdb_format::v1::frame::open(
            &bytes[handle.offset as usize..handle.end() as usize],
            handle.offset,
            esdb_format::v1::frame::FrameLimits::v2(u32::MAX),
            "catalog",
        )
        .unwrap();
        let block = CatalogBlock::decode(&payload, handle.offset).unwrap();
        assert_eq!(u32::from(block.level()), level);
        let mut children = Vec::new();
        for idx in 0..block.len() {
            let (key, value, at) = block.entry(idx).unwrap();
            if level > 0 {
                children.push((decode_child(value, at).unwrap(), level - 1));
            } else {
                leaves.push((key.to_vec(), value.to_vec(), at));
            }
        }
        stack.extend(children.into_iter().rev());
    }
    for (key, value, at) in leaves {
        let key = CatalogKey::decode(&key, at).unwrap();
        let value = match &key {
            CatalogKey::Space { .. } => format!("{:?}", SpaceSummary::decode(&value, at).unwrap()),
            CatalogKey::Grouping { .. } => format!("{:?}", GroupingEntry::decode(&value, at).unwrap()),
            CatalogKey::IndexValue { .. } => format!("{:?}", IndexValueEntry::decode(&value, at).unwrap()),
        };
        writeln!(out, "@{at} {key:?}\n    {value}").unwrap();
    }
    out
}

#[test]
fn decoded_structure_of_the_activity_fixture() {
    let bytes = std::fs::read(fixtures_dir(2).join("activity.esdb")).unwrap();
    insta::assert_snapshot!(describe(&bytes));
}

#[test]
fn decoded_structure_of_the_edge_cases_fixture() {
    let bytes = std::fs::read(fixtures_dir(2).join("edge_cases.esdb")).unwrap();
    insta::assert_snapshot!(describe(&bytes));
}

/// The field an error names, for comparing with the invalid files' manifest.
fn field_of(err: &esdb_read::DecodeError) -> &'static str {
    use esdb_read::DecodeError as E;
    match err {
        E::BadMagic { section, .. } | E::UnsupportedVersion { section, .. } | E::ChecksumMismatch { section, .. } => {
            section
        }
        E::Truncated { field, .. } | E::Invalid { field, .. } => field,
        E::TrailingBytes { section, .. } => section,
        _ => "unknown",
    }
}

/// Every file of `fixtures/v2/invalid/` fails where its manifest says, with the field and offset
/// it names.
#[test]
fn every_invalid_file_fails_with_the_error_its_manifest_names() {
    let dir = fixtures_dir(2).join("invalid");
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert!(files.len() >= 9);
    for entry in files {
        let file = entry["file"].as_str().unwrap();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let result = Db::from_bytes(bytes.into()).and_then(|db| match &entry["fails_on"] {
            Value::String(open) if open == "open" => Ok(()),
            Value::Object(how) => {
                let scan = &how["scan"];
                let space = db.space(scan["space"].as_str().unwrap())?.expect("the space exists");
                space.scan(scan["grouping"].as_str().unwrap())?.try_for_each(|event| event.map(drop))
            }
            other => panic!("{file}: unknown fails_on {other}"),
        });
        let err = result.expect_err(file);
        let decode = err.as_decode().unwrap_or_else(|| panic!("{file}: {err}"));
        assert_eq!(field_of(decode), entry["error"]["field"].as_str().unwrap(), "{file}: {decode}");
        assert_eq!(decode.offset(), entry["error"]["offset"].as_u64().unwrap(), "{file}: {decode}");
    }
}
