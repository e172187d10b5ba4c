//! Bad input: clear errors with line numbers, the right exit codes, and no output left behind.

use crate::common::{fixture, Scratch, ACTIVITY_CSV};

fn import_fails(s: &Scratch, input: &str, contents: &str, extra: &[&str]) -> String {
    s.write(input, contents);
    let mut args = vec!["import", input, "-o", "out.esdb"];
    args.extend_from_slice(extra);
    let err = s.fails(&args, 1);
    assert!(!s.path("out.esdb").exists(), "a failed import left out.esdb behind");
    assert!(s.files().iter().all(|f| !f.contains(".tmp")), "temporary files left: {:?}", s.files());
    assert!(err.starts_with("esdb: error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

const CSV_FIELDS: &[&str] = &["--space", "customer", "--timestamp", "ts"];

#[test]
fn bad_timestamp_names_line_and_field() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.csv", "customer,ts\n1,5\n2,soon\n", CSV_FIELDS);
    assert!(err.contains("line 3") && err.contains("\"ts\"") && err.contains("soon"), "{err}");
}

#[test]
fn missing_field_names_line_and_field() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.jsonl", "{\"customer\":\"1\",\"ts\":5}\n{\"ts\":6}\n", CSV_FIELDS);
    assert!(err.contains("line 2") && err.contains("missing field \"customer\""), "{err}");
}

#[test]
fn missing_column_is_reported_against_the_header() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.csv", "customer,time\n1,5\n", CSV_FIELDS);
    assert!(err.contains("line 1") && err.contains("\"ts\" is not a column"), "{err}");
}

#[test]
fn bad_csv_row_names_its_line() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.csv", "customer,ts\n1,5\n2,6,extra\n", CSV_FIELDS);
    assert!(err.contains("line 3") && err.contains("3 fields"), "{err}");
}

#[test]
fn bad_json_names_its_line() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.jsonl", "{\"customer\":\"1\",\"ts\":5}\n\n{\"customer\": \n", CSV_FIELDS);
    assert!(err.contains("line 3") && err.contains("invalid JSON"), "{err}");
    let err = import_fails(&s, "b.jsonl", "[1,2]\n", CSV_FIELDS);
    assert!(err.contains("line 1") && err.contains("expected a JSON object"), "{err}");
}

#[test]
fn object_as_space_is_rejected() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.jsonl", "{\"customer\":{\"id\":1},\"ts\":5}\n", CSV_FIELDS);
    assert!(err.contains("line 1") && err.contains("an object"), "{err}");
}

#[test]
fn empty_inputs_are_errors() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.csv", "", CSV_FIELDS);
    assert!(err.contains("empty"), "{err}");
    let err = import_fails(&s, "b.csv", "customer,ts\n", CSV_FIELDS);
    assert!(err.contains("no records"), "{err}");
    let err = import_fails(&s, "c.jsonl", "\n\n", CSV_FIELDS);
    assert!(err.contains("no records"), "{err}");
}

#[test]
fn skip_invalid_counts_and_reports() {
    let s = Scratch::new();
    s.write("a.csv", "customer,ts\n1,5\n2,soon\n3,7\n4,\n");
    let output = s
        .esdb(&["import", "a.csv", "-o", "out.esdb", "--space", "customer", "--timestamp", "ts", "--skip-invalid"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("skipped line 3") && err.contains("skipped line 5") && err.contains("skipped 2 invalid records"),
        "{err}"
    );
    assert_eq!(s.ok(&["spaces", "out.esdb"]), "1\n3\n");
}

#[test]
fn unknown_extension_and_missing_flags_are_explained() {
    let s = Scratch::new();
    let err = import_fails(&s, "a.txt", "customer,ts\n1,5\n", CSV_FIELDS);
    assert!(err.contains("--input-format"), "{err}");
    let err = import_fails(&s, "b.csv", "customer,ts\n1,5\n", &["--space", "customer"]);
    assert!(err.contains("--timestamp FIELD is required"), "{err}");
    let err = import_fails(&s, "c.jsonl", "{}\n", &["--input-format", "esdb-jsonl", "--space", "x"]);
    assert!(err.contains("drop --space"), "{err}");
}

#[test]
fn existing_output_is_never_overwritten() {
    let s = Scratch::new();
    s.write("a.csv", ACTIVITY_CSV);
    s.write("out.esdb", "precious");
    let err = s.fails(&["import", "a.csv", "-o", "out.esdb", "--space", "customer", "--timestamp", "ts"], 1);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(std::fs::read(s.path("out.esdb")).unwrap(), b"precious");
}

#[test]
fn corrupt_file_verify_lists_problems_with_offsets() {
    let s = Scratch::new();
    let mut bytes = std::fs::read(fixture("activity.esdb")).unwrap();
    bytes[30] ^= 0xff;
    s.write("bad.esdb", &bytes);
    let output = s.esdb(&["verify", "bad.esdb"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("data block at offset 24: xxh3 checksum mismatch"), "{out}");
    // Queries that touch the damaged block fail with the same precision; others still work.
    let err = s.fails(&["scan", "bad.esdb", "1"], 1);
    assert!(err.contains("checksum mismatch") && err.contains("offset 24"), "{err}");
}

#[test]
fn non_esdb_and_missing_files() {
    let s = Scratch::new();
    s.write("notes.txt", "hello, this is not an ESDB file at all, just text long enough to have a footer...................................................");
    let err = s.fails(&["verify", "notes.txt"], 2);
    assert!(err.contains("bad magic") && err.contains("not an ESDB file"), "{err}");
    let err = s.fails(&["verify", "missing.esdb"], 2);
    assert!(err.contains("missing.esdb"), "{err}");
    for cmd in ["info", "spaces", "export", "dump"] {
        let err = s.fails(&[cmd, "notes.txt"], 1);
        assert!(err.contains("notes.txt") && err.contains("bad magic"), "{cmd}: {err}");
    }
    let err = s.fails(&["scan", "notes.txt", "x"], 1);
    assert!(err.contains("bad magic"), "{err}");
    let err = s.fails(&["merge", "-o", "m.esdb", "notes.txt"], 1);
    assert!(err.contains("bad magic") && !s.path("m.esdb").exists(), "{err}");
}
