//! The README tutorial works exactly as written: every `esdb` line between the tutorial markers
//! runs successfully, in order, from a copy of the repository's `examples/` directory.

use std::path::Path;

use crate::common::Scratch;

fn tutorial_commands() -> Vec<Vec<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("<!-- tutorial:").expect("README has the tutorial marker");
    let end = readme[start..].find("<!-- end tutorial -->").expect("README has the end marker") + start;
    readme[start..end]
        .lines()
        .filter(|line| line.starts_with("esdb "))
        .map(|line| line.split_whitespace().skip(1).map(str::to_owned).collect())
        .collect()
}

#[test]
fn readme_tutorial_runs_as_written() {
    let commands = tutorial_commands();
    assert!(commands.len() >= 6, "{commands:?}");
    let s = Scratch::new();
    std::fs::create_dir(s.path("examples")).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::copy(root.join("examples/activity.csv"), s.path("examples/activity.csv")).unwrap();
    let mut outputs = Vec::new();
    for args in &commands {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        outputs.push(s.ok(&args));
    }
    // The checks the tutorial's comments promise.
    assert!(outputs.iter().any(|out| out == "ok\n"), "verify printed ok");
    let clicks = &outputs[commands.iter().position(|c| c.contains(&"--reverse".to_owned())).unwrap()];
    assert_eq!(clicks.lines().count(), 2);
    assert!(clicks.lines().next().unwrap().starts_with("{\"timestamp\":1403534922,"), "{clicks}");
    assert!(s.path("activity.jsonl").exists());
}
