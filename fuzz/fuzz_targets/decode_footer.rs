//! Fuzz target `decode_footer`: see `esdb_fuzz_targets::decode_footer`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_footer(data));
