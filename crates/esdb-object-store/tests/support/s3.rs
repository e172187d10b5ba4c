//! The S3 server `.ci/s3-server` starts, as the environment describes it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use esdb_object_store::object_store::aws::AmazonS3Builder;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

pub struct S3 {
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    pub bucket: String,
}

impl S3 {
    /// The server, or `None` (with a note) where none was started; under CI a missing server is
    /// a failure, so that these tests cannot pass by not running.
    pub fn from_env() -> Option<S3> {
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

    pub fn addr(&self) -> SocketAddr {
        self.endpoint.trim_start_matches("http://").parse().expect("the endpoint is http://IP:PORT")
    }

    /// A store for the bucket through `endpoint` (the server's, or a proxy's), with the client's
    /// own retries off (the source retries) and a short timeout.
    pub fn store(&self, endpoint: &str) -> Arc<dyn ObjectStore> {
        let store = AmazonS3Builder::new()
            .with_endpoint(endpoint)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
            .with_region("us-east-1")
            .with_bucket_name(&self.bucket)
            // Client options first: they replace the allow-http setting.
            .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(2)))
            .with_allow_http(true)
            .with_retry(RetryConfig { max_retries: 0, ..RetryConfig::default() })
            .build()
            .unwrap();
        Arc::new(store)
    }

    /// Puts `bytes` at `key`, straight to the server.
    pub fn upload(&self, key: &str, bytes: Vec<u8>) -> Path {
        let path = Path::from(key);
        let store = self.store(&self.endpoint);
        super::runtime().block_on(store.put(&path, PutPayload::from(bytes))).unwrap();
        path
    }

    /// The variables that point the `esdb` command at the server.
    pub fn cli_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.clone()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
    }
}

/// A key prefix no other test run uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}
