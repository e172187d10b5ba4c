//! Fuzz target `decode_block_index`: see `esdb_fuzz_targets::decode_block_index`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_block_index(data));
