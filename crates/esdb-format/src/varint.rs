//! Unsigned LEB128 varints and zigzag mapping of signed integers.
//!
//! Layout: docs/FORMAT.md#conventions.

/// The longest encoding of a `u64`.
pub const MAX_LEN: usize = 10;

/// Appends `value` as an unsigned LEB128 varint: 7 bits per byte, low bits first, high bit set
/// on every byte but the last.
pub fn encode(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Number of bytes [`encode`] writes for `value`.
pub fn encoded_len(value: u64) -> usize {
    let bits = 64 - (value | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decodes a varint from the start of `buf`, returning the value and the bytes used.
///
/// Returns `None` when `buf` ends inside the varint, when the varint is longer than
/// [`MAX_LEN`] bytes or when it encodes a value above `u64::MAX`.
#[inline]
pub fn decode(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (idx, &byte) in buf.iter().take(MAX_LEN).enumerate() {
        let low = u64::from(byte & 0x7f);
        if idx == MAX_LEN - 1 && low > 1 {
            return None;
        }
        value |= low << (7 * idx);
        if byte & 0x80 == 0 {
            return Some((value, idx + 1));
        }
    }
    None
}

/// Maps a signed integer to an unsigned one so that small magnitudes stay small.
pub fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        encode(300, &mut out);
        assert_eq!(out, [0xac, 0x02]);
        assert_eq!(decode(&out), Some((300, 2)));
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        assert_eq!(zigzag(i64::MIN), u64::MAX);
    }

    proptest! {
        #[test]
        fn roundtrip(value: u64) {
            let mut out = Vec::new();
            encode(value, &mut out);
            prop_assert_eq!(out.len(), encoded_len(value));
            prop_assert_eq!(decode(&out), Some((value, out.len())));
        }

        #[test]
        fn zigzag_roundtrip(value: i64) {
            prop_assert_eq!(unzigzag(zigzag(value)), value);
        }

        #[test]
        fn decode_never_panics(buf: Vec<u8>) {
            let _ = decode(&buf);
        }
    }
}
