//! Every command that reads a file, given `s3://BUCKET/KEY` of a copy on a real S3 server
//! (started by `.ci/run` through `.ci/s3-server`): byte-identical output to the same command on
//! the local file.

use std::sync::Arc;
use std::time::Duration;

use esdb_object_store::object_store::aws::AmazonS3Builder;
use esdb_object_store::object_store::path::Path;
use esdb_object_store::object_store::{ClientOptions, ObjectStore};

use crate::common::{visits_jsonl, Scratch};

struct S3 {
    endpoint: String,
    access_key: String,
    secret_key: String,
    bucket: String,
}

impl S3 {
    fn from_env() -> Option<S3> {
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

    fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(
            AmazonS3Builder::new()
                .with_client_options(ClientOptions::new().with_timeout(Duration::from_secs(10)))
                .with_endpoint(&self.endpoint)
                .with_access_key_id(&self.access_key)
                .with_secret_access_key(&self.secret_key)
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .with_allow_http(true)
                .build()
                .unwrap(),
        )
    }

    /// Copies `local` to a fresh key and returns its `s3://` URL.
    fn upload(&self, local: &std::path::Path, key: &str) -> String {
        let url = format!("s3://{}/{key}", self.bucket);
        esdb_object_store::upload_to(self.store(), Path::from(key), local, &url).unwrap();
        url
    }

    /// `esdb ARGS...` with the machine's AWS and proxy variables replaced by the test server's.
    fn esdb(&self, s: &Scratch, args: &[&str]) -> std::process::Output {
        self.command(s, args).output().unwrap()
    }

    /// The command [`esdb`](S3::esdb) runs.
    fn command(&self, s: &Scratch, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = s.esdb(args);
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy().into_owned();
            if name.starts_with("AWS_") || name.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(&name);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", &self.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret_key)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ALLOW_HTTP", "true");
        cmd
    }
}

fn prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("cli-{}-{nanos}", std::process::id())
}

#[test]
fn every_reading_command_prints_the_same_for_s3_as_for_the_local_file() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    s.write("visits.jsonl", visits_jsonl(3000, 0));
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
        "s",
        "--grouping",
        "host",
        "--index",
        "city",
        "--index",
        "tags",
        "--covering-index",
        "city",
        "--quiet",
    ]);
    let prefix = prefix();
    let url = s3.upload(&s.path("v.esdb"), &format!("{prefix}/v.esdb"));
    let commands: Vec<Vec<&str>> = vec![
        vec!["spaces", "FILE"],
        vec!["spaces", "--counts", "FILE"],
        vec!["scan", "FILE", "v3"],
        vec!["scan", "FILE", "v3", "--reverse", "--limit", "17"],
        vec!["scan", "FILE", "v0", "--grouping", "h1", "--format", "data"],
        vec!["scan", "FILE", "v1", "--index", "city=Oslo"],
        vec!["scan", "FILE", "v2", "--index", "tags=t1", "--reverse"],
        vec!["scan", "FILE", "v4", "--from", "2024-05-03T00:00:00Z", "--until", "2024-05-09T00:00:00Z"],
        vec!["info", "FILE"],
        vec!["info", "--json", "FILE"],
        vec!["info", "--fast", "FILE"],
        vec!["verify", "FILE"],
        vec!["dump", "FILE"],
        vec!["export", "FILE"],
        vec!["export", "--format", "csv", "FILE"],
    ];
    for command in &commands {
        let local: Vec<&str> = command.iter().map(|arg| if *arg == "FILE" { "v.esdb" } else { arg }).collect();
        let remote: Vec<&str> = command.iter().map(|arg| if *arg == "FILE" { url.as_str() } else { arg }).collect();
        let expected = s3.esdb(&s, &local);
        let got = s3.esdb(&s, &remote);
        assert!(expected.status.success(), "{local:?}: {}", String::from_utf8_lossy(&expected.stderr));
        assert!(got.status.success(), "{remote:?}: {}", String::from_utf8_lossy(&got.stderr));
        // Where a command names its file, it names the location it was given.
        let expected_text = String::from_utf8(expected.stdout).unwrap().replace("v.esdb", &url);
        assert_eq!(String::from_utf8(got.stdout).unwrap(), expected_text, "{remote:?}");
        assert_eq!(got.stderr, expected.stderr.clone(), "{remote:?}");
    }
    // Files written from remote inputs are the same bytes.
    let parquet = s3.esdb(&s, &["export", "--format", "parquet", "-o", "remote.parquet", &url, "--quiet"]);
    assert!(parquet.status.success(), "{}", String::from_utf8_lossy(&parquet.stderr));
    s.ok(&["export", "--format", "parquet", "-o", "local.parquet", "v.esdb", "--quiet"]);
    assert_eq!(std::fs::read(s.path("remote.parquet")).unwrap(), std::fs::read(s.path("local.parquet")).unwrap());
    s.write("more.jsonl", visits_jsonl(500, 3));
    s.ok(&[
        "import",
        "more.jsonl",
        "-o",
        "w.esdb",
        "--space",
        "visitor",
        "--timestamp",
        "at",
        "--grouping",
        "host",
        "--quiet",
    ]);
    let other = s3.upload(&s.path("w.esdb"), &format!("{prefix}/w.esdb"));
    let merged = s3.esdb(&s, &["merge", "-o", "remote.esdb", &url, &other, "--quiet"]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    s.ok(&["merge", "-o", "local.esdb", "v.esdb", "w.esdb", "--quiet"]);
    assert_eq!(std::fs::read(s.path("remote.esdb")).unwrap(), std::fs::read(s.path("local.esdb")).unwrap());
}

