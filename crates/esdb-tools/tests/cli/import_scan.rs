//! import, then every reading command and flag.

use serde_json::Value;

use crate::common::{visits_jsonl, Scratch, ACTIVITY_CSV};

fn activity(scratch: &Scratch) {
    scratch.write("activity.csv", ACTIVITY_CSV);
    scratch.ok(&[
        "import",
        "activity.csv",
        "-o",
        "activity.esdb",
        "--space",
        "customer",
        "--timestamp",
        "ts",
        "--index",
        "type",
        "--quiet",
    ]);
}

fn lines(stdout: &str) -> Vec<Value> {
    stdout.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn import_csv_and_scan_all_events() {
    let s = Scratch::new();
    activity(&s);
    let out = lines(&s.ok(&["scan", "activity.esdb", "1"]));
    assert_eq!(out.len(), 5);
    assert_eq!(
        out[0],
        serde_json::json!({"timestamp": 1403534919, "data": {"customer": "1", "ts": "1403534919", "type": "page", "url": "http://mysite.com/"}})
    );
    let timestamps: Vec<i64> = out.iter().map(|v| v["timestamp"].as_i64().unwrap()).collect();
    assert_eq!(timestamps, [1403534919, 1403534920, 1403534921, 1403534923, 1403534923]);
    // Equal timestamps keep insertion order: the purchase was added before the thank-you page.
    assert_eq!(out[3]["data"]["type"], "purchase");
}

#[test]
fn scan_index_reverse_limit_and_data_format() {
    let s = Scratch::new();
    activity(&s);
    let out = s.ok(&["scan", "activity.esdb", "3", "--index", "type=click", "--reverse", "--format", "data"]);
    assert_eq!(out, "{\"customer\":\"3\",\"ts\":\"1403534922\",\"type\":\"click\",\"url\":\"\"}\n{\"customer\":\"3\",\"ts\":\"1403534920\",\"type\":\"click\",\"url\":\"\"}\n");
    let out = lines(&s.ok(&["scan", "activity.esdb", "1", "--reverse", "--limit", "2"]));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["data"]["url"], "http://mysite.com/thankyou");
    assert_eq!(s.ok(&["scan", "activity.esdb", "1", "--index", "type=none"]), "");
}

