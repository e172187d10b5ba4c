//! Running the binary in a scratch directory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A scratch directory with helpers to write inputs and run `esdb` in it.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().unwrap() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `esdb ARGS...` with the scratch directory as working directory.
    pub fn esdb(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("esdb").unwrap();
        cmd.current_dir(self.dir.path()).args(args);
        cmd
    }

    /// Runs `esdb ARGS...`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.esdb(args).output().unwrap();
        assert!(output.status.success(), "esdb {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs `esdb ARGS...`, asserts the exit code, returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let output = self.esdb(args).output().unwrap();
        assert_eq!(
            output.status.code(),
            Some(code),
            "esdb {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// Files in the scratch directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

/// The activity example of the original ESDB as CSV: customer, ts, type, url.
pub const ACTIVITY_CSV: &str = "\
customer,ts,type,url
1,1403534919,page,http://mysite.com/
1,1403534920,click,
1,1403534921,page,http://mysite.com/checkout
1,1403534923,purchase,
1,1403534923,page,http://mysite.com/thankyou
2,1403534919,page,http://mysite.com/
2,1403534920,click,
2,1403534921,page,http://mysite.com/about
3,1403534919,page,http://mysite.com/
3,1403534920,click,
3,1403534921,page,http://mysite.com/about
3,1403534922,click,
3,1403534923,purchase,
3,1403534923,page,http://mysite.com/thankyou
";

/// `n` JSON Lines of visits with hosts, cities, nested data and RFC 3339 times.
pub fn visits_jsonl(n: usize, seed: usize) -> String {
    let cities = ["Paris", "Oslo", "Lima"];
    (0..n)
        .map(|i| {
            let j = i * 7 + seed;
            format!(
                "{{\"visitor\":\"v{}\",\"host\":\"h{}\",\"city\":\"{}\",\"at\":\"2024-05-{:02}T{:02}:00:00Z\",\"tags\":[\"t{}\",\"t{}\"],\"detail\":{{\"n\":{i},\"ok\":true}}}}\n",
                j % 5,
                j % 3,
                cities[j % 3],
                1 + j % 28,
                j % 24,
                j % 2,
                j % 3
            )
        })
        .collect()
}

/// The workspace's golden fixtures.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/v1").join(name)
}
