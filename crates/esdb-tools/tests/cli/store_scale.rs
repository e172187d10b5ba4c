//! `esdb store` at scale (issue 13): `store spaces` and `store export` print what `esdb spaces`
//! and `esdb export` print for one file of the same events, `store append` seals on its own,
//! and options a store recorded cannot be changed by accident.

use crate::common::Scratch;

/// Events with groupings, two indexes, timestamps out of order and ties, across 7 spaces.
fn lines(from: u64, to: u64) -> String {
    (from..to)
        .map(|n| {
            format!(
                "{{\"s\":\"s{}\",\"t\":{},\"g\":\"g{}\",\"k\":\"v{}\",\"c\":[\"x{}\",\"y\"],\"n\":{n}}}\n",
                n % 7,
                (n * 7919) % 500,
                n % 3,
                n % 4,
                n % 5
            )
        })
        .collect()
}

const FIELDS: [&str; 10] = ["--space", "s", "--timestamp", "t", "--grouping", "g", "--index", "k", "--index", "c"];

fn append(s: &Scratch, dir: &str, input: String, extra: &[&str]) {
    let mut args = vec!["store", "append", dir];
    args.extend(FIELDS);
    args.extend(["--partition-window", "100"]);
    args.extend(extra);
    let output = s.esdb(&args).write_stdin(input).output().unwrap();
    assert!(output.status.success(), "append: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn store_spaces_and_export_print_what_one_file_of_the_same_events_prints() {
    let s = Scratch::new();
    // Sealed partitions (several windows, several seals of one window) and an unsealed tail.
    append(&s, "store", lines(0, 600), &[]);
    s.ok(&["store", "seal", "store"]);
    append(&s, "store", lines(600, 1_000), &[]);
    s.ok(&["store", "seal", "store"]);
    append(&s, "store", lines(1_000, 1_300), &[]);
    let input = s.write("all.jsonl", lines(0, 1_300));
    // The store records its unit (seconds), so the file does too.
    let mut import = vec!["import", input.to_str().unwrap(), "-o", "one.esdb", "--time-unit", "s"];
    import.extend(FIELDS);
    s.ok(&import);
    assert_eq!(s.ok(&["store", "spaces", "store"]), s.ok(&["spaces", "one.esdb"]));
    let counts = s.ok(&["spaces", "one.esdb", "--counts"]);
    assert!(counts.starts_with("s0\t186\t0\t496\t1970-01-01T00:00:00Z\t1970-01-01T00:08:16Z\n"), "{counts}");
    assert_eq!(s.ok(&["store", "spaces", "store", "--counts"]), s.ok(&["spaces", "one.esdb", "--counts"]));
    for format in ["jsonl", "csv"] {
        let store = s.ok(&["store", "export", "store", "-q", "--format", format]);
        assert_eq!(store, s.ok(&["export", "one.esdb", "-q", "--format", format]), "{format}");
        assert_eq!(store.lines().count(), 1_300 + usize::from(format == "csv"));
    }
    s.ok(&["store", "export", "store", "-q", "--format", "parquet", "-o", "store.parquet"]);
    s.ok(&["export", "one.esdb", "-q", "--format", "parquet", "-o", "one.parquet"]);
    assert_eq!(std::fs::read(s.path("store.parquet")).unwrap(), std::fs::read(s.path("one.parquet")).unwrap());
}

#[test]
fn store_append_seals_by_size_on_its_own() {
    let s = Scratch::new();
    append(&s, "store", lines(0, 5_000), &["--seal-after-bytes", "20000", "--durability", "buffered"]);
    let info = s.ok(&["store", "info", "store"]);
    let sealed: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("sealed through:"))
        .map(|rest| rest.trim().parse().unwrap())
        .unwrap();
    assert!(sealed >= 4_000, "{info}");
    assert_eq!(s.ok(&["store", "export", "store", "-q"]).lines().count(), 5_000);
}

#[test]
fn a_recorded_option_given_another_value_is_an_error_naming_both() {
    let s = Scratch::new();
    append(&s, "store", lines(0, 10), &["--time-unit", "ms"]);
    let mut args = vec!["store", "append", "store"];
    args.extend(FIELDS);
    let err =
        s.esdb(&[&args[..], &["--partition-window", "3600"]].concat()).write_stdin(lines(10, 20)).output().unwrap();
    assert_eq!(err.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("the store records partition_window 100, but 3600 was given"), "{stderr}");
    let err = s.esdb(&[&args[..], &["--time-unit", "s"]].concat()).write_stdin(lines(10, 20)).output().unwrap();
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(stderr.contains("the store records time_unit ms, but s was given"), "{stderr}");
    // Not given: the recorded values are used.
    let output = s.esdb(&args).write_stdin(lines(10, 20)).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(s.ok(&["store", "export", "store", "-q"]).lines().count(), 20);
}

#[test]
fn a_timestamp_far_ahead_of_the_clock_is_refused_with_its_line() {
    let s = Scratch::new();
    let input = "{\"s\":\"a\",\"t\":1700000000}\n{\"s\":\"a\",\"t\":4102444800}\n";
    let output =
        s.esdb(&["store", "append", "store", "--space", "s", "--timestamp", "t"]).write_stdin(input).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("timestamp 4102444800") && stderr.contains("ahead of the clock"), "{stderr}");
}

#[test]
fn store_info_json_gives_the_state_and_the_metrics() {
    let s = Scratch::new();
    append(&s, "store", lines(0, 300), &[]);
    s.ok(&["store", "seal", "store"]);
    append(&s, "store", lines(300, 350), &["--time-unit", "s"]);
    let info: serde_json::Value = serde_json::from_str(&s.ok(&["store", "info", "store", "--json"])).unwrap();
    assert_eq!(info["next_offset"], 350);
    assert_eq!(info["sealed_through"], 300);
    assert_eq!(info["time_unit"], "s");
    assert_eq!(info["partition_window"], 100);
    assert_eq!(info["tail"]["events"], 50);
    assert_eq!(info["metrics"]["tail_events"], 50);
    assert_eq!(info["metrics"]["durable_lag"], 0);
    let partitions = &info["partitions"];
    assert_eq!(partitions["events"], 300);
    assert_eq!(partitions["count"].as_u64().unwrap() as usize, partitions["files"].as_array().unwrap().len());
}
