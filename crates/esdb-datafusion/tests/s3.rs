//! SQL over files in a real S3 server (started by `.ci/run` through `.ci/s3-server`), behind the
//! object-store tests' counting proxy: the same answers as the local files, and pushdown that
//! reads a handful of ranges, not the file.

use std::sync::Arc;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use esdb_datafusion::EsdbTable;
use esdb_object_store::object_store::aws::AmazonS3Builder;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ClientOptions, ObjectStore, RetryConfig};

#[path = "../../esdb-object-store/tests/support/proxy.rs"]
#[allow(dead_code)]
mod proxy;

struct S3 {
    endpoint: String,
    access_key: String,
    secret_key: String,
    bucket: String,
}

fn server() -> Option<S3> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    match (
        var("ESDB_TEST_S3_ENDPOINT"),
        var("ESDB_TEST_S3_ACCESS_KEY"),
        var("ESDB_TEST_S3_SECRET_KEY"),
        var("ESDB_TEST_S3_BUCKET"),
    ) {
        (Some(endpoint), Some(access_key), Some(secret_key), Some(bucket)) => {
            Some(S3 { endpoint, access_key, secret_key, bucket })
        }
        _ if std::env::var_os("CI").is_some() => {
            panic!("ESDB_TEST_S3_* are not set: .ci/run starts an S3 server with .ci/s3-server")
        }
        _ => {
            eprintln!("skipped: no S3 server (`.ci/s3-server start DIR` and `source DIR/env` start one)");
            None
        }
    }
}

impl S3 {
    fn store(&self, endpoint: &str) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(10)))
                .with_endpoint(endpoint)
                .with_access_key_id(&self.access_key)
                .with_secret_access_key(&self.secret_key)
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .with_allow_http(true)
                .with_retry(RetryConfig { max_retries: 0, ..RetryConfig::default() })
                .build()
                .unwrap(),
        )
    }
}

/// Uploads `local` as `a.esdb` and `b.esdb` under a new prefix starting with `tag`; returns the
/// prefix.
fn upload_twice(s3: &S3, store: &Arc<dyn ObjectStore>, local: &std::path::Path, tag: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("{tag}-{}-{nanos}", std::process::id());
    for name in ["a.esdb", "b.esdb"] {
        let key = Path::from(format!("{prefix}/{name}"));
        let url = format!("s3://{}/{key}", s3.bucket);
        tokio::task::block_in_place(|| esdb_object_store::upload_to(store.clone(), key, local, &url)).unwrap();
    }
    prefix
}

/// 20,000 spaces of 6 events, with an index.
fn write_many_spaces(path: &std::path::Path) {
    let mut writer = esdb_write::Writer::create(path).unwrap();
    for space in 0..20_000u32 {
        for i in 0..6u32 {
            let city = format!("city-{}", (space + i) % 40);
            let data = format!(r#"{{"visitor":{space},"n":{i},"padding":"{}"}}"#, "x".repeat(60));
            writer
                .add(
                    format!("visitor-{space:06}"),
                    i64::from(i) * 1000 + i64::from(space),
                    "",
                    [("city", city.as_str())],
                    data,
                )
                .unwrap();
        }
    }
    writer.finish().unwrap();
}

async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
    text.lines().map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_reads_s3_in_place_and_pushdown_reads_a_few_ranges() {
    let Some(s3) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("l2.esdb");
    write_many_spaces(&local);
    let file_len = std::fs::metadata(&local).unwrap().len();
    let direct = s3.store(&s3.endpoint);
    let prefix = upload_twice(&s3, &direct, &local, "sql");
    let proxy = proxy::Proxy::start(s3.endpoint.trim_start_matches("http://").parse().unwrap());
    let store = s3.store(&proxy.endpoint());
    let base = format!("s3://{}/", s3.bucket);

    // One object by its key.
    let one = EsdbTable::open_in_store(store.clone(), Path::from(format!("{prefix}/a.esdb")), &base).await.unwrap();
    assert_eq!(one.locations().count(), 1);
    let opened = proxy.seen().len();
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(one)).unwrap();
    let local_ctx = SessionContext::new();
    local_ctx.register_table("t", Arc::new(EsdbTable::open(local.to_str().unwrap()).await.unwrap())).unwrap();
    proxy.clear();
    let count = rows(&ctx, "SELECT count(*) FROM t WHERE space = 'visitor-012345'").await;
    assert!(count.iter().any(|line| line.contains("| 6 ")), "{count:?}");
    let seen = proxy.seen();
    assert!(seen.len() <= 2, "a count from the catalog: {seen:#?}");
    proxy.clear();
    let query =
        "SELECT timestamp, data, city FROM t WHERE space = 'visitor-004321' AND timestamp >= 6000 ORDER BY timestamp";
    let got = rows(&ctx, query).await;
    assert_eq!(got, rows(&local_ctx, query).await);
    assert_eq!(got.len(), 4 + 4, "four rows and the table's frame: {got:?}");
    let seen = proxy.seen();
    let fetched: u64 = seen.iter().map(|seen| seen.body_bytes).sum();
    assert!(
        seen.len() <= 4 && fetched * 4 < file_len,
        "{} requests, {fetched} of {file_len} bytes: {seen:#?}",
        seen.len()
    );
    assert!(opened <= 2, "open and the index names: {opened} requests");

    // Every object under the prefix.
    let both = EsdbTable::open_in_store(store.clone(), Path::from(prefix.clone()), &base).await.unwrap();
    assert_eq!(both.locations().count(), 2);
    let ctx = SessionContext::new();
    ctx.register_table("t", Arc::new(both)).unwrap();
    let query =
        "SELECT count(*), min(timestamp), max(timestamp) FROM t WHERE array_has(city, 'city-7') AND timestamp < 3000";
    std::fs::copy(&local, dir.path().join("l2-copy.esdb")).unwrap();
    let local_both = SessionContext::new();
    local_both.register_table("t", Arc::new(EsdbTable::open(dir.path().to_str().unwrap()).await.unwrap())).unwrap();
    assert_eq!(rows(&ctx, query).await, rows(&local_both, query).await);
}

