//! Format major version 1.
//!
//! Layout: docs/FORMAT.md. Once released, nothing in this module changes meaning; a new major
//! version gets a new module.

pub mod block_index;
pub mod catalog;
pub mod data_block;
pub mod footer;
pub mod frame;
pub mod grouping_table;
pub mod header;
pub mod key;
pub mod posting_block;

/// The largest raw block payload any v1 file may hold: 1 GiB plus room for block bookkeeping.
pub const MAX_BLOCK_LEN: u32 = (1 << 30) + (1 << 20);
/// The deepest catalog tree a reader follows.
pub const MAX_CATALOG_HEIGHT: u32 = 16;
/// Longest space id, grouping name, index name or index value, in bytes.
pub const MAX_KEY_PART_LEN: usize = 65_535;
/// Largest data of one event the format allows (writers default to less).
pub const MAX_DATA_LEN: usize = 1 << 30;
/// Most events one data block may hold; bounds the memory a reader spends decoding a block.
pub const MAX_BLOCK_EVENTS: u64 = 65_536;

/// Runs a decoder that fills `out`, leaving `out` empty if it fails, so that no caller can see
/// half-decoded items.
pub(crate) fn cleared_on_error<T>(
    out: &mut Vec<T>,
    decode: impl FnOnce(&mut Vec<T>) -> Result<(), crate::DecodeError>,
) -> Result<(), crate::DecodeError> {
    let result = decode(out);
    if result.is_err() {
        out.clear();
    }
    result
}
