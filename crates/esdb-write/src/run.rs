//! Spilled runs: the sorter's temporary files and the encoding of their records.
//!
//! A run holds records in `(group, order)` order, so consecutive records mostly share their
//! group and their timestamps are close. Each record is written as varints relative to the one
//! before it in the same run:
//!
//! ```text
//! shared      bytes the group shares with the previous record's group
//! unshared    length of the rest of the group, then those bytes
//! order_high  the order's high half: its increase over the previous record's when the group is
//!             the same (records sort by order within a group), else the value itself
//! order_low   the order's low half
//! value_len   length of the value, then its bytes
//! ```
//!
//! A posting (a few bytes of value) so takes about a dozen bytes instead of the 28 bytes of fixed
//! header plus its whole group, which keeps spill traffic close to the data itself. Runs live only
//! while one writer runs, so the encoding is private to it and carries no version.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use esdb_format::varint;

use crate::io::{Hook, HookedFile, HookedRead, IoOp};
use crate::WriteError;

/// Write and read buffer of each run.
const RUN_BUFFER_LEN: usize = 64 * 1024;

/// A spilled run: a file without a name, so that nothing is left behind however the process
/// ends (even by SIGKILL). `path` is its directory, for messages.
#[derive(Debug)]
pub(crate) struct Run {
    file: File,
    path: PathBuf,
}

/// A record borrowed from the sorter or a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Record<'r> {
    pub(crate) group: &'r [u8],
    pub(crate) order: u128,
    pub(crate) value: &'r [u8],
}

/// Writes records, in order, to a new run.
pub(crate) struct RunWriter<'f> {
    out: BufWriter<HookedFile<'f>>,
    path: PathBuf,
    previous_group: Vec<u8>,
    previous_high: u64,
    header: Vec<u8>,
}

impl Run {
    /// A new, empty run in `dir`.
    pub(crate) fn create(dir: &Path, hook: &Hook) -> Result<Run, WriteError> {
        hook.before(IoOp::Create, dir).map_err(WriteError::io("create spill file in", dir))?;
        let file = tempfile::tempfile_in(dir).map_err(WriteError::io("create spill file in", dir))?;
        Ok(Run { file, path: dir.join("(unnamed spill file)") })
    }

    /// A writer of this run's records.
    pub(crate) fn writer<'f>(&'f self, hook: &Hook) -> RunWriter<'f> {
        RunWriter {
            out: BufWriter::with_capacity(
                RUN_BUFFER_LEN,
                HookedFile { file: &self.file, path: self.path.clone(), hook: hook.clone() },
            ),
            path: self.path.clone(),
            previous_group: Vec::new(),
            previous_high: 0,
            header: Vec::with_capacity(5 * varint::MAX_LEN),
        }
    }

    /// A reader of this run's records from the start; it keeps the run's file open.
    pub(crate) fn into_reader(self, hook: &Hook) -> Result<RunReader, WriteError> {
        let mut file = self.file.try_clone().map_err(WriteError::io("reopen spill file", &self.path))?;
        file.seek(SeekFrom::Start(0)).map_err(WriteError::io("reopen spill file", &self.path))?;
        let read = HookedRead { file, path: self.path.clone(), hook: hook.clone() };
        Ok(RunReader {
            reader: BufReader::with_capacity(RUN_BUFFER_LEN, read),
            path: self.path.clone(),
            group: Vec::new(),
            order: 0,
            value: Vec::new(),
            _run: self,
        })
    }
}

impl RunWriter<'_> {
    /// Appends a record; records must come in `(group, order)` order.
    pub(crate) fn write(&mut self, record: &Record<'_>) -> Result<(), WriteError> {
        let shared = common_prefix_len(&self.previous_group, record.group);
        let high = (record.order >> 64) as u64;
        let same_group = shared == self.previous_group.len() && shared == record.group.len();
        debug_assert!(!same_group || high >= self.previous_high, "records out of order");
        let rest = &record.group[shared..];
        self.header.clear();
        varint::encode(shared as u64, &mut self.header);
        varint::encode(rest.len() as u64, &mut self.header);
        self.header.extend_from_slice(rest);
        varint::encode(if same_group { high - self.previous_high } else { high }, &mut self.header);
        varint::encode(record.order as u64, &mut self.header);
        varint::encode(record.value.len() as u64, &mut self.header);
        self.out
            .write_all(&self.header)
            .and_then(|()| self.out.write_all(record.value))
            .map_err(WriteError::io("write spill file", &self.path))?;
        self.previous_group.truncate(shared);
        self.previous_group.extend_from_slice(rest);
        self.previous_high = high;
        Ok(())
    }

    /// Writes out what is buffered.
    pub(crate) fn finish(mut self) -> Result<(), WriteError> {
        self.out.flush().map_err(WriteError::io("write spill file", &self.path))
    }
}

