//! Fuzz target `decode_grouping_table`: see `esdb_fuzz_targets::decode_grouping_table`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_grouping_table(data));
