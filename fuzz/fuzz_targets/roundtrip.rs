//! Fuzz target `roundtrip`: see `esdb_fuzz_targets::roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::roundtrip(data));
