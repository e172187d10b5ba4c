//! Plans with ESDB scans serialized where they are planned and run where they are decoded, as
//! Ballista's scheduler and executors do: the same answers, partition by partition, as the plan
//! run where it was made; files opened only by the partitions that read them; clear errors for
//! plans whose files are gone or changed.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::physical_plan::{displayable, ExecutionPlan};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::{
    logical_plan_from_bytes_with_extension_codec, logical_plan_to_bytes_with_extension_codec,
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use esdb_datafusion::{EsdbCodec, EsdbTable};

/// Two files of visits: 40 visitors over 5 hosts, cities as an index.
fn write_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let cities = ["Paris", "Oslo", "Lima", "Rome"];
    (0..2)
        .map(|n| {
            let path = dir.join(format!("visits-{n}.esdb"));
            let mut writer = esdb_write::Writer::create(&path).unwrap();
            for i in 0..3_000i64 {
                let visitor = format!("visitor-{:02}", (i * 7 + n) % 40);
                let city = cities[(i % 11 % 4) as usize];
                let data = format!(r#"{{"file":{n},"i":{i}}}"#);
                writer.add(&visitor, 1_000 + i * 3, format!("host-{}", i % 5), [("city", city)], data).unwrap();
            }
            writer.finish().unwrap();
            path
        })
        .collect()
}

/// Where queries are planned: the files of `dir` as the table `visits`, four partitions.
async fn planner(dir: &std::path::Path) -> SessionContext {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    ctx.register_table("visits", Arc::new(EsdbTable::open(dir.to_str().unwrap()).await.unwrap())).unwrap();
    ctx
}

/// Rows as text, in the order given.
fn text(batches: &[RecordBatch]) -> Vec<String> {
    datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .unwrap()
        .to_string()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Partition `partition` of `plan`, run on its own, as a task would.
async fn run_partition(
    plan: &Arc<dyn ExecutionPlan>,
    partition: usize,
    ctx: &SessionContext,
) -> datafusion::common::Result<Vec<RecordBatch>> {
    futures::TryStreamExt::try_collect(plan.execute(partition, ctx.task_ctx())?).await
}

/// Each partition of `plan`, run on its own.
async fn by_partition(plan: &Arc<dyn ExecutionPlan>, ctx: &SessionContext) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for partition in 0..plan.properties().output_partitioning().partition_count() {
        out.push(text(&run_partition(plan, partition, ctx).await.unwrap()));
    }
    out
}

