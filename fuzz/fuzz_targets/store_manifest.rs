//! Fuzz target `store_manifest`: see `esdb_fuzz_targets::store_manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::store_manifest(data));
