//! End-to-end tests of the `esdb` binary on generated inputs, one test binary.

mod common;
mod errors;
mod import_scan;
mod kill;
mod roundtrip;
mod s3;
mod snapshots;
mod sql;
mod store_kill;
mod store_ops;
mod store_scale;
mod tutorial;
mod usability;
