//! The golden files in `fixtures/v1/` read back as their manifest says, and the writer still
//! produces them byte for byte: the compatibility contract for ports and future versions.

use std::path::{Path, PathBuf};

use esdb_format::v1::catalog::{decode_child, CatalogBlock, GroupingEntry, IndexValueEntry, SpaceSummary};
use esdb_format::v1::key::CatalogKey;
use esdb_read::Db;
use esdb_write::{Compression, WriterOptions};
use serde_json::Value;

use crate::common::{all_queries, collect, open_bytes, run_query, write_file, TestEvent};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v1")
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

/// Every fixture with its manifest entry.
pub fn goldens() -> Vec<Golden> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixtures_dir().join("manifest.json")).unwrap()).unwrap();
    manifest["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let file = entry["file"].as_str().unwrap().to_owned();
            let options = &entry["writer_options"];
            let options = WriterOptions {
                block_size: options["block_size"].as_u64().unwrap() as usize,
                postings_per_block: options["postings_per_block"].as_u64().unwrap() as usize,
                catalog_block_size: options["catalog_block_size"].as_u64().unwrap() as usize,
                compression: if options["compression"] == "none" { Compression::None } else { Compression::Lz4 },
                ..Default::default()
            };
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
            let bytes = std::fs::read(fixtures_dir().join(&file)).unwrap();
            assert_eq!(bytes.len() as u64, entry["file_len"].as_u64().unwrap(), "{file}");
            Golden { file, bytes, events, options }
        })
        .collect()
}

#[test]
fn every_golden_file_reads_as_its_manifest_says() {
    let goldens = goldens();
    assert!(goldens.len() >= 7);
    for golden in goldens {
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
    let bytes = std::fs::read(fixtures_dir().join("many_blocks.esdb")).unwrap();
    let db = open_bytes(bytes);
    assert!(db.footer().catalog_height >= 3, "height {}", db.footer().catalog_height);
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
            u32::MAX,
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
    let bytes = std::fs::read(fixtures_dir().join("activity.esdb")).unwrap();
    insta::assert_snapshot!(describe(&bytes));
}

#[test]
fn decoded_structure_of_the_edge_cases_fixture() {
    let bytes = std::fs::read(fixtures_dir().join("edge_cases.esdb")).unwrap();
    insta::assert_snapshot!(describe(&bytes));
}
