//! Project automation, run as `cargo xtask <command>`.
//!
//! - `fixtures`: writes the golden files to `fixtures/v2/`, their manifest, and the invalid
//!   files of `fixtures/v2/invalid/` with theirs.
//! - `fixtures --check`: regenerates them in a temporary directory and fails unless the
//!   committed files match byte for byte, and unless the frozen `fixtures/v1/` is unchanged.
//! - `gen visits|activity`: writes a benchmark dataset (see `esdb_bench`).

mod fixtures;
mod gen;
mod invalid;

/// The workspace root.
pub fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["fixtures"] => fixtures::write(),
        ["fixtures", "--check"] => fixtures::check(),
        ["gen", rest @ ..] => gen::run(rest),
        _ => bail!("usage: cargo xtask fixtures [--check] | gen visits|activity [--events N] [--seed S] [-o PATH]"),
    }
}
