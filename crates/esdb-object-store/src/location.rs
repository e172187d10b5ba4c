//! From a URL to a store and a path in it.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::error::Error;

/// True when `location` is a URL this crate reads (`s3://…` or `file://…`) rather than a local
/// path.
///
/// ```
/// assert!(esdb_object_store::is_object_url("s3://events/2026-11.esdb"));
/// assert!(!esdb_object_store::is_object_url("events/2026-11.esdb"));
/// ```
pub fn is_object_url(location: &str) -> bool {
    location.starts_with("s3://") || location.starts_with("file://")
}

/// The store and the path within it that `url` names:
///
/// - `s3://BUCKET/KEY`: S3, configured from the standard environment variables:
///   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`), `AWS_REGION` or
///   `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for another endpoint (an S3-compatible server,
///   addressed path-style unless `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`), `AWS_ALLOW_HTTP=true`
///   for a plain-HTTP endpoint.
/// - `file:///PATH`: a local file, read through the same requests as an object (useful to see
///   what a query would cost far away).
///
/// # Errors
/// [`Error::Location`] for another scheme, a missing bucket or key, or a key that is not a
/// valid object path; [`Error::Configure`] when the store cannot be built from the
/// environment.
pub fn store_for(url: &str) -> Result<(Arc<dyn ObjectStore>, Path), Error> {
    let bad = |reason: &str| Error::Location { location: url.to_owned(), reason: reason.to_owned() };
    if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, key) = rest.split_once('/').ok_or_else(|| bad("expected s3://BUCKET/KEY"))?;
        if bucket.is_empty() {
            return Err(bad("the bucket name is empty"));
        }
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        let path = Path::parse(key).map_err(|err| bad(&format!("not a valid object key: {err}")))?;
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            // Retries are the source's (`ObjectSourceOptions::retries`), so that one policy
            // applies whatever the store, and a dead endpoint fails in a second, not minutes.
            .with_retry(object_store::RetryConfig { max_retries: 0, ..object_store::RetryConfig::default() })
            .build()
            .map_err(|source| Error::Configure { url: url.to_owned(), source })?;
        return Ok((Arc::new(store), path));
    }
    if let Some(rest) = url.strip_prefix("file://") {
        let path = Path::from_filesystem_path(rest).map_err(|err| bad(&format!("not a usable local path: {err}")))?;
        return Ok((Arc::new(LocalFileSystem::new()), path));
    }
    Err(bad("expected s3://BUCKET/KEY or file:///PATH"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_that_name_no_object_are_refused_with_the_reason() {
        for (url, reason) in [
            ("s3://bucket", "expected s3://BUCKET/KEY"),
            ("s3:///key", "the bucket name is empty"),
            ("s3://bucket/", "the key is empty"),
            ("s3://bucket/a//b", "not a valid object key"),
            ("gs://bucket/key", "expected s3://BUCKET/KEY or file:///PATH"),
        ] {
            match store_for(url) {
                Err(Error::Location { location, reason: got }) => {
                    assert_eq!(location, url);
                    assert!(got.starts_with(reason), "{url}: {got}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
    }
}
