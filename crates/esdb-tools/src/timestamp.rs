//! Timestamps on the command line and in input records: integers in the file's unit, or RFC 3339.

use anyhow::{anyhow, bail, Result};
use clap::ValueEnum;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The unit of the integers stored in a file. ESDB itself stores plain `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TimeUnit {
    /// Seconds since 1970-01-01T00:00:00Z.
    #[default]
    S,
    /// Milliseconds.
    Ms,
    /// Microseconds.
    Us,
    /// Nanoseconds.
    Ns,
}

impl TimeUnit {
    fn nanos(self) -> i128 {
        match self {
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }
}

/// Parses an RFC 3339 date-time into `unit`, rounding towards negative infinity.
pub fn parse_rfc3339(text: &str, unit: TimeUnit) -> Result<i64> {
    let time = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|err| anyhow!("{text:?} is not an RFC 3339 date-time ({err})"))?;
    let value = time.unix_timestamp_nanos().div_euclid(unit.nanos());
    i64::try_from(value).map_err(|_| anyhow!("{text:?} is out of range for 64-bit timestamps in this unit"))
}

/// A timestamp given as text: an integer in `unit`, or an RFC 3339 date-time.
pub fn parse_text(text: &str, unit: TimeUnit) -> Result<i64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        bail!("empty timestamp");
    }
    if let Ok(value) = trimmed.parse::<i64>() {
        return Ok(value);
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'+') {
        bail!("{trimmed:?} does not fit in a 64-bit timestamp");
    }
    parse_rfc3339(trimmed, unit)
        .map_err(|err| anyhow!("{err}; expected an integer or an RFC 3339 date-time such as 2024-05-01T12:00:00Z"))
}

/// A timestamp given as JSON: an integer, or a string holding one of [`parse_text`]'s forms.
pub fn parse_json(value: &serde_json::Value, unit: TimeUnit) -> Result<i64> {
    match value {
        serde_json::Value::Number(number) => number
            .as_i64()
            .ok_or_else(|| anyhow!("{number} is not a 64-bit integer; expected an integer or an RFC 3339 string")),
        serde_json::Value::String(text) => parse_text(text, unit),
        other => bail!("{other} is not a timestamp; expected an integer or an RFC 3339 string"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_rfc3339() {
        assert_eq!(parse_text("1403534919", TimeUnit::S).unwrap(), 1403534919);
        assert_eq!(parse_text("-5", TimeUnit::S).unwrap(), -5);
        assert_eq!(parse_text("2014-06-23T14:48:39Z", TimeUnit::S).unwrap(), 1403534919);
        assert_eq!(parse_text("2014-06-23T16:48:39.5+02:00", TimeUnit::Ms).unwrap(), 1403534919500);
        assert_eq!(parse_text("1969-12-31T23:59:59.5Z", TimeUnit::S).unwrap(), -1);
        assert!(parse_text("yesterday", TimeUnit::S).is_err());
        assert!(parse_text("99999999999999999999", TimeUnit::S).is_err());
        assert!(parse_json(&serde_json::json!(1.5), TimeUnit::S).is_err());
    }
}
