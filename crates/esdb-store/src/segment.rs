//! Log segment files: recovery scans (cutting a torn end, reporting corruption elsewhere) and a
//! sequential cursor for replay.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::event::LogEvent;
use crate::record::{self, Framed, RECORD_OVERHEAD, SEGMENT_HEADER_LEN};

/// What a scan of one segment found.
#[derive(Debug)]
pub struct Scanned {
    /// One past the last offset of a valid record.
    pub end_offset: u64,
    /// Byte length of the valid part of the file.
    pub valid_len: u64,
    /// Bytes after the valid part that the scan dropped as a torn write (active segment only).
    pub torn_bytes: u64,
    /// Append time of the last valid record.
    pub last_append_ms: Option<u64>,
}

/// Reads the segment at `path`, which must start at offset `base`, and calls `on_event` for every
/// record. In the `active` segment, an invalid record after which no valid record follows is a
/// write cut short by a crash: it and everything after it are reported as torn (the caller
/// truncates). Anywhere else, an invalid record is [`Error::CorruptSegment`].
pub fn scan(path: &Path, base: u64, active: bool, mut on_event: impl FnMut(LogEvent, u32)) -> Result<Scanned> {
    let bytes = Bytes::from(std::fs::read(path).map_err(Error::io("read segment", path))?);
    let corrupt = |position: u64, reason: String| Error::CorruptSegment { path: path.to_path_buf(), position, reason };
    if bytes.len() < SEGMENT_HEADER_LEN {
        return Err(corrupt(0, format!("{} bytes is shorter than a segment header", bytes.len())));
    }
    let header_base =
        record::decode_segment_header(&bytes[..SEGMENT_HEADER_LEN]).map_err(|err| corrupt(0, err.to_string()))?;
    if header_base != base {
        return Err(corrupt(16, format!("segment header says base offset {header_base}, the manifest {base}")));
    }
    let mut pos = SEGMENT_HEADER_LEN;
    let mut offset = base;
    let mut last_append_ms = None;
    while pos < bytes.len() {
        let reason = match record::frame(&bytes[pos..]) {
            Framed::Record { payload, len } => {
                let payload = bytes.slice(pos + payload.start..pos + payload.end);
                let event = record::decode_payload(payload, pos as u64 + 4)
                    .map_err(|err| corrupt(pos as u64, err.to_string()))?;
                if event.offset != offset {
                    return Err(corrupt(pos as u64, format!("record has offset {}, expected {offset}", event.offset)));
                }
                last_append_ms = Some(event.append_time_ms);
                on_event(event, len as u32);
                pos += len;
                offset += 1;
                continue;
            }
            Framed::Truncated => "the record runs past the end of the file".to_owned(),
            Framed::Bad(reason) => reason,
        };
        if active && !valid_record_after(&bytes, pos, offset) {
            return Ok(Scanned {
                end_offset: offset,
                valid_len: pos as u64,
                torn_bytes: (bytes.len() - pos) as u64,
                last_append_ms,
            });
        }
        return Err(corrupt(pos as u64, reason));
    }
    Ok(Scanned { end_offset: offset, valid_len: pos as u64, torn_bytes: 0, last_append_ms })
}

/// True when a valid record with an offset at or past `offset` starts anywhere after `pos`: then
/// the bad record at `pos` is damage in the middle of the log, not the torn end of a write.
fn valid_record_after(bytes: &[u8], pos: usize, offset: u64) -> bool {
    let max_records = (bytes.len() - pos) as u64 / RECORD_OVERHEAD as u64 + 1;
    (pos + 1..bytes.len().saturating_sub(RECORD_OVERHEAD)).any(|at| {
        // Cheap filter first: the offset field must be plausible before a checksum is computed.
        let Some(field) = bytes.get(at + 4..at + 12) else { return false };
        let candidate = u64::from_le_bytes(field.try_into().expect("8 bytes"));
        candidate >= offset
            && candidate - offset < max_records
            && matches!(record::frame(&bytes[at..]), Framed::Record { .. })
    })
}

/// Reads the records of one segment in order, for replay.
#[derive(Debug)]
pub struct Cursor {
    reader: BufReader<File>,
    /// A record cut short at the end is "not yet written" (for following a live writer) rather
    /// than an error.
    tolerant: bool,
    path: PathBuf,
    position: u64,
    /// Offset of the next record.
    pub next_offset: u64,
}

impl Cursor {
    /// Opens the segment at `path` starting at offset `base`.
    pub fn open(path: &Path, base: u64) -> Result<Cursor> {
        Cursor::open_with(path, base, false)
    }

    /// Opens a segment that a writer in another process may be appending to.
    pub fn open_live(path: &Path, base: u64) -> Result<Cursor> {
        Cursor::open_with(path, base, true)
    }

    fn open_with(path: &Path, base: u64, tolerant: bool) -> Result<Cursor> {
        let file = File::open(path).map_err(Error::io("open segment", path))?;
        let mut reader = BufReader::with_capacity(1 << 16, file);
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        reader.read_exact(&mut header).map_err(Error::io("read segment header of", path))?;
        let corrupt = |reason: String| Error::CorruptSegment { path: path.to_path_buf(), position: 0, reason };
        let header_base = record::decode_segment_header(&header).map_err(|err| corrupt(err.to_string()))?;
        if header_base != base {
            return Err(corrupt(format!("segment header says base offset {header_base}, expected {base}")));
        }
        Ok(Cursor {
            reader,
            tolerant,
            path: path.to_path_buf(),
            position: SEGMENT_HEADER_LEN as u64,
            next_offset: base,
        })
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_event(&mut self) -> Result<Option<LogEvent>> {
        let mut len_bytes = [0u8; 4];
        match self.reader.read_exact(&mut len_bytes) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
                self.reader.seek(SeekFrom::Start(self.position)).map_err(Error::io("seek segment", &self.path))?;
                return Ok(None);
            }
            Err(err) => return Err(Error::io("read segment", &self.path)(err)),
        }
        let corrupt =
            |position: u64, reason: String| Error::CorruptSegment { path: self.path.clone(), position, reason };
        let payload_len = u32::from_le_bytes(len_bytes);
        if payload_len > record::MAX_PAYLOAD_LEN {
            return Err(corrupt(self.position, format!("record length {payload_len} is impossible")));
        }
        let mut record = vec![0u8; RECORD_OVERHEAD + payload_len as usize];
        record[..4].copy_from_slice(&len_bytes);
        let complete = self.reader.read_exact(&mut record[4..]).is_ok();
        let framed = if complete { record::frame(&record) } else { Framed::Truncated };
        if self.tolerant && !matches!(framed, Framed::Record { .. }) {
            // Not written completely yet: come back to the same position later.
            self.reader.seek(SeekFrom::Start(self.position)).map_err(Error::io("seek segment", &self.path))?;
            return Ok(None);
        }
        let (payload, len) = match framed {
            Framed::Record { payload, len } => (payload, len),
            Framed::Truncated => return Err(corrupt(self.position, "truncated record".into())),
            Framed::Bad(reason) => return Err(corrupt(self.position, reason)),
        };
        let at = self.position + 4;
        let event = record::decode_payload(Bytes::from(record).slice(payload), at)
            .map_err(|err| corrupt(self.position, err.to_string()))?;
        if event.offset != self.next_offset {
            return Err(corrupt(
                self.position,
                format!("record has offset {}, expected {}", event.offset, self.next_offset),
            ));
        }
        self.position += len as u64;
        self.next_offset += 1;
        Ok(Some(event))
    }
}