const QUERIES: [&str; 7] = [
    "SELECT count(*) FROM visits WHERE array_has(city, 'Paris')",
    "SELECT space, timestamp, data FROM visits WHERE space = 'visitor-07' AND timestamp >= 4000 ORDER BY timestamp",
    "SELECT grouping, count(*) AS n FROM visits GROUP BY grouping ORDER BY grouping",
    "SELECT space, count(*) FROM visits WHERE space IN ('visitor-01', 'visitor-02') AND array_has(city, 'Oslo') \
     AND array_has(city, 'Oslo') GROUP BY space ORDER BY space",
    "SELECT city, count(*) FROM visits WHERE timestamp BETWEEN 2000 AND 5000 AND grouping = 'host-3' \
     GROUP BY city ORDER BY city",
    "SELECT space, grouping, timestamp, city FROM visits WHERE space = 'visitor-33' ORDER BY grouping, timestamp LIMIT 5",
    "SELECT count(*) FROM visits WHERE timestamp > 9000000",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoded_physical_plan_answers_as_the_planned_one_partition_by_partition() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let ctx = planner(dir.path()).await;
    for query in QUERIES {
        let plan = ctx.sql(query).await.unwrap().create_physical_plan().await.unwrap();
        let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &EsdbCodec).unwrap();
        // The executor's session knows no table: everything comes from the bytes.
        let executor = SessionContext::new();
        let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap();
        assert_eq!(
            displayable(decoded.as_ref()).indent(true).to_string(),
            displayable(plan.as_ref()).indent(true).to_string(),
            "{query}"
        );
        let expected = datafusion::physical_plan::collect(plan.clone(), ctx.task_ctx()).await.unwrap();
        let got = datafusion::physical_plan::collect(decoded.clone(), executor.task_ctx()).await.unwrap();
        assert_eq!(text(&got), text(&expected), "{query}");
        assert!(text(&got).len() > 4, "{query} selects something: {:?}", text(&got));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_partition_of_a_decoded_scan_reads_what_it_was_planned_to() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let ctx = planner(dir.path()).await;
    let query = "SELECT space, grouping, timestamp, data FROM visits WHERE timestamp < 6000";
    let plan = ctx.sql(query).await.unwrap().create_physical_plan().await.unwrap();
    let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &EsdbCodec).unwrap();
    let executor = SessionContext::new();
    let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap();
    let expected = by_partition(&plan, &ctx).await;
    assert!(expected.len() >= 4, "the scan is spread over partitions: {}", expected.len());
    assert_eq!(by_partition(&decoded, &executor).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoded_scan_opens_only_the_files_its_partitions_read() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path());
    let ctx = planner(dir.path()).await;
    let plan = ctx.sql("SELECT space, data FROM visits").await.unwrap().create_physical_plan().await.unwrap();
    let bytes = physical_plan_to_bytes_with_extension_codec(plan.clone(), &EsdbCodec).unwrap();
    let expected = by_partition(&plan, &ctx).await;
    // The second file is gone before the plan reaches the executor: decoding still works, the
    // partitions of the first file answer, and those of the second fail naming it.
    std::fs::remove_file(&paths[1]).unwrap();
    let executor = SessionContext::new();
    let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap();
    let (mut answered, mut failed) = (0, 0);
    for (partition, rows) in expected.iter().enumerate() {
        match run_partition(&decoded, partition, &executor).await {
            Ok(batches) => {
                assert_eq!(&text(&batches), rows);
                answered += 1;
            }
            Err(err) => {
                assert!(err.to_string().contains(&paths[1].display().to_string()), "{err}");
                failed += 1;
            }
        }
    }
    assert!(answered > 0 && failed > 0, "{answered} partitions answered, {failed} failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decoded_logical_plan_reopens_the_table_and_answers_the_same() {
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path());
    let ctx = planner(dir.path()).await;
    for query in QUERIES {
        let frame = ctx.sql(query).await.unwrap();
        let bytes = logical_plan_to_bytes_with_extension_codec(frame.logical_plan(), &EsdbCodec).unwrap();
        let executor = SessionContext::new();
        let plan = logical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap();
        let got = executor.execute_logical_plan(plan).await.unwrap().collect().await.unwrap();
        assert_eq!(text(&got), text(&frame.collect().await.unwrap()), "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logical_plan_whose_files_changed_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path());
    let ctx = planner(dir.path()).await;
    let frame = ctx.sql("SELECT count(*) FROM visits").await.unwrap();
    let bytes = logical_plan_to_bytes_with_extension_codec(frame.logical_plan(), &EsdbCodec).unwrap();
    // One file rewritten with another index: the table's columns are not those planned.
    std::fs::remove_file(&paths[0]).unwrap();
    let mut writer = esdb_write::Writer::create(&paths[0]).unwrap();
    writer.add("visitor-01", 1, "", [("device", "phone")], "{}").unwrap();
    writer.finish().unwrap();
    let executor = SessionContext::new();
    let err = logical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap_err();
    assert!(err.to_string().contains("table visits: its files now make the schema"), "{err}");
    assert!(err.to_string().contains("device"), "{err}");
}

#[test]
fn other_plans_are_not_encoded_by_the_codec() {
    use datafusion_proto::physical_plan::{DefaultPhysicalProtoConverter, PhysicalExtensionCodec};
    let schema = Arc::new(datafusion::arrow::datatypes::Schema::empty());
    let empty = Arc::new(datafusion::physical_plan::empty::EmptyExec::new(schema));
    let err = EsdbCodec.try_encode(empty, &mut Vec::new(), &DefaultPhysicalProtoConverter {}).unwrap_err();
    assert!(err.to_string().contains("EsdbCodec encodes EsdbExec plans only, not EmptyExec"), "{err}");
}
