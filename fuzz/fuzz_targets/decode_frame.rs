//! Fuzz target `decode_frame`: see `esdb_fuzz_targets::decode_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_frame(data));
