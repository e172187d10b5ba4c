//! Bounds-checked reading of little-endian fields from a byte slice that sits at a known file offset.

use crate::error::DecodeError;
use crate::varint;

/// Reads fields front to back from `buf`, whose first byte sits at absolute file offset `base`.
///
/// Every read is bounds-checked and fails with [`DecodeError::Truncated`] naming the field and
/// its offset; nothing here can panic on any input.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: u64,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`, which begins at absolute file offset `base`.
    pub fn new(buf: &'a [u8], base: u64) -> Self {
        Cursor { buf, pos: 0, base }
    }

    /// Absolute file offset of the next byte to read.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Position of the next byte to read within the slice.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when every byte has been read.
    pub fn is_at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Takes the next `len` bytes.
    pub fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() {
            return Err(DecodeError::Truncated {
                field,
                offset: self.offset(),
                need: len as u64,
                have: self.remaining() as u64,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Takes exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N, field)?;
        // `take` returned exactly N bytes, so the conversion cannot fail.
        Ok(bytes.try_into().expect("take returned exactly N bytes"))
    }

    /// Reads a `u8`.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian `u64`.
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// Reads a little-endian two's complement `i64`.
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array(field)?))
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    pub fn uvarint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let at = self.offset();
        match varint::decode(&self.buf[self.pos..]) {
            Some((value, used)) => {
                self.pos += used;
                Ok(value)
            }
            None if self.remaining() < varint::MAX_LEN && self.buf[self.pos..].iter().all(|b| b & 0x80 != 0) => {
                Err(DecodeError::Truncated {
                    field,
                    offset: at,
                    need: self.remaining() as u64 + 1,
                    have: self.remaining() as u64,
                })
            }
            None => Err(DecodeError::invalid(field, at, "varint longer than 10 bytes or above u64::MAX")),
        }
    }

    /// Reads a varint that must fit in `usize` and be at most `max`.
    pub fn len_at_most(&mut self, max: u64, field: &'static str) -> Result<usize, DecodeError> {
        let at = self.offset();
        let value = self.uvarint(field)?;
        if value > max {
            return Err(DecodeError::invalid(field, at, format!("length {value} exceeds the limit {max}")));
        }
        usize::try_from(value)
            .map_err(|_| DecodeError::invalid(field, at, format!("length {value} does not fit in memory")))
    }

    /// Reads a varint length prefix, then that many bytes.
    pub fn bytes_with_len(&mut self, max: u64, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.len_at_most(max, field)?;
        self.take(len, field)
    }

    /// Fails with [`DecodeError::TrailingBytes`] unless every byte was read.
    pub fn finish(&self, section: &'static str) -> Result<(), DecodeError> {
        if self.is_at_end() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes { section, offset: self.offset(), extra: self.remaining() as u64 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fixed_width_fields_little_endian() {
        let buf = [1, 2, 0, 3, 0, 0, 0];
        let mut cur = Cursor::new(&buf, 100);
        assert_eq!(cur.u8("a").unwrap(), 1);
        assert_eq!(cur.u16("b").unwrap(), 2);
        assert_eq!(cur.u32("c").unwrap(), 3);
        assert!(cur.is_at_end());
    }

    #[test]
    fn truncation_names_field_and_absolute_offset() {
        let mut cur = Cursor::new(&[1, 2, 3], 1000);
        cur.u8("first").unwrap();
        assert_eq!(cur.u32("second"), Err(DecodeError::Truncated { field: "second", offset: 1001, need: 4, have: 2 }));
    }

    #[test]
    fn truncated_varint_is_truncated_not_invalid() {
        let mut cur = Cursor::new(&[0x80, 0x80], 7);
        assert!(matches!(cur.uvarint("v"), Err(DecodeError::Truncated { field: "v", offset: 7, .. })));
    }

    #[test]
    fn overlong_varint_is_invalid() {
        let mut cur = Cursor::new(&[0xff; 11], 0);
        assert!(matches!(cur.uvarint("v"), Err(DecodeError::Invalid { field: "v", offset: 0, .. })));
    }

    #[test]
    fn length_above_limit_is_rejected_before_use() {
        let mut buf = Vec::new();
        varint::encode(1 << 40, &mut buf);
        let mut cur = Cursor::new(&buf, 0);
        assert!(matches!(cur.bytes_with_len(1024, "name"), Err(DecodeError::Invalid { field: "name", .. })));
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let cur = Cursor::new(&[0, 0], 10);
        assert_eq!(cur.finish("s"), Err(DecodeError::TrailingBytes { section: "s", offset: 10, extra: 2 }));
    }
}
