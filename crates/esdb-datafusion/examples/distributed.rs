//! A query run as a distributed engine (Ballista) runs it, in one process: a scheduler plans it
//! and serializes the scan stage with [`EsdbCodec`]; two executors, each with a session of its
//! own that knows no table, decode the stage and run their share of its partitions (tasks); the
//! scheduler combines their partial results.
//!
//! ```sh
//! cargo run -p esdb-datafusion --features proto --example distributed
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use esdb_datafusion::{EsdbCodec, EsdbTable};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let fail = |err: esdb_write::WriteError| DataFusionError::External(err.into());
    for part in 0..2 {
        let mut writer = esdb_write::Writer::create(dir.path().join(format!("visits-{part}.esdb"))).map_err(fail)?;
        for i in 0..50_000i64 {
            let visitor = format!("visitor-{}", (i + part) % 1000);
            let city = ["Paris", "Oslo", "Lima", "Rome"][(i % 7 % 4) as usize];
            writer
                .add(&visitor, 1_700_000_000 + i * 13, format!("host-{}", i % 5), [("city", city)], "{}")
                .map_err(fail)?;
        }
        writer.finish().map_err(fail)?;
    }
    let location = dir.path().to_str().expect("a UTF-8 temporary directory").to_owned();

    // The scheduler: plans the query over the files (local here; s3:// objects on a cluster).
    let scheduler = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(4));
    scheduler.register_table("visits", Arc::new(EsdbTable::open(&location).await?))?;
    let query = "SELECT grouping, count(*) AS visits FROM visits \
                 WHERE array_has(city, 'Oslo') AND timestamp >= 1700100000 GROUP BY grouping";
    let plan = scheduler.sql(query).await?.create_physical_plan().await?;
    // The first stage: the partial aggregation over the ESDB scan, one task per partition.
    let stage = first_stage(plan);
    let tasks = stage.properties().output_partitioning().partition_count();
    let bytes = physical_plan_to_bytes_with_extension_codec(stage, &EsdbCodec)?;
    println!("stage 1: {tasks} tasks, plan shipped as {} bytes", bytes.len());

    // Two executors: each decodes the stage and runs every other task.
    let mut handles = Vec::new();
    for executor in 0..2 {
        let bytes = bytes.clone();
        handles.push(tokio::spawn(async move {
            let session = SessionContext::new();
            let stage = physical_plan_from_bytes_with_extension_codec(&bytes, &session.task_ctx(), &EsdbCodec)?;
            let mut outputs = Vec::new();
            for task in (executor..tasks).step_by(2) {
                let stream = stage.execute(task, session.task_ctx())?;
                let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(stream).await?;
                println!("executor {executor}: task {task} returned {} partial rows", rows(&batches));
                outputs.extend(batches);
            }
            Ok::<_, DataFusionError>(outputs)
        }));
    }
    // The scheduler's final stage: partial counts summed per grouping (host).
    let mut totals: BTreeMap<String, i64> = BTreeMap::new();
    for handle in handles {
        for batch in handle.await.map_err(|err| DataFusionError::External(err.into()))?? {
            let (groupings, counts) = (batch.column(0).as_string::<i32>(), batch.column(1).as_primitive::<Int64Type>());
            for row in 0..batch.num_rows() {
                *totals.entry(groupings.value(row).to_owned()).or_default() += counts.value(row);
            }
        }
    }
    println!("distributed: {totals:?}");
    let mut local: BTreeMap<String, i64> = BTreeMap::new();
    for batch in scheduler.sql(query).await?.collect().await? {
        let (groupings, counts) = (batch.column(0).as_string::<i32>(), batch.column(1).as_primitive::<Int64Type>());
        for row in 0..batch.num_rows() {
            local.insert(groupings.value(row).to_owned(), counts.value(row));
        }
    }
    assert_eq!(totals, local, "the distributed answer is the one-process answer");
    println!("one process: the same");
    Ok(())
}

/// The input of the plan's first exchange (`RepartitionExec`): the first stage, whose tasks run
/// up to the shuffle. A plan without an exchange is one stage.
fn first_stage(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    let mut node = plan.clone();
    loop {
        let Some(child) = node.children().first().map(|child| Arc::clone(child)) else { return plan };
        if node.name() == "RepartitionExec" {
            return child;
        }
        node = child;
    }
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
