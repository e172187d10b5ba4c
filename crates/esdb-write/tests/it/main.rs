//! Integration tests of the writer, one binary.

mod catalog;
mod fault;