#[test]
fn scan_time_range_with_integers_and_rfc3339() {
    let s = Scratch::new();
    activity(&s);
    let ts = |out: String| lines(&out).iter().map(|v| v["timestamp"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(
        ts(s.ok(&["scan", "activity.esdb", "3", "--from", "1403534920", "--until", "1403534923"])),
        [1403534920, 1403534921, 1403534922]
    );
    // 1403534921 is 2014-06-23T14:48:41Z.
    assert_eq!(
        ts(s.ok(&["scan", "activity.esdb", "3", "--from", "2014-06-23T14:48:41Z", "--time-unit", "s"])),
        [1403534921, 1403534922, 1403534923, 1403534923]
    );
    assert_eq!(
        ts(s.ok(&["scan", "activity.esdb", "3", "--until", "2014-06-23T14:48:41Z", "--reverse", "--time-unit", "s"])),
        [1403534920, 1403534919]
    );
    // The file records no unit (its timestamps were integers): a time needs --time-unit.
    let err = s.fails(&["scan", "activity.esdb", "3", "--from", "2014-06-23T14:48:41Z"], 1);
    assert!(err.contains("records no time unit") && err.contains("--time-unit"), "{err}");
    let err = s.fails(&["scan", "activity.esdb", "3", "--from", "last tuesday"], 1);
    assert!(err.contains("--from"), "{err}");
}

#[test]
fn scan_missing_space_prints_nothing_and_says_so() {
    let s = Scratch::new();
    activity(&s);
    let output = s.esdb(&["scan", "activity.esdb", "nobody"]).output().unwrap();
    assert!(output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no space nobody"));
}

#[test]
fn spaces_with_and_without_counts() {
    let s = Scratch::new();
    activity(&s);
    assert_eq!(s.ok(&["spaces", "activity.esdb"]), "1\n2\n3\n");
    assert_eq!(
        s.ok(&["spaces", "activity.esdb", "--counts"]),
        "1\t5\t1403534919\t1403534923\n2\t3\t1403534919\t1403534921\n3\t6\t1403534919\t1403534923\n"
    );
}

#[test]
fn jsonl_with_grouping_arrays_data_field_and_time_unit() {
    let s = Scratch::new();
    s.write("visits.jsonl", visits_jsonl(60, 0));
    s.ok(&[
        "import",
        "visits.jsonl",
        "-o",
        "v.esdb",
        "--space",
        "visitor",
        "--timestamp",
        "at",
        "--time-unit",
        "ms",
        "--grouping",
        "host",
        "--index",
        "city",
        "--index",
        "tags",
        "--data",
        "detail",
        "--quiet",
    ]);
    let out = lines(&s.ok(&["scan", "v.esdb", "v0", "--grouping", "h0"]));
    assert!(!out.is_empty());
    for v in &out {
        assert!(v["data"]["n"].is_u64() && v["data"]["ok"] == true, "{v}");
        // Milliseconds: 2024-05 is around 1.714e12.
        assert!(v["timestamp"].as_i64().unwrap() > 1_714_000_000_000);
    }
    // Array fields index every element (an event tagged [t0, t0] once).
    let input = lines(&visits_jsonl(60, 0));
    for tag in ["t0", "t1", "t2"] {
        let want = input
            .iter()
            .filter(|v| v["visitor"] == "v0" && v["tags"].as_array().unwrap().iter().any(|t| t == tag))
            .count();
        let got = lines(&s.ok(&["scan", "v.esdb", "v0", "--index", &format!("tags={tag}")])).len();
        assert_eq!(got, want, "tags={tag}");
        assert!(want > 0);
    }
    let info: Value = serde_json::from_str(&s.ok(&["info", "v.esdb", "--json"])).unwrap();
    assert_eq!(info["events"], 60);
    assert_eq!(info["spaces"], 5);
    let names: Vec<&str> = info["indexes"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["city", "tags"]);
}

#[test]
fn stdin_input_needs_a_format_and_works_with_one() {
    let s = Scratch::new();
    let err = s.fails(&["import", "-", "-o", "x.esdb", "--space", "visitor", "--timestamp", "at"], 1);
    assert!(err.contains("--input-format"), "{err}");
    s.esdb(&[
        "import",
        "-",
        "-o",
        "x.esdb",
        "--input-format",
        "jsonl",
        "--space",
        "visitor",
        "--timestamp",
        "at",
        "--quiet",
    ])
    .write_stdin(visits_jsonl(10, 1))
    .assert()
    .success();
    assert_eq!(s.ok(&["spaces", "x.esdb"]).lines().count(), 5);
}

#[test]
fn info_reports_versions_counts_and_sections() {
    let s = Scratch::new();
    activity(&s);
    let info: Value = serde_json::from_str(&s.ok(&["info", "activity.esdb", "--json"])).unwrap();
    assert_eq!(info["format_version"], "2.0");
    assert_eq!(info["events"], 14);
    assert_eq!(info["spaces"], 3);
    assert_eq!(info["groupings"], 3);
    assert_eq!(info["index_values"], 8);
    assert_eq!(info["time_range"], serde_json::json!({"min": 1403534919, "max": 1403534923}));
    assert_eq!(info["indexes"], serde_json::json!([{"name": "type", "distinct_values": 3}]));
    let stored: u64 = info["sections"].as_object().unwrap().values().map(|s| s["stored_bytes"].as_u64().unwrap()).sum();
    assert_eq!(stored + info["header_and_footer_bytes"].as_u64().unwrap(), info["file_bytes"].as_u64().unwrap());
    assert!(info["per_event_overhead_bytes"].as_f64().unwrap() > 0.0);
    let text = s.ok(&["info", "activity.esdb"]);
    assert!(text.contains("events:            14"), "{text}");
    assert!(text.contains("time unit:         (not recorded)"), "{text}");
}

/// Format 2 records the unit, the writer, the index names and how the import read its input;
/// `--compression zstd` writes zstd blocks; `info --fast` reads only the catalog.
#[test]
fn info_shows_what_the_file_records() {
    let s = Scratch::new();
    s.write("activity.csv", ACTIVITY_CSV);
    s.ok(&[
        "import",
        "activity.csv",
        "-o",
        "z.esdb",
        "--space",
        "customer",
        "--timestamp",
        "ts",
        "--index",
        "type",
        "--time-unit",
        "s",
        "--compression",
        "zstd",
        "--zstd-level",
        "9",
        "--quiet",
    ]);
    let info: Value = serde_json::from_str(&s.ok(&["info", "z.esdb", "--json"])).unwrap();
    assert_eq!(info["time_unit"], "s");
    assert_eq!(info["time_range"]["min_time"], "2014-06-23T14:48:39Z");
    assert_eq!(info["index_names"], serde_json::json!(["type"]));
    assert!(info["writer"].as_str().unwrap().starts_with("esdb-write "));
    let import: Value = serde_json::from_str(info["metadata"]["esdb.import"].as_str().unwrap()).unwrap();
    assert_eq!(import["space"], "customer");
    assert_eq!(import["index"], serde_json::json!(["type"]));
    assert_eq!(import["time_unit"], "s");
    let fast: Value = serde_json::from_str(&s.ok(&["info", "z.esdb", "--json", "--fast"])).unwrap();
    for key in ["events", "spaces", "groupings", "index_values", "time_range", "time_unit"] {
        assert_eq!(fast[key], info[key], "{key}");
    }
    assert!(fast.get("sections").is_none());
    // A time bound now needs no --time-unit, and a contradicting one is refused.
    assert_eq!(s.ok(&["scan", "z.esdb", "3", "--from", "2014-06-23T14:48:42Z"]).lines().count(), 3);
    let err = s.fails(&["scan", "z.esdb", "3", "--from", "2014-06-23T14:48:42Z", "--time-unit", "ms"], 1);
    assert!(err.contains("disagrees"), "{err}");
    // The same events as with LZ4.
    s.ok(&[
        "import",
        "activity.csv",
        "-o",
        "l.esdb",
        "--space",
        "customer",
        "--timestamp",
        "ts",
        "--index",
        "type",
        "--quiet",
    ]);
    assert_eq!(s.ok(&["export", "z.esdb"]), s.ok(&["export", "l.esdb"]));
    assert_eq!(s.ok(&["verify", "z.esdb"]), "ok\n");
}

#[test]
fn verify_ok_and_dump_lists_structure() {
    let s = Scratch::new();
    activity(&s);
    assert_eq!(s.ok(&["verify", "activity.esdb"]), "ok\n");
    let dump = s.ok(&["dump", "activity.esdb", "--space", "2"]);
    assert!(dump.contains("space \"2\" summary"), "{dump}");
    assert!(!dump.contains("space \"1\""), "{dump}");
}

#[test]
fn closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    let s = Scratch::new();
    s.write("big.jsonl", visits_jsonl(50_000, 2));
    s.ok(&["import", "big.jsonl", "-o", "big.esdb", "--space", "city", "--timestamp", "at", "--quiet"]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("esdb"))
        .current_dir(s.dir.path())
        .args(["export", "big.esdb"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"space\":"));
    // The reader is dropped here: the pipe closes while esdb still has lines to write.
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{:?}", output.status);
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// `dump` walks the catalog with the reader's checked walk: a crafted file whose root lists one
/// leaf 1000 times fails at once instead of listing its spaces 1000 times, whether the root
/// repeats one key (keys out of order) or gives each child its own (a separator that is not the
/// child's last key).
/// See: issue 14 ("dump's own walker lacks the key-order protection").
#[test]
fn dump_refuses_shared_catalog_children() {
    use esdb_format::v1::catalog::{CatalogBlockBuilder, SpaceSummary, Stats};
    use esdb_format::v1::frame::{self, Codec, Handle};
    use esdb_format::v1::{footer::Footer, header::Header, key};

    let summary =
        SpaceSummary { stats: Stats { n_events: 1, min_ts: 0, max_ts: 0 }, n_groupings: 1, ..Default::default() };
    let mut value = Vec::new();
    summary.encode(&mut value);
    let mut leaf = CatalogBlockBuilder::new();
    leaf.push(&key::space_key(b"a"), &value);
    leaf.push(&key::space_key(b"b"), &value);
    let mut leaf_payload = Vec::new();
    leaf.finish(0, &mut leaf_payload);
    let s = Scratch::new();
    for (distinct_keys, error) in [(false, "is not above the previous key"), (true, "separator differs")] {
        let mut bytes = Vec::new();
        Header { major: 1, minor: 0 }.encode(&mut bytes);
        let (_, leaf_len) = frame::encode(&leaf_payload, Codec::Raw, &mut bytes);
        let leaf_handle = Handle { offset: 24, len: leaf_len };
        let mut root = CatalogBlockBuilder::new();
        let mut child = Vec::new();
        leaf_handle.encode(&mut child);
        for n in 0..1000u32 {
            let id = if distinct_keys { format!("b{n:04}") } else { "b".to_owned() };
            root.push(&key::space_key(id.as_bytes()), &child);
        }
        let mut root_payload = Vec::new();
        root.finish(1, &mut root_payload);
        let root_at = bytes.len() as u64;
        let (_, root_len) = frame::encode(&root_payload, Codec::Raw, &mut bytes);
        Footer {
            catalog_root: Handle { offset: root_at, len: root_len },
            catalog_height: 2,
            n_spaces: 2,
            n_events: 2,
            min_ts: 0,
            max_ts: 0,
            max_block_len: root_payload.len() as u32,
            major: 1,
            minor: 0,
        }
        .encode(&mut bytes);
        std::fs::write(s.path("crafted.esdb"), &bytes).unwrap();
        let err = s.fails(&["dump", "crafted.esdb"], 1);
        assert!(err.contains(error), "{err}");
    }
}

/// `--covering-timeline` (import and merge): whole-space scans answer exactly as through the
/// timeline postings, forwards, backwards and in a time range; `info` and `dump` show it; a
/// merge of a covering file keeps it.
#[test]
fn covering_timeline_answers_as_the_timeline_does() {
    let s = Scratch::new();
    s.write("visits.jsonl", visits_jsonl(400, 5));
    let import = |out: &str, extra: &[&str]| {
        let mut args =
            vec!["import", "visits.jsonl", "-o", out, "--space", "visitor", "--timestamp", "at", "--grouping", "host"];
        args.extend_from_slice(&["--index", "city", "--quiet"]);
        args.extend_from_slice(extra);
        s.ok(&args);
    };
    import("plain.esdb", &[]);
    import("timeline.esdb", &["--covering-timeline"]);
    s.ok(&["merge", "-o", "merged.esdb", "timeline.esdb", "--quiet"]);
    s.ok(&["merge", "-o", "merged-asked.esdb", "plain.esdb", "--covering-timeline", "--quiet"]);

    let info = |file: &str| -> Value { serde_json::from_str(&s.ok(&["info", file, "--json"])).unwrap() };
    assert_eq!(info("timeline.esdb")["covering_timeline"], true);
    assert_eq!(info("timeline.esdb")["format_version"], "2.2");
    assert_eq!(info("merged.esdb")["covering_timeline"], true);
    assert_eq!(info("merged-asked.esdb")["covering_timeline"], true);
    assert_eq!(info("plain.esdb")["covering_timeline"], false);
    assert!(s.ok(&["info", "timeline.esdb"]).contains("covering timeline: yes"));
    assert!(info("timeline.esdb")["file_bytes"].as_u64() > info("plain.esdb")["file_bytes"].as_u64());
    s.ok(&["verify", "timeline.esdb", "--quiet"]);
    let dump = s.ok(&["dump", "timeline.esdb"]);
    assert!(dump.contains("covering-timeline catalog:"), "{dump}");
    assert!(dump.contains("space \"v0\" covering timeline (entry @"), "{dump}");

    let mut compared = 0;
    for space in ["v0", "v1", "v3"] {
        for extra in [&[][..], &["--reverse"], &["--from", "1714521600", "--limit", "3"], &["--format", "data"]] {
            let mut args = vec!["scan", "plain.esdb", space];
            args.extend_from_slice(extra);
            let want = s.ok(&args);
            for file in ["timeline.esdb", "merged.esdb", "merged-asked.esdb"] {
                args[1] = file;
                assert_eq!(s.ok(&args), want, "{args:?}");
            }
            compared += usize::from(want.lines().count() > 1);
        }
    }
    assert!(compared > 6, "only {compared} answers of several events compared");
}

/// `--covering-index NAME` (import and merge): scans of a covered index answer exactly as
/// through postings, forwards, backwards, in a time range and combined with a grouping; `info`
/// lists the covered names; a name that is no `--index` field is refused.
#[test]
fn covering_index_answers_as_postings_do() {
    let s = Scratch::new();
    s.write("visits.jsonl", visits_jsonl(400, 3));
    let import = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "import",
            "visits.jsonl",
            "-o",
            out,
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
        args.extend_from_slice(extra);
        s.ok(&args);
    };
    import("plain.esdb", &[]);
    import("covered.esdb", &["--covering-index", "city", "--covering-index", "tags"]);
    s.ok(&["merge", "-o", "merged.esdb", "covered.esdb", "--quiet"]);
    s.ok(&["merge", "-o", "merged-asked.esdb", "plain.esdb", "--covering-index", "city", "--quiet"]);

    let info = |file: &str| -> Value { serde_json::from_str(&s.ok(&["info", file, "--json"])).unwrap() };
    assert_eq!(info("covered.esdb")["covering_indexes"], serde_json::json!(["city", "tags"]));
    assert_eq!(info("covered.esdb")["format_version"], "2.1");
    assert_eq!(info("merged.esdb")["covering_indexes"], serde_json::json!(["city", "tags"]));
    assert_eq!(info("merged-asked.esdb")["covering_indexes"], serde_json::json!(["city"]));
    assert_eq!(info("plain.esdb")["covering_indexes"], serde_json::json!([]));
    assert_eq!(info("plain.esdb")["format_version"], "2.0");
    assert!(s.ok(&["info", "covered.esdb"]).contains("covering indexes:  city, tags"));
    assert!(info("covered.esdb")["file_bytes"].as_u64() > info("plain.esdb")["file_bytes"].as_u64());
    s.ok(&["verify", "covered.esdb", "--quiet"]);
    let dump = s.ok(&["dump", "covered.esdb"]);
    assert!(dump.contains("covering catalog (indexes city, tags):"), "{dump}");
    assert!(dump.contains("covering index \"city\"=\"Paris\" (entry @"), "{dump}");

    let mut compared = 0;
    for space in ["v0", "v1", "v3"] {
        for selection in [["--index", "city=Paris"], ["--index", "tags=t1"], ["--index", "city=Lima"]] {
            for extra in [&[][..], &["--reverse"], &["--grouping", "h1"], &["--from", "1714521600", "--limit", "3"]] {
                let mut args = vec!["scan", "plain.esdb", space];
                args.extend_from_slice(&selection);
                args.extend_from_slice(extra);
                let want = s.ok(&args);
                for file in ["covered.esdb", "merged.esdb"] {
                    args[1] = file;
                    assert_eq!(s.ok(&args), want, "{args:?}");
                }
                compared += usize::from(!want.is_empty());
            }
        }
    }
    assert!(compared > 10, "only {compared} non-empty answers compared");

    let err = s.fails(
        &[
            "import",
            "visits.jsonl",
            "-o",
            "typo.esdb",
            "--space",
            "visitor",
            "--timestamp",
            "at",
            "--index",
            "city",
            "--covering-index",
            "cty",
        ],
        1,
    );
    assert!(err.contains("--covering-index \"cty\" names no --index field"), "{err}");
    assert!(!s.path("typo.esdb").exists());
}
