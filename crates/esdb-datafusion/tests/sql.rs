//! SQL answers against a model computed from the events themselves, without the provider: every
//! kind of filter ESDB answers, alone and together, with filters it leaves to DataFusion,
//! projections, limits and counts, over several files.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use esdb_datafusion::EsdbTable;

#[derive(Debug, Clone)]
struct Event {
    space: String,
    grouping: String,
    timestamp: i64,
    data: String,
    /// `(index, value)`, sorted, each once.
    indexes: Vec<(String, String)>,
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// Events of `n_files` files: spaces, groupings and index values drawn from small sets so that
/// every filter selects something, and equal timestamps across groupings.
fn model(seed: u64, n_files: usize) -> Vec<Vec<Event>> {
    let mut rng = Rng(seed);
    (0..n_files)
        .map(|file| {
            (0..400 + rng.below(400))
                .map(|i| {
                    let mut indexes: Vec<(String, String)> = Vec::new();
                    for _ in 0..rng.below(3) {
                        indexes.push(("kind".into(), ["a", "b", "c"][rng.below(3) as usize].into()));
                    }
                    if rng.below(2) == 0 {
                        indexes.push(("city".into(), ["Paris", "Oslo", "Lima", "Rome"][rng.below(4) as usize].into()));
                    }
                    indexes.sort();
                    indexes.dedup();
                    Event {
                        space: format!("s{}", rng.below(7)),
                        grouping: ["", "g1", "g2"][rng.below(3) as usize].into(),
                        timestamp: rng.below(60) as i64 - 20,
                        data: format!(r#"{{"file":{file},"i":{i},"text":"é\"{}"}}"#, rng.below(1000)),
                        indexes,
                    }
                })
                .collect()
        })
        .collect()
}

fn write(dir: &std::path::Path, files: &[Vec<Event>]) -> Vec<std::path::PathBuf> {
    files
        .iter()
        .enumerate()
        .map(|(n, events)| {
            let path = dir.join(format!("part-{n}.esdb"));
            let mut writer = esdb_write::Writer::create(&path).unwrap();
            for e in events {
                let pairs: Vec<(&str, &str)> = e.indexes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                writer.add(&e.space, e.timestamp, &e.grouping, pairs, e.data.as_bytes()).unwrap();
            }
            writer.finish().unwrap();
            path
        })
        .collect()
}

/// A row as text, whatever the query selected.
fn rows(batches: &[datafusion::arrow::array::RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|column| {
                datafusion::arrow::util::display::ArrayFormatter::try_new(column.as_ref(), &Default::default()).unwrap()
            })
            .collect();
        for row in 0..batch.num_rows() {
            out.push(formatters.iter().map(|f| f.value(row).to_string()).collect::<Vec<_>>().join("|"));
        }
    }
    out
}

fn model_row(e: &Event, columns: &[&str]) -> String {
    columns
        .iter()
        .map(|column| match *column {
            "space" => e.space.clone(),
            "grouping" => e.grouping.clone(),
            "timestamp" => e.timestamp.to_string(),
            "data" => e.data.clone(),
            index => format!(
                "[{}]",
                e.indexes.iter().filter(|(k, _)| k == index).map(|(_, v)| v.as_str()).collect::<Vec<_>>().join(", ")
            ),
        })
        .collect::<Vec<_>>()
        .join("|")
}

type Predicate = Box<dyn Fn(&Event) -> bool>;

fn has(e: &Event, index: &str, value: &str) -> bool {
    e.indexes.iter().any(|(k, v)| k == index && v == value)
}

/// `(WHERE clause, the same condition on the model)`.
fn conditions() -> Vec<(&'static str, Predicate)> {
    vec![
        ("true", Box::new(|_| true)),
        ("space = 's3'", Box::new(|e| e.space == "s3")),
        ("space IN ('s1', 's5', 'nope')", Box::new(|e| e.space == "s1" || e.space == "s5")),
        ("grouping = 'g1'", Box::new(|e| e.grouping == "g1")),
        ("grouping = ''", Box::new(|e| e.grouping.is_empty())),
        ("timestamp > 5", Box::new(|e| e.timestamp > 5)),
        ("timestamp <= -3", Box::new(|e| e.timestamp <= -3)),
        ("timestamp BETWEEN 0 AND 10", Box::new(|e| (0..=10).contains(&e.timestamp))),
        ("10 > timestamp AND timestamp >= 10", Box::new(|_| false)),
        ("timestamp = 7", Box::new(|e| e.timestamp == 7)),
        ("array_has(kind, 'b')", Box::new(|e| has(e, "kind", "b"))),
        (
            "array_has(kind, 'a') AND array_has(city, 'Paris')",
            Box::new(|e| has(e, "kind", "a") && has(e, "city", "Paris")),
        ),
        ("array_has(city, 'Oslo') AND grouping = 'g2'", Box::new(|e| has(e, "city", "Oslo") && e.grouping == "g2")),
        (
            "space = 's2' AND grouping = 'g1' AND timestamp BETWEEN -5 AND 30",
            Box::new(|e| e.space == "s2" && e.grouping == "g1" && (-5..=30).contains(&e.timestamp)),
        ),
        (
            "space IN ('s0', 's4') AND array_has(kind, 'c') AND timestamp < 20",
            Box::new(|e| (e.space == "s0" || e.space == "s4") && has(e, "kind", "c") && e.timestamp < 20),
        ),
        ("array_has(kind, 'nope')", Box::new(|_| false)),
        // Left to DataFusion, alone and beside pushed-down filters.
        ("data LIKE '%\"i\":1%'", Box::new(|e| e.data.contains("\"i\":1"))),
        ("space <> 's3' AND timestamp > 0", Box::new(|e| e.space != "s3" && e.timestamp > 0)),
        ("(space = 's1' OR grouping = 'g2')", Box::new(|e| e.space == "s1" || e.grouping == "g2")),
        ("NOT array_has(kind, 'a') AND space = 's6'", Box::new(|e| !has(e, "kind", "a") && e.space == "s6")),
    ]
}

async fn context(location: &str) -> SessionContext {
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(EsdbTable::open(location).await.unwrap())).unwrap();
    ctx
}

