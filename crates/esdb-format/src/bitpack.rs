//! Fixed-width bit packing: `n` values of `width` bits each, least significant bit first.
//!
//! Layout: docs/FORMAT.md#conventions.

use crate::cursor::Cursor;
use crate::error::DecodeError;

/// Number of bits needed to hold `max` (0 for 0).
pub fn width_for(max: u64) -> u8 {
    (64 - max.leading_zeros()) as u8
}

/// Bytes taken by `n` values of `width` bits.
pub fn packed_len(n: u64, width: u8) -> u64 {
    (u128::from(n) * u128::from(width)).div_ceil(8).min(u128::from(u64::MAX)) as u64
}

/// Appends `values`, each below `2^width`, packed into [`packed_len`] bytes. Padding bits in the
/// last byte are zero.
pub fn pack(values: impl Iterator<Item = u64>, width: u8, out: &mut Vec<u8>) {
    if width == 0 {
        return;
    }
    let mut acc: u128 = 0;
    let mut acc_bits = 0u32;
    for value in values {
        debug_assert!(width == 64 || value >> width == 0, "value {value} does not fit in {width} bits");
        acc |= u128::from(value) << acc_bits;
        acc_bits += u32::from(width);
        while acc_bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            acc_bits -= 8;
        }
    }
    if acc_bits > 0 {
        out.push(acc as u8);
    }
}

/// Reads `n` values of `width` bits from `cur`, calling `emit` with each; fails if the bytes run
/// out or the padding bits are not zero.
pub fn unpack(
    cur: &mut Cursor<'_>,
    n: u64,
    width: u8,
    field: &'static str,
    mut emit: impl FnMut(u64),
) -> Result<(), DecodeError> {
    if width > 64 {
        return Err(DecodeError::invalid(field, cur.offset(), format!("bit width {width} exceeds 64")));
    }
    if width == 0 {
        (0..n).for_each(|_| emit(0));
        return Ok(());
    }
    let len = packed_len(n, width);
    let at = cur.offset();
    let bytes = cur.take(usize::try_from(len).unwrap_or(usize::MAX), field)?;
    let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
    if width <= 56 {
        unpack_words(bytes, n, width, mask, &mut emit);
        let used_bits = (n * u64::from(width)) % 8;
        if used_bits != 0 && bytes.last().is_some_and(|&last| last >> used_bits != 0) {
            return Err(DecodeError::invalid(field, at + len - 1, "padding bits after the last value are not zero"));
        }
        return Ok(());
    }
    let mut acc: u128 = 0;
    let mut acc_bits = 0u32;
    let mut emitted = 0u64;
    for &byte in bytes {
        acc |= u128::from(byte) << acc_bits;
        acc_bits += 8;
        while acc_bits >= u32::from(width) && emitted < n {
            emit(acc as u64 & mask);
            acc >>= width;
            acc_bits -= u32::from(width);
            emitted += 1;
        }
    }
    if acc != 0 {
        return Err(DecodeError::invalid(field, at + len - 1, "padding bits after the last value are not zero"));
    }
    Ok(())
}

/// The decoding loop for widths up to 56 bits, where every value lies within the 8 bytes starting
/// at its first byte: one unaligned little-endian load, a shift and a mask per value. `bytes`
/// holds exactly [`packed_len`]`(n, width)` bytes.
#[inline]
fn unpack_words(bytes: &[u8], n: u64, width: u8, mask: u64, emit: &mut impl FnMut(u64)) {
    let width = u64::from(width);
    let mut idx = 0u64;
    // Values whose 8-byte window lies inside `bytes`.
    let whole = if bytes.len() >= 8 { ((bytes.len() as u64 - 8) * 8 / width + 1).min(n) } else { 0 };
    while idx < whole {
        let bit = idx * width;
        let start = (bit / 8) as usize;
        let word = u64::from_le_bytes(bytes[start..start + 8].try_into().expect("8 bytes"));
        emit((word >> (bit % 8)) & mask);
        idx += 1;
    }
    if idx == n {
        return;
    }
    // The rest lie in the last few bytes: copy them into a zero-padded buffer.
    let base = idx * width / 8;
    let mut tail = [0u8; 16];
    let rest = &bytes[base as usize..];
    tail[..rest.len()].copy_from_slice(rest);
    while idx < n {
        let bit = idx * width - base * 8;
        let start = (bit / 8) as usize;
        let word = u64::from_le_bytes(tail[start..start + 8].try_into().expect("8 bytes"));
        emit((word >> (bit % 8)) & mask);
        idx += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let mut out = Vec::new();
        pack([1u64, 2, 3, 0].into_iter(), 3, &mut out);
        // 001 010 011 000, LSB first: 0b11_010_001 = 0xd1, then 0b0000_0 → 0x00
        assert_eq!(out, [0xd1, 0x00]);
    }

    #[test]
    fn nonzero_padding_is_rejected() {
        let mut cur = Cursor::new(&[0xd1, 0x10], 5);
        assert!(matches!(unpack(&mut cur, 4, 3, "v", |_| {}), Err(DecodeError::Invalid { field: "v", offset: 6, .. })));
    }

    proptest! {
        #[test]
        fn roundtrip(values in proptest::collection::vec(any::<u64>(), 0..50), width in 0u8..=64) {
            let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
            let values: Vec<u64> = values.into_iter().map(|v| v & mask).collect();
            let mut out = Vec::new();
            pack(values.iter().copied(), width, &mut out);
            prop_assert_eq!(out.len() as u64, packed_len(values.len() as u64, width));
            let mut got = Vec::new();
            let mut cur = Cursor::new(&out, 0);
            unpack(&mut cur, values.len() as u64, width, "v", |v| got.push(v)).unwrap();
            prop_assert!(cur.is_at_end());
            prop_assert_eq!(got, values);
        }
    }
}
