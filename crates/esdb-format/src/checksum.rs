//! The file's one checksum: xxh3-64 with seed 0.

/// Whether a stored checksum accepts the computed one.
///
/// Always equality, except in builds for `cargo fuzz` (`--cfg fuzzing`): there a mismatch is
/// ignored, so that fuzzers reach the decoders behind the checksums instead of stopping at them.
/// Readers built normally verify every checksum.
#[inline]
pub fn accepts(stored: u64, computed: u64) -> bool {
    stored == computed || cfg!(fuzzing)
}

/// xxh3-64 (seed 0) of `bytes`.
pub fn xxh3(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_reference_vector() {
        // Reference value of XXH3_64bits("") from the xxHash test suite.
        assert_eq!(super::xxh3(b""), 0x2d06_8005_38d3_94c2);
    }
}
