//! Fuzz target `decode_varints`: see `esdb_fuzz_targets::decode_varints`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_varints(data));
