//! The catalog tree whatever its keys: keys longer than a catalog block, and more leaves than the
//! smallest fan-out reaches within the height a reader accepts.

use esdb_read::Db;
use esdb_write::{Writer, WriterOptions};

fn write_and_read(n_spaces: usize, id_len: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.esdb");
    let ids: Vec<String> = (0..n_spaces).map(|i| format!("{i:0id_len$}")).collect();
    let mut writer = Writer::create_with(&path, WriterOptions::default().with_catalog_block_size(64)).unwrap();
    for (i, id) in ids.iter().enumerate() {
        writer.add(id, i as i64, "", [("k", "v")], "x").unwrap();
    }
    writer.finish().unwrap();
    let db = Db::open(&path).unwrap();
    assert!(db.footer().catalog_height <= esdb_format::v1::MAX_CATALOG_HEIGHT);
    assert_eq!(db.len(), n_spaces as u64);
    for id in ids.iter().step_by(97) {
        let space = db.space(id).unwrap().unwrap_or_else(|| panic!("space {id} is found"));
        assert_eq!(space.events().unwrap().count(), 1);
    }
    assert_eq!(db.spaces().count(), n_spaces);
    let report = db.verify();
    assert!(report.is_ok(), "{report:?}");
}

#[test]
fn keys_longer_than_a_catalog_block_still_make_a_tree() {
    // Every interior entry outgrows the 64-byte block: one child per block would never end.
    write_and_read(300, 100);
}

#[test]
fn more_leaves_than_the_smallest_fan_out_covers_go_under_one_root() {
    // Two children per interior block reach 2^15 leaves in the 16 levels a reader accepts.
    write_and_read(40_000, 80);
}