async fn query(ctx: &SessionContext, sql: &str) -> Vec<datafusion::arrow::array::RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .collect()
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_answers_as_the_model_does() {
    for seed in [1u64, 2] {
        let files = model(seed, 3);
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &files);
        let all: Vec<&Event> = files.iter().flatten().collect();
        let ctx = context(dir.path().to_str().unwrap()).await;
        for (clause, predicate) in conditions() {
            let columns = ["space", "grouping", "timestamp", "data", "city", "kind"];
            let sql = format!("SELECT {} FROM t WHERE {clause}", columns.join(", "));
            let mut got = rows(&query(&ctx, &sql).await);
            let mut expected: Vec<String> =
                all.iter().filter(|e| predicate(e)).map(|e| model_row(e, &columns)).collect();
            got.sort();
            expected.sort();
            assert_eq!(got, expected, "seed {seed}: {sql}");

            let count = query(&ctx, &format!("SELECT count(*) FROM t WHERE {clause}")).await;
            let n = count[0].column(0).as_primitive::<Int64Type>().value(0);
            assert_eq!(n as usize, expected.len(), "seed {seed}: count where {clause}");

            // Projections of some columns, in another order; the ids alone (answered from the
            // catalog's counts when every event of a unit is kept, else by reading).
            for columns in [&["kind", "timestamp"][..], &["grouping", "space"], &["grouping"], &["space"]] {
                let sql = format!("SELECT {} FROM t WHERE {clause}", columns.join(", "));
                let mut got = rows(&query(&ctx, &sql).await);
                let mut expected: Vec<String> =
                    all.iter().filter(|e| predicate(e)).map(|e| model_row(e, columns)).collect();
                got.sort();
                expected.sort();
                assert_eq!(got, expected, "seed {seed}: {sql}");
                let limited = rows(&query(&ctx, &format!("{sql} LIMIT 5")).await);
                assert_eq!(limited.len(), expected.len().min(5), "seed {seed}: {sql} LIMIT 5");
                assert!(limited.iter().all(|row| expected.contains(row)), "seed {seed}: {sql} LIMIT 5: {limited:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_limit_and_aggregates_match_the_model() {
    let files = model(7, 2);
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), &files);
    let all: Vec<&Event> = files.iter().flatten().collect();
    let ctx = context(dir.path().to_str().unwrap()).await;
    // Per space: count, min and max timestamp.
    let got = rows(
        &query(&ctx, "SELECT space, count(*), min(timestamp), max(timestamp) FROM t GROUP BY space ORDER BY space")
            .await,
    );
    let spaces: BTreeSet<&str> = all.iter().map(|e| e.space.as_str()).collect();
    let expected: Vec<String> = spaces
        .iter()
        .map(|space| {
            let of: Vec<i64> = all.iter().filter(|e| e.space == *space).map(|e| e.timestamp).collect();
            format!("{space}|{}|{}|{}", of.len(), of.iter().min().unwrap(), of.iter().max().unwrap())
        })
        .collect();
    assert_eq!(got, expected);
    // The newest events of one space, with a LIMIT.
    let got = rows(&query(&ctx, "SELECT timestamp FROM t WHERE space = 's2' ORDER BY timestamp DESC LIMIT 5").await);
    let mut times: Vec<i64> = all.iter().filter(|e| e.space == "s2").map(|e| e.timestamp).collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(got, times[..5].iter().map(i64::to_string).collect::<Vec<_>>());
    // A LIMIT without order returns that many rows, each one of the table's.
    let got =
        rows(&query(&ctx, "SELECT space, grouping, timestamp, data FROM t WHERE array_has(kind, 'a') LIMIT 7").await);
    assert_eq!(got.len(), 7);
    let cols = ["space", "grouping", "timestamp", "data"];
    let known: BTreeSet<String> = all.iter().filter(|e| has(e, "kind", "a")).map(|e| model_row(e, &cols)).collect();
    assert!(got.iter().all(|row| known.contains(row)), "{got:?}");
    // One file as a table, and a value's events unnested.
    let ctx = context(paths[0].to_str().unwrap()).await;
    let got = rows(&query(&ctx, "SELECT count(*) FROM t").await);
    assert_eq!(got, vec![files[0].len().to_string()]);
    let got =
        rows(&query(&ctx, "SELECT k, count(*) FROM (SELECT unnest(kind) AS k FROM t) GROUP BY k ORDER BY k").await);
    let expected: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|k| format!("{k}|{}", files[0].iter().filter(|e| has(e, "kind", k)).count()))
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_what_reached_esdb_and_counts_come_from_the_catalog() {
    let files = model(3, 1);
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), &files);
    let ctx = context(paths[0].to_str().unwrap()).await;
    let plan = rows(
        &query(&ctx, "EXPLAIN SELECT data FROM t WHERE space = 's1' AND array_has(city, 'Lima') AND timestamp >= 3 AND data LIKE '%x%'")
            .await,
    )
    .join("\n");
    assert!(
        plan.contains(
            r#"pushed down: space IN ("s1"), timestamp in [3, 9223372036854775807], array_has(city, "Lima")"#
        ),
        "{plan}"
    );
    assert!(plan.contains("FilterExec"), "the LIKE is DataFusion's: {plan}");
    // An exact count from the catalog: no scan at all.
    let plan = rows(&query(&ctx, "EXPLAIN SELECT count(*) FROM t WHERE space = 's1'").await).join("\n");
    assert!(!plan.contains("EsdbExec"), "{plan}");
    let n = files[0].iter().filter(|e| e.space == "s1").count();
    assert!(plan.contains(&format!("{n} as count(*)")), "{plan}");
    // So is the count of one index value: the value's own count in each space.
    let plan = rows(&query(&ctx, "EXPLAIN SELECT count(*) FROM t WHERE array_has(city, 'Lima')").await).join("\n");
    assert!(!plan.contains("EsdbExec"), "{plan}");
    let n = files[0].iter().filter(|e| has(e, "city", "Lima")).count();
    assert!(plan.contains(&format!("{n} as count(*)")), "{plan}");
    // Two conditions intersect, and a grouping is checked event by event: those are read.
    for clause in ["array_has(city, 'Lima') AND array_has(kind, 'a')", "array_has(city, 'Lima') AND grouping = 'g1'"] {
        let plan = rows(&query(&ctx, &format!("EXPLAIN SELECT count(*) FROM t WHERE {clause}")).await).join("\n");
        assert!(plan.contains("EsdbExec"), "{clause}: {plan}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_space_is_spread_over_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.esdb");
    let mut writer = esdb_write::Writer::create(&path).unwrap();
    for i in 0..20_000i64 {
        writer.add("one", i, format!("g{}", i % 50), [] as [(&str, &str); 0], format!("{i}")).unwrap();
    }
    writer.finish().unwrap();
    let ctx = SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().with_target_partitions(4));
    ctx.register_table("t", Arc::new(EsdbTable::open(path.to_str().unwrap()).await.unwrap())).unwrap();
    let plan = rows(&query(&ctx, "EXPLAIN SELECT sum(timestamp) FROM t").await).join("\n");
    assert!(plan.contains("EsdbExec: files=1, partitions=4"), "{plan}");
    let got = rows(&query(&ctx, "SELECT sum(timestamp), count(*) FROM t").await);
    assert_eq!(got, vec![format!("{}|20000", (0..20_000i64).sum::<i64>())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_is_not_utf8_is_an_error_naming_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bin.esdb");
    let mut writer = esdb_write::Writer::create(&path).unwrap();
    writer.add("s", 1, "", [] as [(&str, &str); 0], b"ok".as_slice()).unwrap();
    writer.add("s", 2, "", [] as [(&str, &str); 0], b"\xff\xfe".as_slice()).unwrap();
    writer.finish().unwrap();
    let ctx = context(path.to_str().unwrap()).await;
    let err = ctx.sql("SELECT data FROM t").await.unwrap().collect().await.unwrap_err().to_string();
    assert!(err.contains("the data of the event at 2 (ordinal 1)") && err.contains("is not UTF-8"), "{err}");
    // What does not read the data still works.
    assert_eq!(rows(&query(&ctx, "SELECT timestamp FROM t ORDER BY timestamp").await), vec!["1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_that_hold_no_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = EsdbTable::open(dir.path().to_str().unwrap()).await.unwrap_err().to_string();
    assert!(err.contains("no *.esdb file under this directory"), "{err}");
    let err = EsdbTable::open(dir.path().join("missing.esdb").to_str().unwrap()).await.unwrap_err().to_string();
    assert!(err.contains("missing.esdb"), "{err}");
    // A file:// prefix is listed like an S3 one; one object by its key is one file.
    write(dir.path(), &model(5, 2));
    let prefix = format!("file://{}", dir.path().display());
    let table = EsdbTable::open(&prefix).await.unwrap();
    assert_eq!(table.locations().count(), 2);
    let table = EsdbTable::open(&format!("file://{}/part-1.esdb", dir.path().display())).await.unwrap();
    assert_eq!(table.locations().collect::<Vec<_>>(), vec![format!("file://{}/part-1.esdb", dir.path().display())]);
}
