//! Output for pipes: stdout carries only data, and a closed pipe ends the command quietly.

use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};

/// Writes a line of data to stdout; evaluates to `anyhow::Result<()>`, so that a full disk or a
/// closed pipe is an error the command returns (and `main` turns a closed pipe into exit 0)
/// rather than a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
            .map_err(|err| anyhow::Error::new(err).context("cannot write to standard output"))
    }};
}

/// Writes a diagnostic line to stderr. A closed stderr is ignored; any other failure makes the
/// command exit non-zero at the end (there is nowhere left to say why).
macro_rules! diag {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(err) = writeln!(std::io::stderr().lock(), $($arg)*) {
            $crate::output::stderr_failed(&err);
        }
    }};
}

pub(crate) use diag;

static STDERR_FAILED: AtomicBool = AtomicBool::new(false);

/// Notes a failed write to stderr (other than a closed pipe).
pub fn stderr_failed(err: &io::Error) {
    if err.kind() != io::ErrorKind::BrokenPipe {
        STDERR_FAILED.store(true, Ordering::Relaxed);
    }
}

/// True when a diagnostic could not be written.
pub fn stderr_has_failed() -> bool {
    STDERR_FAILED.load(Ordering::Relaxed)
}

/// Where a command writes its data: stdout, or a new file that appears only once complete.
pub enum Sink {
    /// Standard output (also for the path `-`).
    Stdout(BufWriter<io::Stdout>),
    /// A temporary file beside `target`, renamed to it by [`Sink::finish`]; dropped unfinished
    /// (an error, an interrupt), it is deleted and `target` never appears.
    File { writer: BufWriter<tempfile::NamedTempFile>, target: std::path::PathBuf },
}

/// Opens where a command writes its data: stdout for `None` or `-`, else a new file (an existing
/// one is never replaced).
pub fn open(path: Option<&Path>) -> Result<Sink> {
    let Some(path) = path.filter(|path| path.as_os_str() != "-") else {
        return Ok(Sink::Stdout(BufWriter::with_capacity(1 << 16, io::stdout())));
    };
    if path.symlink_metadata().is_ok() {
        anyhow::bail!("cannot create {}: it already exists", path.display());
    }
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".esdb-output-").suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    let temp = builder.tempfile_in(dir).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(Sink::File { writer: BufWriter::with_capacity(1 << 16, temp), target: path.to_path_buf() })
}

impl Sink {
    /// Flushes, and moves a file into place.
    pub fn finish(self) -> Result<()> {
        match self {
            Sink::Stdout(mut out) => out.flush().context("cannot write to standard output"),
            Sink::File { writer, target } => {
                let temp = writer
                    .into_inner()
                    .map_err(|err| err.into_error())
                    .with_context(|| format!("cannot write {}", target.display()))?;
                temp.as_file().sync_all().with_context(|| format!("cannot write {}", target.display()))?;
                temp.persist_noclobber(&target)
                    .map_err(|err| err.error)
                    .with_context(|| format!("cannot create {}", target.display()))?;
                Ok(())
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File { writer, .. } => writer.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.write_all(buf),
            Sink::File { writer, .. } => writer.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File { writer, .. } => writer.flush(),
        }
    }
}

/// True when `err` (anywhere in its chain) is a closed pipe, which `| head` causes and which is
/// not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        // serde_json wraps the io error of its writer in its own error type.
        let json = cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind);
        let io = cause.downcast_ref::<io::Error>().map(io::Error::kind);
        json.or(io) == Some(io::ErrorKind::BrokenPipe)
    })
}

/// Renders a byte string for line-oriented text output: as is when printable UTF-8, else with
/// Rust-style escapes (`\xff`, `\n`, ...).
pub fn display_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() || c == '\\') => text.to_owned(),
        _ => bytes.escape_ascii().to_string(),
    }
}

/// Parses a byte string given on the command line as [`display_bytes`] prints it, so that a
/// printed id can be given back: as is, with the escapes `\\`, `\n`, `\t`, `\r`, `\'`, `\"`,
/// `\0` and `\xNN` (a byte in hex). A backslash followed by anything else is an error.
pub fn arg_bytes(arg: &str) -> Result<Vec<u8>> {
    let bytes = arg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos] != b'\\' {
            out.push(bytes[pos]);
            pos += 1;
            continue;
        }
        let escaped = match bytes.get(pos + 1) {
            Some(b'\\') => b'\\',
            Some(b'n') => b'\n',
            Some(b't') => b'\t',
            Some(b'r') => b'\r',
            Some(b'\'') => b'\'',
            Some(b'"') => b'"',
            Some(b'0') => 0,
            Some(b'x') => {
                let hex = arg.get(pos + 2..pos + 4).and_then(|hex| u8::from_str_radix(hex, 16).ok());
                let byte = hex.ok_or_else(|| {
                    anyhow::anyhow!("{arg:?}: \\x at byte {pos} must be followed by two hex digits")
                })?;
                out.push(byte);
                pos += 4;
                continue;
            }
            _ => anyhow::bail!(
                "{arg:?}: unknown escape at byte {pos} (use \\\\ for a backslash; ids are read as `esdb spaces` prints them)"
            ),
        };
        out.push(escaped);
        pos += 2;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_ids_parse_back_to_the_same_bytes() {
        // See: issue 16 (`esdb spaces` printed `a\x00b`, `esdb scan` took it literally).
        for id in [
            &b"plain"[..],
            b"a\x00b",
            b"back\\slash",
            b"tab\tand\nnewline",
            b"\xff\xfe",
            "caf\u{e9}\n".as_bytes(),
            b"q'\"u",
        ] {
            assert_eq!(arg_bytes(&display_bytes(id)).unwrap(), id, "{}", display_bytes(id));
        }
        assert!(arg_bytes("C:\\path").is_err());
        assert!(arg_bytes("\\x4").is_err());
    }
}
