//! `esdb store` as operators meet it: readers beside a writer process, read-only media, exit
//! codes (0 ok, 1 problems found, 2 cannot open), `repair`, and output that cannot be written
//! (issue 12, measured items 3, 4 and 13).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::Scratch;

fn esdb() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("esdb"))
}

fn lines(from: u64, to: u64) -> String {
    (from..to).map(|n| format!("{{\"s\":\"s{}\",\"t\":{n},\"k\":\"v{}\",\"n\":{n}}}\n", n % 3, n % 2)).collect()
}

/// Appends `from..to` to the store `dir` through `esdb store append`.
fn append(s: &Scratch, dir: &str, from: u64, to: u64) {
    let output = s
        .esdb(&["store", "append", dir, "--space", "s", "--timestamp", "t", "--index", "k"])
        .write_stdin(lines(from, to))
        .output()
        .unwrap();
    assert!(output.status.success(), "append: {}", String::from_utf8_lossy(&output.stderr));
}

/// `esdb store read DIR --from 0 --follow` in the background, its output piped.
fn follow(s: &Scratch, dir: &str) -> std::process::Child {
    esdb()
        .current_dir(s.dir.path())
        .args(["store", "read", dir, "--from", "0", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_follower_process_never_blocks_the_writer_process() {
    // See: issue 12, measured item 3 (a running `store read --follow` made appends fail with
    // "another process has the store open for writing").
    let s = Scratch::new();
    append(&s, "events", 0, 10);
    let mut follower = follow(&s, "events");
    let mut out = BufReader::new(follower.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(first.contains("\"offset\":0"), "{first}");
    for round in 0..5 {
        append(&s, "events", 10 + round * 10, 20 + round * 10);
    }
    let scan = s.ok(&["store", "scan", "events", "s1"]);
    assert_eq!(scan.lines().count(), 20);
    let mut seen = 1;
    let mut line = String::new();
    while seen < 60 {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "the follower stopped after {seen} lines");
        seen += 1;
    }
    assert!(line.contains("\"offset\":59"), "{line}");
    follower.kill().unwrap();
    let _ = follower.wait();
}

/// A read-only bind mount of `source` at `target`, unmounted on drop.
struct ReadOnlyMount<'p>(&'p Path);

impl<'p> ReadOnlyMount<'p> {
    fn new(source: &Path, target: &'p Path) -> Option<ReadOnlyMount<'p>> {
        std::fs::create_dir_all(target).unwrap();
        let bind = Command::new("mount").arg("--bind").arg(source).arg(target).output().ok()?;
        if !bind.status.success() {
            return None;
        }
        let mount = ReadOnlyMount(target);
        let ro = Command::new("mount").args(["-o", "remount,bind,ro"]).arg(target).output().ok()?;
        ro.status.success().then_some(mount)
    }
}

impl Drop for ReadOnlyMount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn every_read_command_works_on_read_only_media() {
    // See: issue 12, measured item 4 ("cannot create LOCK" on a read-only mount).
    let s = Scratch::new();
    append(&s, "events", 0, 50);
    s.ok(&["store", "seal", "events"]);
    append(&s, "events", 50, 60);
    std::fs::remove_file(s.path("events/LOCK")).unwrap();
    let target = s.path("ro");
    let Some(_mount) = ReadOnlyMount::new(&s.path("events"), &target) else {
        // Without the right to mount, prove the same thing another way: nothing is written.
        let before = std::fs::read_dir(s.path("events")).unwrap().count();
        s.ok(&["store", "scan", "events", "s1"]);
        s.ok(&["store", "verify", "events"]);
        assert_eq!(std::fs::read_dir(s.path("events")).unwrap().count(), before);
        assert!(!s.path("events/LOCK").exists());
        eprintln!("mount is not permitted here: checked that reads write nothing instead");
        return;
    };
    assert!(std::fs::write(target.join("probe"), b"x").is_err(), "the mount is writable");
    assert_eq!(s.ok(&["store", "scan", "ro", "s1"]).lines().count(), 20);
    assert_eq!(s.ok(&["store", "read", "ro", "--from", "0"]).lines().count(), 60);
    assert!(s.ok(&["store", "info", "ro"]).contains("sealed through:   50"));
    assert!(s.ok(&["store", "verify", "ro"]).contains("ok"));
    // A writer cannot open it, and says so with exit 2.
    let stderr = s.fails(&["store", "seal", "ro"], 2);
    assert!(stderr.contains("cannot open store"), "{stderr}");
}

#[test]
fn exit_codes_say_ok_problems_or_cannot_open() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("empty")).unwrap();
    for args in [
        &["store", "verify", "empty"][..],
        &["store", "scan", "empty", "s"],
        &["store", "read", "empty"],
        &["store", "info", "nothere"],
    ] {
        let stderr = s.fails(args, 2);
        assert!(stderr.contains("not an esdb store"), "{args:?}: {stderr}");
    }
    append(&s, "events", 0, 30);
    assert!(s.ok(&["store", "verify", "events"]).ends_with("ok\n"));
    let segment = s.path("events/log/00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[60] ^= 0xff;
    std::fs::write(&segment, bytes).unwrap();
    let output = s.esdb(&["store", "verify", "events"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stdout).contains("problem: corrupt log segment"));
    // A damaged log is refused for writing (exit 2) and repaired on request.
    s.fails(&["store", "seal", "events"], 2);
    let repaired = s.ok(&["store", "repair", "events"]);
    assert!(repaired.contains("quarantined"), "{repaired}");
    assert!(s.ok(&["store", "verify", "events"]).contains("ok"));
    s.ok(&["store", "seal", "events"]);
}

#[test]
fn repair_rebuilds_a_lost_manifest_and_keeps_every_event() {
    let s = Scratch::new();
    append(&s, "events", 0, 40);
    s.ok(&["store", "seal", "events"]);
    append(&s, "events", 40, 70);
    s.ok(&["store", "seal", "events"]);
    append(&s, "events", 70, 80);
    let before: Vec<String> = (0..3).map(|i| s.ok(&["store", "scan", "events", &format!("s{i}")])).collect();
    std::fs::remove_file(s.path("events/MANIFEST")).unwrap();
    assert_eq!(s.esdb(&["store", "verify", "events"]).output().unwrap().status.code(), Some(1));
    let repaired = s.ok(&["store", "repair", "events"]);
    assert!(repaired.contains("sealed through 70"), "{repaired}");
    let after: Vec<String> = (0..3).map(|i| s.ok(&["store", "scan", "events", &format!("s{i}")])).collect();
    assert_eq!(after, before);
    assert!(s.ok(&["store", "verify", "events"]).contains("ok"));
}

/// Runs `esdb ARGS` with stdout or stderr on /dev/full; returns the exit code and stderr.
fn with_full(s: &Scratch, args: &[&str], stream: &str) -> (Option<i32>, String) {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let mut cmd = esdb();
    cmd.current_dir(s.dir.path()).args(args).stdin(Stdio::null());
    if stream == "stdout" {
        cmd.stdout(full()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null()).stderr(full());
    }
    let output = cmd.output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn no_command_panics_on_a_full_stdout_or_stderr() {
    // See: issue 12, measured item 13 (exit 101 when stdout or stderr cannot be written).
    let s = Scratch::new();
    s.write("a.csv", crate::common::ACTIVITY_CSV);
    s.ok(&["import", "a.csv", "-o", "a.esdb", "--space", "customer", "--timestamp", "ts", "--index", "type"]);
    append(&s, "events", 0, 30);
    for args in [
        &["info", "a.esdb"][..],
        &["verify", "a.esdb"],
        &["spaces", "a.esdb"],
        &["scan", "a.esdb", "1"],
        &["store", "verify", "events"],
        &["store", "info", "events"],
        &["store", "scan", "events", "s1"],
        &["store", "read", "events"],
    ] {
        let (code, stderr) = with_full(&s, args, "stdout");
        assert_eq!(code, Some(1), "{args:?} with stdout on /dev/full: {stderr}");
        assert!(stderr.contains("No space left"), "{args:?}: {stderr}");
    }
    for args in [
        &["store", "seal", "events"][..],
        &["store", "compact", "events"],
        &["store", "retain", "events", "--log-max-bytes", "0"],
        &["import", "a.csv", "-o", "b.esdb", "--space", "customer", "--timestamp", "ts"],
        &["merge", "-o", "c.esdb", "a.esdb", "b.esdb"],
    ] {
        let (code, _) = with_full(&s, args, "stderr");
        assert_eq!(code, Some(1), "{args:?} with stderr on /dev/full must fail, not panic");
    }
    assert!(s.path("b.esdb").exists() && s.path("c.esdb").exists(), "the work was done all the same");
}

/// Runs `esdb ARGS`, reads one line of its stdout and closes the pipe; returns the exit code and
/// stderr.
fn closed_after_one_line(s: &Scratch, args: &[&str]) -> (Option<i32>, String) {
    let mut child = esdb()
        .current_dir(s.dir.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    drop(out);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "{args:?} did not end after its pipe closed");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    // See: issue 12, measured item 13 (`esdb store scan … | head` exited 1 with "Broken pipe").
    let s = Scratch::new();
    let mut input = s.esdb(&["store", "append", "events", "--space", "s", "--timestamp", "t", "--index", "k"]);
    let big: String = lines(0, 60_000);
    assert!(input.write_stdin(big.clone()).output().unwrap().status.success());
    s.write("big.jsonl", &big);
    s.ok(&["import", "big.jsonl", "-o", "big.esdb", "--space", "s", "--timestamp", "t"]);
    for args in [
        &["store", "scan", "events", "s1"][..],
        &["store", "read", "events"],
        &["scan", "big.esdb", "s1"],
        &["export", "big.esdb"],
        &["sql", "SELECT * FROM t", "--table", "t=big.esdb", "--format", "jsonl"],
        &["sql", "SELECT space, timestamp FROM t", "--table", "t=big.esdb", "--format", "csv"],
    ] {
        let (code, stderr) = closed_after_one_line(&s, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
    let _ = std::io::stdout().flush();
}

#[test]
fn readers_in_other_processes_survive_seals_compactions_and_retention() {
    // See: issue 12, measured item 5 ("cannot read partition … No such file or directory" in a
    // read-only reader while another process compacted). Writers, maintenance, two scanning
    // processes and a follower process at once.
    let s = Scratch::new();
    append(&s, "events", 0, 20);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let scanners: Vec<_> = (0..2)
        .map(|n| {
            let stop = stop.clone();
            let dir = s.dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let space = format!("s{n}");
                    let output = esdb().current_dir(&dir).args(["store", "scan", "events", &space]).output().unwrap();
                    assert!(output.status.success(), "scan failed: {}", String::from_utf8_lossy(&output.stderr));
                    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let mut follower = follow(&s, "events");
    for round in 0..8 {
        append(&s, "events", 20 + round * 20, 40 + round * 20);
        s.ok(&["store", "seal", "events"]);
        s.ok(&["store", "compact", "events"]);
        s.ok(&["store", "retain", "events", "--log-max-bytes", "0"]);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for scanner in scanners {
        assert!(scanner.join().unwrap() > 0);
    }
    // The follower read offsets once each and in order, either all of them or until retention
    // removed what it had not read yet, which ends it with an error saying so: never a hang.
    let mut out = BufReader::new(follower.stdout.take().unwrap());
    let mut line = String::new();
    let mut next = 0u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < 180 {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        assert!(line.starts_with(&format!("{{\"offset\":{next},")), "{line}");
        next += 1;
        assert!(Instant::now() < deadline);
    }
    if next < 180 {
        let status = follower.wait().unwrap();
        let mut stderr = String::new();
        follower.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(&format!("offset {next} is out of range")), "{stderr}");
    } else {
        follower.kill().unwrap();
        let _ = follower.wait();
    }
    assert!(s.ok(&["store", "verify", "events"]).contains("ok"));
}

/// What the store serves, through the commands that read it.
fn served(s: &Scratch, dir: &str) -> Vec<String> {
    let mut out = vec![s.ok(&["store", "spaces", dir, "--counts"]), s.ok(&["store", "export", dir])];
    for space in ["s0", "s1", "s2"] {
        out.push(s.ok(&["store", "scan", dir, space, "--reverse"]));
        out.push(s.ok(&["store", "scan", dir, space, "--index", "k=v1"]));
    }
    out
}

#[test]
fn store_tier_moves_partitions_to_the_remote_and_answers_stay_the_same() {
    let s = Scratch::new();
    std::fs::create_dir(s.path("bucket")).unwrap();
    let remote = format!("file://{}", s.path("bucket").display());
    append(&s, "events", 0, 50);
    s.ok(&["store", "seal", "events"]);
    append(&s, "events", 50, 60);
    let before = served(&s, "events");
    let report = s.esdb(&["store", "tier", "events", "--remote", &remote, "--local-bytes", "0"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&report.stderr);
    assert!(report.status.success(), "{stderr}");
    assert!(stderr.starts_with("uploaded 1 partitions (") && stderr.contains("deleted 1 local copies"), "{stderr}");
    assert_eq!(std::fs::read_dir(s.path("events/partitions")).unwrap().count(), 0);
    assert_eq!(served(&s, "events"), before);
    let info = s.ok(&["store", "info", "events"]);
    assert!(info.contains(&format!("remote tier:      {remote} (1 partitions copied, 1 only remote)")), "{info}");
    assert!(info.lines().any(|line| line.starts_with("  partitions/") && line.ends_with("  remote")), "{info}");
    let json: serde_json::Value = serde_json::from_str(&s.ok(&["store", "info", "events", "--json"])).unwrap();
    assert_eq!(json["remote"], remote);
    assert_eq!(json["partitions"]["files"][0]["local"], false);
    s.ok(&["store", "verify", "events"]);
    // Later seals stay local until the next tiering; the remote is recorded.
    s.ok(&["store", "seal", "events"]);
    let again = s.esdb(&["store", "tier", "events"]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).starts_with("uploaded 1 partitions ("));
    let other = format!("file://{}", s.path("events").display());
    let refused = s.fails(&["store", "tier", "events", "--remote", &other], 2);
    assert!(refused.contains("the store records remote"), "{refused}");
}

/// `--covering-index`, `--covering-timeline` and `--no-covering` on `store append`, `seal` and
/// `compact`: the store records the layout, so a later command without the flags keeps it;
/// `store info` shows it; answers are those of a store without it.
#[test]
fn the_partition_layout_is_recorded_and_changes_no_answer() {
    let s = Scratch::new();
    append(&s, "plain", 0, 60);
    s.ok(&["store", "seal", "plain"]);
    let output = s
        .esdb(&["store", "append", "covered", "--space", "s", "--timestamp", "t", "--index", "k"])
        .args(["--covering-index", "k", "--covering-timeline"])
        .write_stdin(lines(0, 30))
        .output()
        .unwrap();
    assert!(output.status.success(), "append: {}", String::from_utf8_lossy(&output.stderr));
    s.ok(&["store", "seal", "covered"]);
    // No flags: the recorded layout goes on.
    append(&s, "covered", 30, 60);
    s.ok(&["store", "seal", "covered"]);
    let info =
        |dir: &str| -> serde_json::Value { serde_json::from_str(&s.ok(&["store", "info", dir, "--json"])).unwrap() };
    assert_eq!(info("covered")["covering_indexes"], serde_json::json!(["k"]));
    assert_eq!(info("covered")["covering_timeline"], true);
    assert_eq!(info("plain")["covering_indexes"], serde_json::json!([]));
    assert!(s.ok(&["store", "info", "covered"]).contains("covering:         index k, timeline"));
    let covered_files = |dir: &str| {
        let info = info(dir);
        let files = info["partitions"]["files"].as_array().unwrap().clone();
        assert!(!files.is_empty());
        files
            .iter()
            .map(|file| {
                let path = format!("{dir}/{}", file["file"].as_str().unwrap());
                let file_info: serde_json::Value = serde_json::from_str(&s.ok(&["info", &path, "--json"])).unwrap();
                (file_info["covering_indexes"].clone(), file_info["covering_timeline"].clone())
            })
            .collect::<Vec<_>>()
    };
    assert!(covered_files("covered")
        .iter()
        .all(|(names, timeline)| *names == serde_json::json!(["k"]) && *timeline == true));
    assert_eq!(served(&s, "covered"), served(&s, "plain"));
    // A compaction rewrites under the recorded layout, or under the one it is given.
    s.ok(&["store", "compact", "covered", "--no-covering"]);
    assert_eq!(info("covered")["covering_indexes"], serde_json::json!([]));
    assert_eq!(info("covered")["covering_timeline"], false);
    assert!(s.ok(&["store", "info", "covered"]).contains("covering:         -"));
    assert_eq!(served(&s, "covered"), served(&s, "plain"));
    // A covering index that is no --index field is refused before the store is touched.
    let output = s
        .esdb(&["store", "append", "covered", "--space", "s", "--timestamp", "t", "--covering-index", "k"])
        .write_stdin(lines(60, 61))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--covering-index \"k\" names no --index field"));
    let output = s.esdb(&["store", "seal", "covered", "--no-covering", "--covering-timeline"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
}
