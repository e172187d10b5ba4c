//! Integration tests of the store: one binary, one module per area.

mod common;
mod concurrency;
mod crash;
mod dependability;
mod golden;
mod model;
mod recovery;
mod scale;
mod tier;
