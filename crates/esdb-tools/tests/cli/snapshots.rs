//! Snapshots of human-readable output: info, dump and --help.

use crate::common::{fixture, Scratch};

#[test]
fn info_of_the_activity_fixture() {
    let s = Scratch::new();
    std::fs::copy(fixture("activity.esdb"), s.path("activity.esdb")).unwrap();
    insta::assert_snapshot!(s.ok(&["info", "activity.esdb"]));
}

#[test]
fn dump_of_the_activity_fixture() {
    let s = Scratch::new();
    std::fs::copy(fixture("activity.esdb"), s.path("activity.esdb")).unwrap();
    insta::assert_snapshot!(s.ok(&["dump", "activity.esdb"]));
}

#[test]
fn dump_of_a_multi_level_catalog() {
    let s = Scratch::new();
    std::fs::copy(fixture("edge_cases.esdb"), s.path("edge_cases.esdb")).unwrap();
    insta::assert_snapshot!(s.ok(&["dump", "edge_cases.esdb"]));
}

#[test]
fn help_of_every_command() {
    let s = Scratch::new();
    let mut all = s.ok(&["--help"]);
    for cmd in ["import", "scan", "spaces", "info", "verify", "dump", "merge", "export"] {
        let help = s.ok(&[cmd, "--help"]);
        assert!(help.contains("Example"), "{cmd} --help has no example");
        all.push_str(&format!("\n===== esdb {cmd} --help =====\n{help}"));
    }
    let store_help = s.ok(&["store", "--help"]);
    assert!(store_help.contains("Example"), "store --help has no example");
    all.push_str(&format!("\n===== esdb store --help =====\n{store_help}"));
    for cmd in ["append", "read", "scan", "seal", "compact", "retain", "tier", "info", "verify", "repair"] {
        let help = s.ok(&["store", cmd, "--help"]);
        all.push_str(&format!("\n===== esdb store {cmd} --help =====\n{help}"));
    }
    insta::assert_snapshot!(all);
}
