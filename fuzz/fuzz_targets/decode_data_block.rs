//! Fuzz target `decode_data_block`: see `esdb_fuzz_targets::decode_data_block`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_data_block(data));
