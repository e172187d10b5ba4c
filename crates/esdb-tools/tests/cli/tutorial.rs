//! The README's tutorials work exactly as written: every `esdb` line between each pair of
//! tutorial markers runs successfully, in order, from a copy of the repository's `examples/`
//! directory (`< FILE` feeds the file to standard input, `| head -N` keeps N lines of the output).

use std::path::Path;

use crate::common::Scratch;

/// One `esdb` line of a tutorial: its arguments and the file it reads on standard input.
pub struct Line {
    pub args: Vec<String>,
    /// The file after `< `, relative to the repository.
    pub stdin: Option<String>,
    /// `N` of a `| head -N` after the command.
    head: Option<usize>,
}

pub fn tutorial_commands(marker: &str) -> Vec<Line> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find(&format!("<!-- {marker}:")).unwrap_or_else(|| panic!("README has the {marker} marker"));
    let end_marker = format!("<!-- end {marker} -->");
    let end = readme[start..].find(&end_marker).expect("README has the end marker") + start;
    readme[start..end]
        .lines()
        .filter(|line| line.starts_with("esdb "))
        .map(|line| {
            let (line, head) = match line.split_once(" | ") {
                Some((command, filter)) => {
                    let n = filter.trim().strip_prefix("head -").and_then(|n| n.parse().ok());
                    (command, Some(n.unwrap_or_else(|| panic!("the tutorial runner knows only `| head -N`: {filter}"))))
                }
                None => (line, None),
            };
            let (command, stdin) = match line.split_once(" < ") {
                Some((command, file)) => (command, Some(file.trim().to_owned())),
                None => (line, None),
            };
            Line { args: shell_words(command).into_iter().skip(1).collect(), stdin, head }
        })
        .collect()
}

/// `line` split as a shell splits it: at spaces, except inside double quotes (which go).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut started) = (false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            _ => {
                word.push(c);
                started = true;
            }
        }
    }
    assert!(!quoted, "an unclosed quote in the tutorial: {line}");
    if started {
        words.push(word);
    }
    words
}

/// Runs a tutorial in a scratch copy of `examples/`; returns each line's standard output.
fn run_tutorial(s: &Scratch, marker: &str) -> (Vec<Line>, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::create_dir_all(s.path("examples")).unwrap();
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), s.path("examples").join(entry.file_name())).unwrap();
    }
    let commands = tutorial_commands(marker);
    let mut outputs = Vec::new();
    for line in &commands {
        let args: Vec<&str> = line.args.iter().map(String::as_str).collect();
        let mut cmd = s.esdb(&args);
        if let Some(file) = &line.stdin {
            cmd.write_stdin(std::fs::read(s.path(file)).unwrap());
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "esdb {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        outputs.push(match line.head {
            Some(n) => stdout.split_inclusive('\n').take(n).collect(),
            None => stdout,
        });
    }
    (commands, outputs)
}

#[test]
fn readme_tutorial_runs_as_written() {
    let s = Scratch::new();
    let (commands, outputs) = run_tutorial(&s, "tutorial");
    assert!(commands.len() >= 6, "{} commands", commands.len());
    // The checks the tutorial's comments promise.
    assert!(outputs.iter().any(|out| out == "ok\n"), "verify printed ok");
    let clicks = &outputs[commands.iter().position(|c| c.args.contains(&"--reverse".to_owned())).unwrap()];
    assert_eq!(clicks.lines().count(), 2);
    assert!(clicks.lines().next().unwrap().starts_with("{\"timestamp\":1403534922,"), "{clicks}");
    assert!(s.path("activity.jsonl").exists());
    let sql = &outputs[commands.iter().position(|c| c.args[0] == "sql").unwrap()];
    assert_eq!(sql, "space,purchases\n1,1\n3,1\n", "{sql}");
}

#[test]
fn readme_store_tutorial_runs_as_written() {
    // See: issue 16 (the README's store example failed with "missing field customer").
    let s = Scratch::new();
    let (commands, outputs) = run_tutorial(&s, "store tutorial");
    assert!(commands.len() >= 6, "{} commands", commands.len());
    assert_eq!(outputs[0].lines().last(), Some("{\"durable_through\":13}"), "{}", outputs[0]);
    assert_eq!(outputs[1].lines().count(), 14);
    let purchases = &outputs[2];
    assert_eq!(purchases.lines().count(), 1, "{purchases}");
    assert!(purchases.contains("126.99"), "{purchases}");
    assert_eq!(
        outputs[3],
        "1\t5\t1403534919\t1403534923\t2014-06-23T14:48:39Z\t2014-06-23T14:48:43Z\n\
         2\t3\t1403534919\t1403534921\t2014-06-23T14:48:39Z\t2014-06-23T14:48:41Z\n\
         3\t6\t1403534919\t1403534923\t2014-06-23T14:48:39Z\t2014-06-23T14:48:43Z\n"
    );
    assert!(outputs[4].starts_with("space,timestamp,grouping,type,data\n"), "{}", outputs[4]);
    assert_eq!(outputs[4].lines().count(), 3);
    let info: serde_json::Value = serde_json::from_str(&outputs[7]).expect("store info --json prints JSON");
    assert_eq!(info["sealed_through"], 14);
    assert_eq!(info["metrics"]["tail_events"], 0);
    assert!(outputs.iter().any(|out| out.ends_with("ok\n")), "verify printed ok");
}
