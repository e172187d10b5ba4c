//! Fuzz target `read_any`: see `esdb_fuzz_targets::read_any`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::read_any(data));
