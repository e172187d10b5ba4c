//! Integration tests of the reader, one binary: see each module.

mod activity;
mod api;
mod common;
mod corrupt;
mod far;
mod golden;
mod hostile;
mod model;
