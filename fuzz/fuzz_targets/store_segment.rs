//! Fuzz target `store_segment`: see `esdb_fuzz_targets::store_segment`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::store_segment(data));
