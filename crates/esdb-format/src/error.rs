//! The one error type of the format layer: what was wrong, in which field, at which file offset.

/// A structure in an ESDB file could not be decoded.
///
/// Every variant names the field or section and the absolute file offset at which the problem
/// was found, so that a report points at the exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes at `offset` are not the ESDB magic number.
    BadMagic {
        /// `header` or `footer`.
        section: &'static str,
        /// Absolute file offset of the magic number.
        offset: u64,
        /// The ESDB magic number.
        expected: [u8; 8],
        /// What the file holds instead.
        found: [u8; 8],
    },
    /// The file was written by a format major version this build cannot read.
    UnsupportedVersion {
        /// `header` or `footer`.
        section: &'static str,
        /// Major version found in the file.
        found_major: u16,
        /// Minor version found in the file.
        found_minor: u16,
        /// The newest major version this build reads (it reads every major from 1 up to it).
        supported_major: u16,
    },
    /// A field runs past the end of its section.
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Absolute file offset where the field starts.
        offset: u64,
        /// Bytes the field needs.
        need: u64,
        /// Bytes left in the section.
        have: u64,
    },
    /// A stored xxh3-64 checksum does not match the bytes it covers.
    ChecksumMismatch {
        /// The section whose checksum failed.
        section: &'static str,
        /// Absolute file offset of the section's first byte.
        offset: u64,
        /// Checksum stored in the file.
        stored: u64,
        /// Checksum of the bytes as read.
        computed: u64,
    },
    /// A field holds a value the format does not allow.
    Invalid {
        /// The field being read.
        field: &'static str,
        /// Absolute file offset of the field.
        offset: u64,
        /// What is wrong with it, with the value found.
        reason: String,
    },
    /// A section ends with bytes that no field accounts for.
    TrailingBytes {
        /// The section being decoded.
        section: &'static str,
        /// Absolute file offset of the first unexpected byte.
        offset: u64,
        /// Number of unexpected bytes.
        extra: u64,
    },
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecodeError::BadMagic { section, offset, expected, found } => write!(
                f,
                "bad magic in {section} at offset {offset}: expected {}, found {} (not an ESDB file, or not a complete one)",
                hex(expected),
                hex(found)
            ),
            DecodeError::UnsupportedVersion { section, found_major, found_minor, supported_major } => write!(
                f,
                "unsupported format version {found_major}.{found_minor} in {section} (this build reads major versions 1 to {supported_major})"
            ),
            DecodeError::Truncated { field, offset, need, have } => {
                write!(f, "{field} truncated at offset {offset}: need {need} bytes, {have} left")
            }
            DecodeError::ChecksumMismatch { section, offset, stored, computed } => write!(
                f,
                "{section} at offset {offset}: xxh3 checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
            ),
            DecodeError::Invalid { field, offset, reason } => write!(f, "{field} at offset {offset}: {reason}"),
            DecodeError::TrailingBytes { section, offset, extra } => {
                write!(f, "{section} at offset {offset}: {extra} unexpected trailing bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bytes as space-separated hex pairs, e.g. `89 45 53 44`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

impl DecodeError {
    /// Builds an [`DecodeError::Invalid`] with a formatted reason.
    pub fn invalid(field: &'static str, offset: u64, reason: impl Into<String>) -> Self {
        DecodeError::Invalid { field, offset, reason: reason.into() }
    }

    /// The absolute file offset this error points at.
    pub fn offset(&self) -> u64 {
        match self {
            DecodeError::BadMagic { offset, .. }
            | DecodeError::Truncated { offset, .. }
            | DecodeError::ChecksumMismatch { offset, .. }
            | DecodeError::Invalid { offset, .. }
            | DecodeError::TrailingBytes { offset, .. } => *offset,
            DecodeError::UnsupportedVersion { .. } => 0,
        }
    }
}

impl From<DecodeError> for std::io::Error {
    fn from(err: DecodeError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, err)
    }
}
