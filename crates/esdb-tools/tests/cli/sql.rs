//! `esdb sql`: the contract's flags and output formats, on the activity example.

use crate::common::{Scratch, ACTIVITY_CSV};

fn activity() -> Scratch {
    let s = Scratch::new();
    s.write("activity.csv", ACTIVITY_CSV);
    s.ok(&[
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
    s
}

#[test]
fn every_output_format_prints_the_rows_keyed_by_column() {
    let s = activity();
    let sql = "SELECT space, timestamp, type FROM a WHERE space = '3' AND array_has(type, 'click') ORDER BY timestamp";
    assert_eq!(
        s.ok(&["sql", sql, "--table", "a=activity.esdb", "--format", "jsonl"]),
        "{\"space\":\"3\",\"timestamp\":1403534920,\"type\":[\"click\"]}\n{\"space\":\"3\",\"timestamp\":1403534922,\"type\":[\"click\"]}\n"
    );
    assert_eq!(
        s.ok(&["sql", sql, "--table", "a=activity.esdb", "--format", "csv"]),
        "space,timestamp,type\n3,1403534920,[click]\n3,1403534922,[click]\n"
    );
    assert_eq!(
        s.ok(&["sql", sql, "--table", "a=activity.esdb"]),
        "+-------+------------+---------+\n\
         | space | timestamp  | type    |\n\
         +-------+------------+---------+\n\
         | 3     | 1403534920 | [click] |\n\
         | 3     | 1403534922 | [click] |\n\
         +-------+------------+---------+\n"
    );
    // No rows: the header still tells the columns.
    assert_eq!(
        s.ok(&["sql", "SELECT space FROM a WHERE space = 'x'", "--table", "a=activity.esdb", "--format", "csv"]),
        "space\n"
    );
    assert_eq!(
        s.ok(&["sql", "SELECT space FROM a WHERE space = 'x'", "--table", "a=activity.esdb", "--format", "jsonl"]),
        ""
    );
}

#[test]
fn tables_from_files_and_directories_join() {
    let s = activity();
    std::fs::create_dir_all(s.path("dir/sub")).unwrap();
    std::fs::copy(s.path("activity.esdb"), s.path("dir/sub/copy.esdb")).unwrap();
    std::fs::copy(s.path("activity.esdb"), s.path("dir/second.esdb")).unwrap();
    let out = s.ok(&[
        "sql",
        "SELECT a.space, count(*) AS n FROM a JOIN (SELECT DISTINCT space FROM d) AS d ON a.space = d.space GROUP BY a.space ORDER BY a.space",
        "--table",
        "a=activity.esdb",
        "--table",
        "d=dir",
        "--format",
        "csv",
    ]);
    assert_eq!(out, "space,n\n1,5\n2,3\n3,6\n");
    let out = s.ok(&["sql", "SELECT count(*) AS n FROM d", "--table", "d=dir", "--format", "csv"]);
    assert_eq!(out, "n\n28\n");
}

#[test]
fn explain_shows_the_filters_that_reached_esdb() {
    let s = activity();
    let out = s.ok(&[
        "sql",
        "EXPLAIN SELECT data FROM a WHERE space IN ('1', '2') AND timestamp BETWEEN 1403534920 AND 1403534922 AND data LIKE '%about%'",
        "--table",
        "a=activity.esdb",
        "--format",
        "csv",
    ]);
    assert!(out.contains(r#"pushed down: space IN (""1"", ""2""), timestamp in [1403534920, 1403534922]"#), "{out}");
}

#[test]
fn bad_tables_and_queries_are_one_line_errors() {
    let s = activity();
    for (args, expected) in [
        (vec!["sql", "SELECT 1", "--table", "activity.esdb"], "--table \"activity.esdb\": expected NAME=LOCATION"),
        (
            vec!["sql", "SELECT 1", "--table", "a=missing.esdb"],
            "--table a=missing.esdb: Execution error: missing.esdb: cannot open missing.esdb",
        ),
        (vec!["sql", "SELEC 1", "--table", "a=activity.esdb"], "cannot plan the query"),
        (vec!["sql", "SELECT nope FROM a", "--table", "a=activity.esdb"], "cannot plan the query"),
    ] {
        let err = s.fails(&args, 1);
        assert!(err.starts_with("esdb: error: ") && err.contains(expected), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    // The --table flag is required.
    s.fails(&["sql", "SELECT 1"], 2);
}
