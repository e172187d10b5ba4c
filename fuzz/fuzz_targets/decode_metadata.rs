//! Fuzz target `decode_metadata`: see `esdb_fuzz_targets::decode_metadata`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_metadata(data));
