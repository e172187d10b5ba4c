//! Output for pipes: stdout carries only data, and a closed pipe ends the command quietly.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// Where a command writes its data: stdout, or a file.
pub fn open(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())),
        Some(path) => {
            let file = std::fs::File::create_new(path).with_context(|| format!("cannot create {}", path.display()))?;
            Box::new(BufWriter::with_capacity(1 << 16, file))
        }
    })
}

/// True when `err` (anywhere in its chain) is a closed pipe, which `| head` causes and which is
/// not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Renders a byte string for line-oriented text output: as is when printable UTF-8, else with
/// Rust-style escapes (`\xff`, `\n`, ...).
pub fn display_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() || c == '\\') => text.to_owned(),
        _ => bytes.escape_ascii().to_string(),
    }
}

/// Parses a byte string given on the command line: as is, so ids can be given like they print.
pub fn arg_bytes(arg: &str) -> Vec<u8> {
    arg.as_bytes().to_vec()
}