#[test]
fn a_missing_object_or_bucket_is_an_error_that_names_it() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    let missing = format!("s3://{}/{}/nothing.esdb", s3.bucket, prefix());
    for url in [missing.as_str(), "s3://no-such-bucket-for-esdb/x.esdb"] {
        let out = s3.esdb(&s, &["info", url]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with(&format!("esdb: error: cannot open {url} as an ESDB file: {url}: GET")), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let out = s3.esdb(&s, &["info", "s3://bucket-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected s3://BUCKET/KEY"));
}

#[test]
fn readme_s3_tutorial_runs_as_written() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/activity.csv");
    s.ok(&[
        "import",
        csv.to_str().unwrap(),
        "-o",
        "activity.esdb",
        "--space",
        "customer",
        "--timestamp",
        "ts",
        "--index",
        "type",
    ]);
    let prefix = prefix();
    s3.upload(&s.path("activity.esdb"), &format!("{prefix}/activity.esdb"));
    let commands = crate::tutorial::tutorial_commands("s3 tutorial");
    assert_eq!(commands.len(), 4);
    for line in &commands {
        let remote: Vec<String> = line
            .args
            .iter()
            .map(|arg| arg.replace("s3://my-bucket/", &format!("s3://{}/{prefix}/", s3.bucket)))
            .collect();
        let remote: Vec<&str> = remote.iter().map(String::as_str).collect();
        let local: Vec<String> = line.args.iter().map(|arg| arg.replace("s3://my-bucket/", "")).collect();
        let local: Vec<&str> = local.iter().map(String::as_str).collect();
        let got = s3.esdb(&s, &remote);
        assert!(got.status.success(), "{remote:?}: {}", String::from_utf8_lossy(&got.stderr));
        let url = format!("s3://{}/{prefix}/activity.esdb", s3.bucket);
        assert_eq!(String::from_utf8(got.stdout).unwrap(), s.ok(&local).replace("activity.esdb", &url), "{remote:?}");
    }
}

#[test]
fn sql_over_an_s3_object_or_prefix_answers_as_over_local_files() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    std::fs::create_dir_all(s.path("local")).unwrap();
    s.write("a.jsonl", visits_jsonl(2000, 0));
    s.write("b.jsonl", visits_jsonl(1500, 5));
    for name in ["a", "b"] {
        let out = format!("local/{name}.esdb");
        s.ok(&[
            "import",
            &format!("{name}.jsonl"),
            "-o",
            &out,
            "--space",
            "visitor",
            "--timestamp",
            "at",
            "--grouping",
            "host",
            "--index",
            "city",
            "--quiet",
        ]);
    }
    let prefix = prefix();
    let one = s3.upload(&s.path("local/a.esdb"), &format!("{prefix}/a.esdb"));
    s3.upload(&s.path("local/b.esdb"), &format!("{prefix}/b.esdb"));
    let all = format!("s3://{}/{prefix}", s3.bucket);
    for query in [
        "SELECT space, grouping, count(*) AS n, min(timestamp), max(timestamp) FROM t GROUP BY space, grouping ORDER BY space, grouping",
        "SELECT timestamp, data, city FROM t WHERE space = 'v3' AND array_has(city, 'Oslo') ORDER BY timestamp, data",
        "SELECT count(*) FROM t WHERE grouping = 'h1' AND timestamp BETWEEN 1714800000 AND 1715800000",
    ] {
        for format in ["jsonl", "csv", "table"] {
            let remote = s3.esdb(&s, &["sql", query, "--table", &format!("t={all}"), "--format", format]);
            assert!(remote.status.success(), "{query}: {}", String::from_utf8_lossy(&remote.stderr));
            let local = s.ok(&["sql", query, "--table", "t=local", "--format", format]);
            assert_eq!(String::from_utf8(remote.stdout).unwrap(), local, "{query} ({format})");
        }
        let remote = s3.esdb(&s, &["sql", query, "--table", &format!("t={one}"), "--format", "csv"]);
        assert!(remote.status.success(), "{query}: {}", String::from_utf8_lossy(&remote.stderr));
        let local = s.ok(&["sql", query, "--table", "t=local/a.esdb", "--format", "csv"]);
        assert_eq!(String::from_utf8(remote.stdout).unwrap(), local, "{query} (one object)");
    }
}

