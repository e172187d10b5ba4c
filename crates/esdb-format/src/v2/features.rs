//! Feature flags of a version 2 file, in two sets as in ext4 and SQLite: an *incompatible*
//! feature changes how some bytes must be read, so a reader that does not know it MUST refuse the
//! file; a *compatible* one only adds information, so a reader MAY ignore it.
//!
//! Layout: docs/FORMAT.md#feature-flags.

use crate::error::DecodeError;

/// Incompatible feature: data and posting blocks may use codec 3, zstd with the file's
/// dictionary, which the metadata key `esdb.zstd_dictionary` locates.
pub const ZSTD_DICTIONARY: u32 = 1 << 0;

/// Incompatible features this build understands. Every other bit is reserved for a later minor
/// version, whose files an older 2.x reader then refuses by name.
pub const KNOWN_INCOMPATIBLE: u32 = ZSTD_DICTIONARY;

/// Compatible feature (version 2.1): some index names are covered, their values' events stored
/// again as data streams of their own, found through the covering catalog that the metadata key
/// `esdb.covering` locates ([`crate::v2::covering`]). A reader that ignores it reads the same
/// events through the postings.
pub const COVERING_INDEXES: u32 = 1 << 0;

/// Compatible feature (version 2.2): the events of every space of several groupings are stored
/// again in timeline order, as a data stream of their own, found through the covering-timeline
/// catalog that the metadata key `esdb.covering_timeline` locates
/// ([`CoveringTimelineCatalog`](crate::v2::covering::CoveringTimelineCatalog)). A reader that
/// ignores it reads the same events through the timeline postings.
pub const COVERING_TIMELINE: u32 = 1 << 1;

/// Compatible features this build understands.
pub const KNOWN_COMPATIBLE: u32 = COVERING_INDEXES | COVERING_TIMELINE;

/// The two feature sets of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// Features a reader MUST understand to read the file.
    pub incompatible: u32,
    /// Features a reader MAY ignore.
    pub compatible: u32,
}

impl Features {
    /// Fails if the file uses an incompatible feature this build does not know; `at` is the
    /// absolute offset of the incompatible-features field.
    ///
    /// # Errors
    /// [`DecodeError::Invalid`] naming the unknown bits.
    pub fn check_supported(&self, at: u64) -> Result<(), DecodeError> {
        let unknown = self.incompatible & !KNOWN_INCOMPATIBLE;
        if unknown != 0 {
            return Err(DecodeError::invalid(
                "footer incompatible features",
                at,
                format!("the file needs features {unknown:#010x}, which this build does not know: upgrade the reader"),
            ));
        }
        Ok(())
    }

    /// Whether the file has a zstd dictionary ([`ZSTD_DICTIONARY`]).
    pub fn zstd_dictionary(&self) -> bool {
        self.incompatible & ZSTD_DICTIONARY != 0
    }

    /// Whether the file has covering indexes ([`COVERING_INDEXES`]).
    pub fn covering_indexes(&self) -> bool {
        self.compatible & COVERING_INDEXES != 0
    }

    /// Whether the file has covering timelines ([`COVERING_TIMELINE`]).
    pub fn covering_timeline(&self) -> bool {
        self.compatible & COVERING_TIMELINE != 0
    }

    /// Compatible features set in the file that this build ignores.
    pub fn unknown_compatible(&self) -> u32 {
        self.compatible & !KNOWN_COMPATIBLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_incompatible_bits_are_refused_unknown_compatible_ones_are_not() {
        assert!(Features { incompatible: 0, compatible: 0xffff }.check_supported(0).is_ok());
        assert_eq!(Features { incompatible: 0, compatible: 0x13 }.unknown_compatible(), 0x10);
        assert!(Features { incompatible: ZSTD_DICTIONARY, compatible: 0 }.check_supported(0).is_ok());
        let err = Features { incompatible: 4, compatible: 0 }.check_supported(77).unwrap_err();
        assert!(matches!(err, DecodeError::Invalid { offset: 77, .. }));
        assert!(err.to_string().contains("0x00000004"), "{err}");
    }
}
