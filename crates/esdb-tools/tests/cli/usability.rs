//! What users tripped over (issue 16): data kept exact, typos caught, bounds and ids that mean
//! what they say.

use crate::common::Scratch;

const EXACT: &str = r#"{"s":"a","t":1,"n":1.50,"big":12345678901234567890123,"p":0.1000000000000000055511151231257827,"x":1e400,"k":2.50}"#;

#[test]
fn json_numbers_are_stored_exactly_as_written() {
    // See: issue 16 (numbers went through f64: 1.50 became 1.5, 1e400 was refused).
    let s = Scratch::new();
    s.write("in.jsonl", format!("{EXACT}\n"));
    s.ok(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--index", "k"]);
    assert_eq!(s.ok(&["scan", "a.esdb", "a", "--format", "data"]), format!("{EXACT}\n"));
    // The index value is the number's text too.
    assert_eq!(s.ok(&["scan", "a.esdb", "a", "--index", "k=2.50", "--format", "data"]), format!("{EXACT}\n"));
    // --data of one field keeps its text.
    s.ok(&["import", "in.jsonl", "-o", "b.esdb", "--space", "s", "--timestamp", "t", "--data", "big"]);
    assert_eq!(s.ok(&["scan", "b.esdb", "a", "--format", "data"]), "12345678901234567890123\n");
    // The store keeps them too.
    let output = s
        .esdb(&["store", "append", "events", "--space", "s", "--timestamp", "t"])
        .write_stdin(format!("{EXACT}\n"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(s.ok(&["store", "scan", "events", "a", "--format", "data"]), format!("{EXACT}\n"));
}

#[test]
fn a_json_lines_field_no_record_has_is_an_error() {
    // See: issue 16 (a misspelled --index in a JSONL import succeeded and indexed nothing).
    let s = Scratch::new();
    s.write("in.jsonl", "{\"s\":\"a\",\"t\":1,\"type\":\"x\"}\n{\"s\":\"a\",\"t\":2}\n");
    let stderr =
        s.fails(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--index", "tpye"], 1);
    assert!(stderr.contains("no record has the --index field \"tpye\""), "{stderr}");
    let stderr =
        s.fails(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--grouping", "hots"], 1);
    assert!(stderr.contains("--grouping field \"hots\""), "{stderr}");
    assert!(!s.path("a.esdb").exists());
    // A field some records lack is fine.
    s.ok(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--index", "type"]);
}

#[test]
fn csv_headers_with_a_repeated_name_or_a_million_columns_get_short_clear_errors() {
    let s = Scratch::new();
    s.write("dup.csv", "s,t,v,v\na,1,x,y\n");
    let stderr = s.fails(&["import", "dup.csv", "-o", "a.esdb", "--space", "s", "--timestamp", "t"], 1);
    assert!(stderr.contains("names column \"v\" twice (columns 3 and 4)"), "{stderr}");
    let header: Vec<String> = (0..1_000_000).map(|i| format!("c{i}")).collect();
    s.write("wide.csv", format!("{}\n", header.join(",")));
    let stderr = s.fails(&["import", "wide.csv", "-o", "a.esdb", "--space", "nope", "--timestamp", "c1"], 1);
    assert!(stderr.len() < 2_000, "{} bytes of error", stderr.len());
    assert!(stderr.contains("1000000 columns in all"), "{stderr}");
}

#[test]
fn time_bounds_round_up_and_take_bare_dates() {
    // See: issue 16 (`--from …01:00:00.5Z` included the event at 01:00:00; a bare date was
    // refused; a JSON timestamp of -0 was refused).
    let s = Scratch::new();
    s.write(
        "in.jsonl",
        "{\"s\":\"a\",\"t\":3600}\n{\"s\":\"a\",\"t\":3601}\n{\"s\":\"a\",\"t\":-0}\n{\"s\":\"a\",\"t\":86400}\n",
    );
    s.ok(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--time-unit", "s"]);
    let from_half = s.ok(&["scan", "a.esdb", "a", "--from", "1970-01-01T01:00:00.5Z"]);
    assert_eq!(from_half.lines().count(), 2, "{from_half}");
    let until_half = s.ok(&["scan", "a.esdb", "a", "--until", "1970-01-01T01:00:00.5Z"]);
    assert_eq!(until_half.lines().count(), 2, "{until_half}");
    assert_eq!(s.ok(&["scan", "a.esdb", "a", "--from", "1970-01-02"]).lines().count(), 1);
    assert_eq!(s.ok(&["scan", "a.esdb", "a", "--until", "1970-01-01"]).lines().count(), 0);
}

#[test]
fn ids_as_spaces_prints_them_scan_as_given() {
    // See: issue 16 (`esdb spaces` printed `a\x00b`, `esdb scan` read it literally and returned
    // another space's events).
    let s = Scratch::new();
    s.write("in.jsonl", "{\"s\":\"a\\u0000b\",\"t\":1,\"v\":\"nul\"}\n{\"s\":\"a\\\\x00b\",\"t\":2,\"v\":\"text\"}\n");
    s.ok(&["import", "in.jsonl", "-o", "a.esdb", "--space", "s", "--timestamp", "t", "--data", "v"]);
    let spaces = s.ok(&["spaces", "a.esdb"]);
    let printed: Vec<&str> = spaces.lines().collect();
    assert_eq!(printed.len(), 2, "{spaces}");
    for id in printed {
        let data = s.ok(&["scan", "a.esdb", id, "--format", "data"]);
        let want = if id == "a\\x00b" { "nul\n" } else { "text\n" };
        assert_eq!(data, want, "scan of the printed id {id:?}");
    }
    let stderr = s.fails(&["scan", "a.esdb", "C:\\path"], 1);
    assert!(stderr.contains("unknown escape"), "{stderr}");
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn files_get_the_mode_of_any_new_file_and_failed_outputs_leave_nothing() {
    // See: issue 16 (files were 0600 whatever the umask; a failed `export -o` left a partial
    // file). The test process runs with the default umask of its parent; a new file gets 0666
    // less it, as `touch` would.
    let s = Scratch::new();
    std::fs::File::create(s.path("probe")).unwrap();
    let expected = mode(&s.path("probe"));
    s.write("a.csv", crate::common::ACTIVITY_CSV);
    s.ok(&["import", "a.csv", "-o", "a.esdb", "--space", "customer", "--timestamp", "ts", "--index", "type"]);
    assert_eq!(mode(&s.path("a.esdb")), expected);
    s.ok(&["export", "a.esdb", "-o", "a.jsonl"]);
    assert_eq!(mode(&s.path("a.jsonl")), expected);
    s.ok(&["merge", "-o", "m.esdb", "a.esdb"]);
    assert_eq!(mode(&s.path("m.esdb")), expected);
    let append = s
        .esdb(&["store", "append", "events", "--space", "s", "--timestamp", "t"])
        .write_stdin("{\"s\":\"a\",\"t\":1}\n")
        .output()
        .unwrap();
    assert!(append.status.success());
    s.ok(&["store", "seal", "events"]);
    for entry in std::fs::read_dir(s.path("events/partitions")).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), expected, "a partition's mode");
    }
    // A damaged block: export fails half-way and leaves no file.
    let mut bytes = std::fs::read(s.path("a.esdb")).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0xff;
    s.write("bad.esdb", bytes);
    s.fails(&["export", "bad.esdb", "-o", "bad.jsonl"], 1);
    let left: Vec<String> =
        s.files().into_iter().filter(|f| f.starts_with("bad.jsonl") || f.starts_with(".esdb")).collect();
    assert!(left.is_empty(), "{left:?}");
    // An existing output is never replaced.
    s.fails(&["export", "a.esdb", "-o", "a.jsonl"], 1);
}

#[test]
fn a_dash_is_standard_input_or_output() {
    // See: issue 16 (`export -o -` created a file named `-`).
    let s = Scratch::new();
    s.write("a.csv", crate::common::ACTIVITY_CSV);
    let esdb_bytes = s
        .esdb(&["import", "a.csv", "-o", "-", "--space", "customer", "--timestamp", "ts", "--index", "type"])
        .output()
        .unwrap();
    assert!(esdb_bytes.status.success());
    let from_stdin =
        s.esdb(&["scan", "-", "3", "--index", "type=click"]).write_stdin(esdb_bytes.stdout.clone()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&from_stdin.stdout).lines().count(), 2);
    let exported = s.esdb(&["export", "-", "-o", "-"]).write_stdin(esdb_bytes.stdout).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&exported.stdout).lines().count(), 14);
    assert!(!s.path("-").exists());
}

#[test]
fn completions_for_every_shell_and_a_manual_page() {
    // See: issue 16 (no completions, no man page). Contract: `esdb completions
    // bash|zsh|fish|elvish|powershell`.
    let s = Scratch::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = s.ok(&["completions", shell]);
        for word in ["import", "scan", "store", "repair", "index"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    s.fails(&["completions", "tcsh"], 2);
    let man = s.ok(&["man"]);
    assert!(man.starts_with(".ie") || man.contains(".TH esdb"), "{}", &man[..200.min(man.len())]);
    assert!(man.contains("import") && man.contains("store"));
    assert!(s.ok(&["--version"]).starts_with("esdb "));
}

#[test]
fn export_to_csv_and_parquet_has_a_column_per_index() {
    // See: issue 16 (JSON Lines was the only way out). Contract: `esdb export --format
    // jsonl|csv|parquet`.
    use arrow_array::{Array, Int64Array, ListArray, StringArray};
    let s = Scratch::new();
    s.write(
        "in.jsonl",
        "{\"s\":\"a\",\"t\":2,\"type\":\"click\",\"tags\":[\"x\",\"y\"]}\n{\"s\":\"a\",\"t\":1,\"type\":\"page\"}\n{\"s\":\"b\",\"t\":3,\"data\":1.50}\n",
    );
    s.ok(&[
        "import",
        "in.jsonl",
        "-o",
        "a.esdb",
        "--space",
        "s",
        "--timestamp",
        "t",
        "--index",
        "type",
        "--index",
        "tags",
    ]);
    let csv_text = s.ok(&["export", "a.esdb", "--format", "csv"]);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        ["space", "timestamp", "grouping", "tags", "type", "data"]
    );
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][..5], ["a", "1", "", "", "page"]);
    assert_eq!(rows[1][..5], ["a", "2", "", "[\"x\",\"y\"]", "click"]);
    assert_eq!(rows[2][5], "{\"s\":\"b\",\"t\":3,\"data\":1.50}");

    s.ok(&["export", "a.esdb", "--format", "parquet", "-o", "a.parquet"]);
    let file = std::fs::File::open(s.path("a.parquet")).unwrap();
    let batches: Vec<arrow_array::RecordBatch> =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    let batch = &batches[0];
    let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["space", "timestamp", "grouping", "tags", "type", "data"]);
    assert_eq!(batch.num_rows(), 3);
    let column = |name: &str| batch.column(batch.schema().index_of(name).unwrap()).clone();
    let ts = column("timestamp");
    assert_eq!(ts.as_any().downcast_ref::<Int64Array>().unwrap().values(), &[1, 2, 3]);
    let tags = column("tags");
    let tags = tags.as_any().downcast_ref::<ListArray>().unwrap();
    let second = tags.value(1);
    let second = second.as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!((second.value(0), second.value(1)), ("x", "y"));
    assert_eq!(tags.value(0).len(), 0);
    let data = column("data");
    assert_eq!(data.as_any().downcast_ref::<StringArray>().unwrap().value(2), "{\"s\":\"b\",\"t\":3,\"data\":1.50}");

    // Text that is not UTF-8 cannot go into CSV or Parquet; the error names the event.
    s.write("bin.jsonl", "{\"space\":\"a\",\"timestamp\":5,\"grouping\":\"\",\"indexes\":[],\"data_b64\":\"/w==\"}\n");
    s.ok(&["import", "bin.jsonl", "-o", "bin.esdb", "--input-format", "esdb-jsonl"]);
    let stderr = s.fails(&["export", "bin.esdb", "--format", "parquet", "-o", "bin.parquet"], 1);
    assert!(stderr.contains("space a at timestamp 5 is not UTF-8"), "{stderr}");
    assert!(!s.path("bin.parquet").exists());
}

