//! The output stream: framed blocks appended one after another, with their offsets tracked.

use std::io::{self, Write};

use esdb_format::v1::frame::{self, Codec, Handle};

/// Appends framed blocks to any `io::Write` and remembers where each one went.
pub(crate) struct Output<W: Write> {
    inner: W,
    offset: u64,
    max_block_len: u32,
    scratch: Vec<u8>,
    encoder: frame::Encoder,
}

impl<W: Write> Output<W> {
    pub(crate) fn new(inner: W) -> Self {
        Output { inner, offset: 0, max_block_len: 0, scratch: Vec::new(), encoder: frame::Encoder::default() }
    }

    /// Bytes written so far, which is the absolute offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Largest raw payload of any block written so far.
    pub(crate) fn max_block_len(&self) -> u32 {
        self.max_block_len
    }

    /// Writes bytes that are not a block (the header and the footer).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.offset += bytes.len() as u64;
        Ok(())
    }

    /// Frames `payload` with `codec` (stored raw when compression does not help) and writes it.
    pub(crate) fn write_block(&mut self, payload: &[u8], codec: Codec) -> io::Result<Handle> {
        let raw_len = u32::try_from(payload.len())
            .ok()
            .filter(|len| *len <= esdb_format::v1::MAX_BLOCK_LEN)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("block of {} bytes exceeds the format limit", payload.len()),
                )
            })?;
        self.scratch.clear();
        let (_, len) = self.encoder.encode(payload, codec, &mut self.scratch);
        let handle = Handle { offset: self.offset, len };
        self.inner.write_all(&self.scratch)?;
        self.offset += self.scratch.len() as u64;
        self.max_block_len = self.max_block_len.max(raw_len);
        Ok(handle)
    }

    /// Flushes and returns the inner writer.
    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}
