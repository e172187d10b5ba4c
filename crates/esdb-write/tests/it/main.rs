//! Integration tests of the writer, one binary.

mod fault;
