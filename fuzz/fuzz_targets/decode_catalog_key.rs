//! Fuzz target `decode_catalog_key`: see `esdb_fuzz_targets::decode_catalog_key`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| esdb_fuzz_targets::decode_catalog_key(data));
