//! Project automation, run as `cargo xtask <command>`.
//!
//! - `fixtures`: writes the golden files to `fixtures/v1/` and their manifest.
//! - `fixtures --check`: regenerates them in a temporary directory and fails unless the
//!   committed files match byte for byte.

mod fixtures;

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["fixtures"] => fixtures::write(),
        ["fixtures", "--check"] => fixtures::check(),
        _ => bail!("usage: cargo xtask fixtures [--check]"),
    }
}