/// A plan over objects, encoded where it was planned and decoded by a session whose runtime has
/// the bucket's store registered (as a Ballista executor's has): the executor reads the objects
/// through that store and answers as the local files do.
#[cfg(feature = "proto")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_over_objects_runs_where_it_is_decoded_through_the_registered_store() {
    use datafusion::execution::object_store::ObjectStoreUrl;
    use datafusion_proto::bytes::{
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };
    use esdb_datafusion::EsdbCodec;

    let Some(s3) = server() else { return };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("l2.esdb");
    write_many_spaces(&local);
    let direct = s3.store(&s3.endpoint);
    let prefix = upload_twice(&s3, &direct, &local, "codec");
    let base = format!("s3://{}/", s3.bucket);
    let table = EsdbTable::open_in_store(direct.clone(), Path::from(prefix.clone()), &base).await.unwrap();
    let planner = SessionContext::new();
    planner.register_table("t", Arc::new(table)).unwrap();
    std::fs::copy(&local, dir.path().join("l2-copy.esdb")).unwrap();
    let local_ctx = SessionContext::new();
    local_ctx.register_table("t", Arc::new(EsdbTable::open(dir.path().to_str().unwrap()).await.unwrap())).unwrap();

    // The executor reaches the bucket only through the store it registered: the counting proxy.
    let proxy = proxy::Proxy::start(s3.endpoint.trim_start_matches("http://").parse().unwrap());
    let executor = SessionContext::new();
    let bucket = ObjectStoreUrl::parse(format!("s3://{}", s3.bucket)).unwrap();
    executor.runtime_env().register_object_store(bucket.as_ref(), s3.store(&proxy.endpoint()));
    for query in [
        "SELECT count(*), min(timestamp), max(timestamp) FROM t WHERE array_has(city, 'city-7') AND timestamp < 3000",
        "SELECT space, timestamp, data FROM t WHERE space = 'visitor-004321' ORDER BY timestamp, data",
    ] {
        let plan = planner.sql(query).await.unwrap().create_physical_plan().await.unwrap();
        let bytes = physical_plan_to_bytes_with_extension_codec(plan, &EsdbCodec).unwrap();
        proxy.clear();
        let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &executor.task_ctx(), &EsdbCodec).unwrap();
        assert!(proxy.seen().is_empty(), "decoding opens no file: {:#?}", proxy.seen());
        let batches = datafusion::physical_plan::collect(decoded, executor.task_ctx()).await.unwrap();
        let got: Vec<String> = datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
            .lines()
            .map(str::to_owned)
            .collect();
        assert_eq!(got, rows(&local_ctx, query).await, "{query}");
        assert!(!proxy.seen().is_empty(), "the executor read through its registered store");
    }
}
