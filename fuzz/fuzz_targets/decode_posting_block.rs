//! Fuzz target `decode_posting_block`: see `esdb_fuzz_targets::decode_posting_block`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_posting_block(data));