fn common_prefix_len(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Reads a run's records in order; the current one stays in the reader until the next read.
pub(crate) struct RunReader {
    reader: BufReader<HookedRead>,
    path: PathBuf,
    group: Vec<u8>,
    order: u128,
    value: Vec<u8>,
    // Keeps the run's file open while it is read.
    _run: Run,
}

impl RunReader {
    /// Moves to the next record; `false` at the end of the run.
    pub(crate) fn advance(&mut self) -> Result<bool, WriteError> {
        self.read_next().map_err(WriteError::io("read spill file", &self.path))
    }

    /// The record [`advance`](RunReader::advance) moved to.
    pub(crate) fn record(&self) -> Record<'_> {
        Record { group: &self.group, order: self.order, value: &self.value }
    }

    fn read_next(&mut self) -> io::Result<bool> {
        if self.reader.fill_buf()?.is_empty() {
            return Ok(false);
        }
        let shared = read_uvarint(&mut self.reader)?;
        let unshared = read_len(&mut self.reader)?;
        let shared = usize::try_from(shared)
            .ok()
            .filter(|&shared| shared <= self.group.len())
            .ok_or_else(|| corrupt(format!("record shares {shared} bytes of a {}-byte group", self.group.len())))?;
        let same_group = shared == self.group.len() && unshared == 0;
        self.group.truncate(shared);
        read_appended(&mut self.reader, &mut self.group, unshared)?;
        let high = read_uvarint(&mut self.reader)?;
        let previous_high = (self.order >> 64) as u64;
        let high = if same_group {
            previous_high.checked_add(high).ok_or_else(|| corrupt("order overflows".into()))?
        } else {
            high
        };
        let low = read_uvarint(&mut self.reader)?;
        self.order = u128::from(high) << 64 | u128::from(low);
        let value_len = read_len(&mut self.reader)?;
        self.value.clear();
        read_appended(&mut self.reader, &mut self.value, value_len)?;
        Ok(true)
    }
}

fn corrupt(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("corrupt spill file: {message}"))
}

fn read_uvarint(reader: &mut impl BufRead) -> io::Result<u64> {
    let buf = reader.fill_buf()?;
    if let Some((value, len)) = varint::decode(buf) {
        reader.consume(len);
        return Ok(value);
    }
    // The varint straddles the buffer's end (or is invalid): gather it a byte at a time.
    let mut bytes = Vec::with_capacity(varint::MAX_LEN);
    loop {
        let buf = reader.fill_buf()?;
        let Some(&byte) = buf.first() else {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spill file ends inside a record"));
        };
        reader.consume(1);
        bytes.push(byte);
        if byte & 0x80 == 0 || bytes.len() == varint::MAX_LEN {
            return varint::decode(&bytes).map(|(value, _)| value).ok_or_else(|| corrupt("bad varint".into()));
        }
    }
}

fn read_len(reader: &mut impl BufRead) -> io::Result<usize> {
    let len = read_uvarint(reader)?;
    usize::try_from(len).map_err(|_| corrupt(format!("length {len} does not fit in memory")))
}

/// Appends exactly `len` bytes, growing `out` only as bytes arrive, so that a corrupt length
/// cannot make it allocate more than the file holds.
fn read_appended(reader: &mut impl BufRead, out: &mut Vec<u8>, len: usize) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "spill file ends inside a record"));
        }
        let take = left.min(buf.len());
        out.extend_from_slice(&buf[..take]);
        reader.consume(take);
        left -= take;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;

    type Item = (Vec<u8>, u128, Vec<u8>);

    fn round_trip(records: &[Item]) -> Vec<Item> {
        let dir = tempfile::tempdir().unwrap();
        let hook: Hook = Arc::new(crate::io::NoHook);
        let run = Run::create(dir.path(), &hook).unwrap();
        let mut writer = run.writer(&hook);
        for (group, order, value) in records {
            writer.write(&Record { group, order: *order, value }).unwrap();
        }
        writer.finish().unwrap();
        let mut reader = run.into_reader(&hook).unwrap();
        let mut out = Vec::new();
        while reader.advance().unwrap() {
            let record = reader.record();
            out.push((record.group.to_vec(), record.order, record.value.to_vec()));
        }
        out
    }

    fn record() -> impl Strategy<Value = Item> {
        let group =
            prop::sample::select(vec![&b""[..], b"a", b"a\0", b"ab", b"abc", b"b", b"\xff"]).prop_map(<[u8]>::to_vec);
        let order = (prop::sample::select(vec![0u64, 1, 2, u64::MAX - 1, u64::MAX]), any::<u64>())
            .prop_map(|(high, low)| u128::from(high) << 64 | u128::from(low));
        // Values long enough to straddle the 64 KiB read buffer now and then.
        let long = (any::<u8>(), 30_000usize..70_000).prop_map(|(byte, len)| vec![byte; len]);
        let value = prop_oneof![20 => prop::collection::vec(any::<u8>(), 0..12), 1 => long];
        (group, order, value)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A run gives back exactly the records written to it, in order: groups that are
        /// prefixes of one another, extreme orders, empty and buffer-straddling values.
        #[test]
        fn gives_back_what_was_written(mut records in prop::collection::vec(record(), 0..200)) {
            records.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
            records.dedup_by(|a, b| (&a.0, a.1) == (&b.0, b.1));
            prop_assert_eq!(round_trip(&records), records);
        }
    }

    #[test]
    fn a_truncated_run_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let hook: Hook = Arc::new(crate::io::NoHook);
        let run = Run::create(dir.path(), &hook).unwrap();
        let mut writer = run.writer(&hook);
        writer.write(&Record { group: b"group", order: 7, value: b"value" }).unwrap();
        writer.finish().unwrap();
        run.file.set_len(6).unwrap();
        let mut reader = run.into_reader(&hook).unwrap();
        let err = reader.advance().unwrap_err().to_string();
        assert!(err.contains("read spill file") && err.contains("unnamed spill file"), "{err}");
    }
}
