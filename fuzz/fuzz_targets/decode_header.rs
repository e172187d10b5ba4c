//! Fuzz target `decode_header`: see `esdb_fuzz_targets::decode_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_header(data));
