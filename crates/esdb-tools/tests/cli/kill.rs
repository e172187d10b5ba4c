//! A writer killed with SIGKILL at any moment leaves the target either absent or complete and
//! valid: the file only appears by an atomic rename after fsync.

use std::time::{Duration, Instant};

use crate::common::{visits_jsonl, Scratch};

#[test]
fn sigkill_during_import_leaves_no_partial_file() {
    let s = Scratch::new();
    s.write("big.jsonl", visits_jsonl(40_000, 3));
    let args = [
        "import",
        "big.jsonl",
        "-o",
        "out.esdb",
        "--space",
        "visitor",
        "--timestamp",
        "at",
        "--grouping",
        "host",
        "--index",
        "city",
        "--memory",
        "1",
        "--quiet",
    ];

    // One undisturbed run tells how long an import takes, to spread the kills over it.
    let start = Instant::now();
    s.ok(&args);
    let full = start.elapsed();
    std::fs::remove_file(s.path("out.esdb")).unwrap();

    let kills = 12u32;
    let (mut absent, mut complete) = (0, 0);
    for round in 0..kills {
        let dir = Scratch::new();
        std::fs::copy(s.path("big.jsonl"), dir.path("big.jsonl")).unwrap();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("esdb"))
            .current_dir(dir.dir.path())
            .args(args)
            .spawn()
            .unwrap();
        // Kill points from the start to a little past the expected end.
        std::thread::sleep(
            full.mul_f64(f64::from(round) / f64::from(kills - 2)).min(full + Duration::from_millis(200)),
        );
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let out = dir.path("out.esdb");
        if out.exists() {
            let db =
                esdb_read::Db::open(&out).unwrap_or_else(|err| panic!("round {round}: a partial file appeared: {err}"));
            assert_eq!(db.len(), 40_000, "round {round}");
            assert!(db.verify().is_ok(), "round {round}");
            complete += 1;
        } else {
            absent += 1;
        }
    }
    assert!(absent > 0, "no kill landed before the rename ({complete} complete)");
}