#[test]
fn a_store_tiered_to_s3_answers_from_its_copies() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    let lines: String = (0..400u64)
        .map(|n| format!("{{\"s\":\"s{}\",\"t\":{},\"k\":\"v{}\",\"n\":{n}}}\n", n % 5, n * 300, n % 3))
        .collect();
    let appended = s
        .esdb(&[
            "store",
            "append",
            "events",
            "--space",
            "s",
            "--timestamp",
            "t",
            "--index",
            "k",
            "--partition-window",
            "20000",
        ])
        .write_stdin(lines)
        .output()
        .unwrap();
    assert!(appended.status.success(), "{}", String::from_utf8_lossy(&appended.stderr));
    s.ok(&["store", "seal", "events"]);
    let reads: Vec<Vec<&str>> = vec![
        vec!["store", "spaces", "events", "--counts"],
        vec!["store", "export", "events"],
        vec!["store", "scan", "events", "s1", "--reverse"],
        vec!["store", "scan", "events", "s2", "--index", "k=v1", "--limit", "7"],
        vec!["store", "read", "events", "--from", "0"],
    ];
    let before: Vec<Vec<u8>> = reads.iter().map(|args| s3.esdb(&s, args).stdout).collect();
    let remote = format!("s3://{}/{}", s3.bucket, prefix());
    let tiered = s3.esdb(&s, &["store", "tier", "events", "--remote", &remote, "--local-bytes", "0"]);
    let stderr = String::from_utf8_lossy(&tiered.stderr);
    assert!(tiered.status.success(), "{stderr}");
    let partitions = esdb_store::Manifest::load(&s.path("events")).unwrap().unwrap().partitions;
    assert!(partitions.len() >= 5 && partitions.iter().all(|p| p.remote && !p.local), "{partitions:?}");
    assert!(stderr.starts_with(&format!("uploaded {} partitions", partitions.len())), "{stderr}");
    assert_eq!(std::fs::read_dir(s.path("events/partitions")).unwrap().count(), 0);
    for (args, expected) in reads.iter().zip(&before) {
        let got = s3.esdb(&s, args);
        assert!(got.status.success(), "{args:?}: {}", String::from_utf8_lossy(&got.stderr));
        assert_eq!(&got.stdout, expected, "{args:?}");
    }
    let verified = s3.esdb(&s, &["store", "verify", "events"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stdout));
    // Without credentials the remote partitions cannot be read: an error, never fewer events.
    let mut cmd = s.esdb(&["store", "export", "events"]);
    cmd.env("AWS_ENDPOINT_URL", "http://127.0.0.1:9").env("AWS_ALLOW_HTTP", "true");
    cmd.env("AWS_ACCESS_KEY_ID", "x").env("AWS_SECRET_ACCESS_KEY", "y").env("AWS_DEFAULT_REGION", "us-east-1");
    let unreachable = cmd.output().unwrap();
    assert_eq!(unreachable.status.code(), Some(1), "{}", String::from_utf8_lossy(&unreachable.stderr));
}

#[test]
fn readme_tier_tutorial_runs_as_written() {
    let Some(s3) = S3::from_env() else { return };
    let s = Scratch::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let prefix = prefix();
    let commands = crate::tutorial::tutorial_commands("tier tutorial");
    assert_eq!(commands.len(), 4);
    let mut outputs = Vec::new();
    for line in &commands {
        let args: Vec<String> = line
            .args
            .iter()
            .map(|arg| arg.replace("s3://my-bucket/", &format!("s3://{}/{prefix}/", s3.bucket)))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if args[1] == "tier" {
            // What the scan after it must print: the answer before the partitions left.
            outputs.push(s.ok(&["store", "scan", "archive/", "3", "--index", "type=purchase"]));
        }
        let mut cmd = s3.command(&s, &args);
        if let Some(file) = &line.stdin {
            cmd.write_stdin(std::fs::read(root.join(file)).unwrap());
        }
        let got = cmd.output().unwrap();
        assert!(got.status.success(), "{args:?}: {}", String::from_utf8_lossy(&got.stderr));
        outputs.push(String::from_utf8(got.stdout).unwrap());
    }
    assert_eq!(std::fs::read_dir(s.path("archive/partitions")).unwrap().count(), 0);
    let (before, after) = (&outputs[2], &outputs[4]);
    assert_eq!(before.lines().count(), 1, "{before}");
    assert_eq!(after, before);
}
