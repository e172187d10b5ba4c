//! export → import round trips, and merge equals one import of the concatenated inputs.

use crate::common::{fixture, visits_jsonl, Scratch};

#[test]
fn export_import_export_is_identical_for_every_golden_file() {
    let s = Scratch::new();
    for name in [
        "activity.esdb",
        "edge_cases.esdb",
        "many_blocks.esdb",
        "large_payloads.esdb",
        "uncompressed.esdb",
        "empty.esdb",
        "one_event.esdb",
    ] {
        let path = fixture(name);
        let path = path.to_str().unwrap();
        let dump = s.ok(&["export", path]);
        let dump_path = s.write(&format!("{name}.jsonl"), &dump);
        let copy = s.path(&format!("copy-{name}"));
        s.ok(&[
            "import",
            dump_path.to_str().unwrap(),
            "-o",
            copy.to_str().unwrap(),
            "--input-format",
            "esdb-jsonl",
            "--quiet",
        ]);
        assert_eq!(s.ok(&["export", copy.to_str().unwrap()]), dump, "{name}");
    }
}

#[test]
fn export_writes_non_utf8_as_base64_and_to_a_file() {
    let s = Scratch::new();
    s.ok(&["export", fixture("edge_cases.esdb").to_str().unwrap(), "-o", "dump.jsonl"]);
    let dump = std::fs::read_to_string(s.path("dump.jsonl")).unwrap();
    assert!(dump.contains("\"space_b64\":\"//4=\""), "{dump}");
    assert!(dump.contains("\"data_b64\":"), "{dump}");
    assert!(dump.contains("\"timestamp\":-9223372036854775808"), "{dump}");
    let err = s.fails(&["export", fixture("edge_cases.esdb").to_str().unwrap(), "-o", "dump.jsonl"], 1);
    assert!(err.contains("dump.jsonl"), "{err}");
}

#[test]
fn merge_equals_one_import_of_the_concatenated_inputs() {
    let s = Scratch::new();
    let parts: Vec<String> = (0..3).map(|i| visits_jsonl(200 + i * 50, i)).collect();
    let fields = [
        "--space",
        "visitor",
        "--timestamp",
        "at",
        "--grouping",
        "host",
        "--index",
        "city",
        "--index",
        "tags",
        "--quiet",
    ];
    for (i, part) in parts.iter().enumerate() {
        s.write(&format!("p{i}.jsonl"), part);
        let mut args = vec!["import".to_owned(), format!("p{i}.jsonl"), "-o".into(), format!("p{i}.esdb")];
        args.extend(fields.iter().map(|f| f.to_string()));
        s.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    s.write("all.jsonl", parts.concat());
    let mut args = vec!["import", "all.jsonl", "-o", "all.esdb"];
    args.extend_from_slice(&fields);
    s.ok(&args);
    s.ok(&["merge", "-o", "merged.esdb", "p0.esdb", "p1.esdb", "p2.esdb", "--quiet"]);
    assert_eq!(s.ok(&["export", "merged.esdb"]), s.ok(&["export", "all.esdb"]));
    // The writer is deterministic: the same events give the same file, up to the metadata
    // (`esdb.import` records how the import read its input; a merge has no such input).
    let merged = std::fs::read(s.path("merged.esdb")).unwrap();
    let all = std::fs::read(s.path("all.esdb")).unwrap();
    let tail = |bytes: &[u8]| {
        let footer = &bytes[bytes.len() - esdb_format::v2::footer::LEN..];
        u64::from_le_bytes(footer[72..80].try_into().unwrap()) as usize
    };
    assert_eq!(tail(&merged), tail(&all));
    assert_eq!(merged[..tail(&merged)], all[..tail(&all)]);
}

#[test]
fn merge_keeps_input_order_for_equal_timestamps() {
    let s = Scratch::new();
    s.write("a.csv", "id,ts,n\nx,5,first\n");
    s.write("b.csv", "id,ts,n\nx,5,second\n");
    s.ok(&["import", "a.csv", "-o", "a.esdb", "--space", "id", "--timestamp", "ts", "--data", "n", "--quiet"]);
    s.ok(&["import", "b.csv", "-o", "b.esdb", "--space", "id", "--timestamp", "ts", "--data", "n", "--quiet"]);
    s.ok(&["merge", "-o", "ab.esdb", "a.esdb", "b.esdb", "--quiet"]);
    s.ok(&["merge", "-o", "ba.esdb", "b.esdb", "a.esdb", "--quiet"]);
    assert_eq!(s.ok(&["scan", "ab.esdb", "x", "--format", "data"]), "first\nsecond\n");
    assert_eq!(s.ok(&["scan", "ba.esdb", "x", "--format", "data"]), "second\nfirst\n");
}