#[test]
fn grouping_and_several_index_values_combine() {
    // See: issue 16 (one selection per scan: --grouping and --index together, and several
    // --index flags, were not possible).
    let s = Scratch::new();
    let mut lines = String::new();
    for i in 0..400 {
        let host = ["a", "b", "c"][i % 3];
        let kind = ["page", "click"][i % 2];
        let city = ["Oslo", "Lima", "Paris", "Rome", "Kyiv"][i % 5];
        lines.push_str(&format!(
            "{{\"s\":\"u\",\"t\":{},\"host\":\"{host}\",\"type\":\"{kind}\",\"city\":\"{city}\",\"n\":{i}}}\n",
            i / 4
        ));
    }
    s.write("in.jsonl", &lines);
    s.ok(&[
        "import",
        "in.jsonl",
        "-o",
        "a.esdb",
        "--space",
        "s",
        "--timestamp",
        "t",
        "--grouping",
        "host",
        "--index",
        "type",
        "--index",
        "city",
    ]);
    let model = |host: Option<&str>, kind: Option<&str>, city: Option<&str>, lo: i64, hi: i64| -> Vec<u64> {
        let mut found: Vec<(i64, u64)> = (0..400u64)
            .filter(|i| host.is_none_or(|h| ["a", "b", "c"][*i as usize % 3] == h))
            .filter(|i| kind.is_none_or(|k| ["page", "click"][*i as usize % 2] == k))
            .filter(|i| city.is_none_or(|c| ["Oslo", "Lima", "Paris", "Rome", "Kyiv"][*i as usize % 5] == c))
            .map(|i| (i as i64 / 4, i))
            .filter(|(ts, _)| (lo..hi).contains(ts))
            .collect();
        found.sort();
        found.into_iter().map(|(_, i)| i).collect()
    };
    let got = |args: &[&str]| -> Vec<u64> {
        let mut all = vec!["scan", "a.esdb", "u", "--format", "data"];
        all.extend_from_slice(args);
        s.ok(&all)
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["n"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        got(&["--index", "type=click", "--index", "city=Lima"]),
        model(None, Some("click"), Some("Lima"), 0, 100)
    );
    assert_eq!(got(&["--grouping", "b", "--index", "type=page"]), model(Some("b"), Some("page"), None, 0, 100));
    let mut want = model(Some("c"), Some("click"), Some("Rome"), 10, 80);
    assert_eq!(
        got(&["--grouping", "c", "--index", "type=click", "--index", "city=Rome", "--from", "10", "--until", "80"]),
        want
    );
    want.reverse();
    want.truncate(3);
    assert_eq!(
        got(&[
            "--grouping",
            "c",
            "--index",
            "city=Rome",
            "--index",
            "type=click",
            "--from",
            "10",
            "--until",
            "80",
            "--reverse",
            "--limit",
            "3"
        ]),
        want
    );
    assert!(got(&["--grouping", "nope", "--index", "type=click"]).is_empty());
    assert!(got(&["--index", "type=click", "--index", "city=Atlantis"]).is_empty());
}
