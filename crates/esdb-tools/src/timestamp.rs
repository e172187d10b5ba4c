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
    /// The unit's name on the command line: `s`, `ms`, `us` or `ns`.
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::S => "s",
            TimeUnit::Ms => "ms",
            TimeUnit::Us => "us",
            TimeUnit::Ns => "ns",
        }
    }

    fn nanos(self) -> i128 {
        match self {
            TimeUnit::S => 1_000_000_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::Us => 1_000,
            TimeUnit::Ns => 1,
        }
    }
}

impl From<TimeUnit> for esdb_store::TimeUnit {
    fn from(unit: TimeUnit) -> esdb_store::TimeUnit {
        match unit {
            TimeUnit::S => esdb_store::TimeUnit::Seconds,
            TimeUnit::Ms => esdb_store::TimeUnit::Milliseconds,
            TimeUnit::Us => esdb_store::TimeUnit::Microseconds,
            TimeUnit::Ns => esdb_store::TimeUnit::Nanoseconds,
        }
    }
}

impl From<esdb_store::TimeUnit> for TimeUnit {
    fn from(unit: esdb_store::TimeUnit) -> TimeUnit {
        match unit {
            esdb_store::TimeUnit::Seconds => TimeUnit::S,
            esdb_store::TimeUnit::Milliseconds => TimeUnit::Ms,
            esdb_store::TimeUnit::Microseconds => TimeUnit::Us,
            esdb_store::TimeUnit::Nanoseconds => TimeUnit::Ns,
        }
    }
}

/// How a time between two ticks of the unit becomes an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Towards negative infinity: the tick the time falls in (event timestamps).
    Floor,
    /// Towards positive infinity: the first tick at or after the time (range bounds: `--from T`
    /// keeps events at or after T, `--until T` events before T, so both start at the next tick).
    Ceil,
}

/// Parses an RFC 3339 date-time, or a bare date (midnight UTC), into `unit`.
pub fn parse_rfc3339(text: &str, unit: TimeUnit, rounding: Rounding) -> Result<i64> {
    let time = match parse_date(text) {
        Some(date) => date,
        None => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|err| anyhow!("{text:?} is not an RFC 3339 date-time ({err})"))?,
    };
    let nanos = time.unix_timestamp_nanos();
    let value = match rounding {
        Rounding::Floor => nanos.div_euclid(unit.nanos()),
        Rounding::Ceil => -(-nanos).div_euclid(unit.nanos()),
    };
    i64::try_from(value).map_err(|_| anyhow!("{text:?} is out of range for 64-bit timestamps in this unit"))
}

/// `timestamp` in `unit` as an RFC 3339 UTC date-time (with as many fraction digits as the unit
/// has), or `None` when it lies outside the years 1..=9999.
pub fn format_rfc3339(timestamp: i64, unit: TimeUnit) -> Option<String> {
    let time = OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp) * unit.nanos()).ok()?;
    if !(1..=9999).contains(&time.year()) {
        return None;
    }
    let fraction = match unit {
        TimeUnit::S => String::new(),
        TimeUnit::Ms => format!(".{:03}", time.millisecond()),
        TimeUnit::Us => format!(".{:06}", time.microsecond()),
        TimeUnit::Ns => format!(".{:09}", time.nanosecond()),
    };
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{fraction}Z",
        time.year(),
        u8::from(time.month()),
        time.day(),
        time.hour(),
        time.minute(),
        time.second()
    ))
}

/// A bare date `YYYY-MM-DD`, as midnight UTC.
fn parse_date(text: &str) -> Option<OffsetDateTime> {
    let bytes = text.as_bytes();
    let digits =
        |range: std::ops::Range<usize>| bytes[range.clone()].iter().all(u8::is_ascii_digit).then(|| &text[range]);
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year: i32 = digits(0..4)?.parse().ok()?;
    let month: u8 = digits(5..7)?.parse().ok()?;
    let day: u8 = digits(8..10)?.parse().ok()?;
    let date = time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    Some(date.midnight().assume_utc())
}

/// A timestamp given as text: an integer in `unit`, or an RFC 3339 date-time or date, rounded
/// down to the unit.
pub fn parse_text(text: &str, unit: TimeUnit) -> Result<i64> {
    parse_text_rounded(text, unit, Rounding::Floor)
}

/// A range bound given as text, as [`parse_text`] but rounded up to the unit.
pub fn parse_bound(text: &str, unit: TimeUnit) -> Result<i64> {
    parse_text_rounded(text, unit, Rounding::Ceil)
}

/// A timestamp that must be an integer (no unit is known to convert a time with).
pub fn parse_integer(text: &str) -> Result<i64> {
    let trimmed = text.trim();
    trimmed.parse::<i64>().map_err(|_| anyhow!("{trimmed:?} is not an integer timestamp"))
}

fn parse_text_rounded(text: &str, unit: TimeUnit, rounding: Rounding) -> Result<i64> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        bail!("empty timestamp");
    }
    if let Ok(value) = trimmed.parse::<i64>() {
        return Ok(value);
    }
    let integer = trimmed.strip_prefix(['-', '+']).unwrap_or(trimmed);
    if !integer.is_empty() && integer.bytes().all(|b| b.is_ascii_digit()) {
        bail!("{trimmed:?} does not fit in a 64-bit timestamp");
    }
    parse_rfc3339(trimmed, unit, rounding).map_err(|err| {
        anyhow!("{err}; expected an integer, an RFC 3339 date-time such as 2024-05-01T12:00:00Z or a date such as 2024-05-01")
    })
}

/// A timestamp given as JSON: an integer, or a string holding one of [`parse_text`]'s forms.
pub fn parse_json(value: &serde_json::Value, unit: TimeUnit) -> Result<i64> {
    match value {
        // A float with an exact integer value is that integer: `-0` (which serde_json reads as a
        // float), `1.0`, `1e3`. Beyond 2^53 a float may not be the integer that was written.
        serde_json::Value::Number(number) => number
            .as_i64()
            .or_else(|| {
                let float = number.as_f64()?;
                (float.fract() == 0.0 && float.abs() <= 9_007_199_254_740_992.0).then_some(float as i64)
            })
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

    #[test]
    fn bounds_round_up_dates_are_midnight_and_minus_zero_is_zero() {
        // See: issue 16 (`--from …01:00:00.5Z` included the event at 01:00:00).
        assert_eq!(parse_bound("1970-01-01T01:00:00.5Z", TimeUnit::S).unwrap(), 3601);
        assert_eq!(format_rfc3339(1403534919, TimeUnit::S).as_deref(), Some("2014-06-23T14:48:39Z"));
        assert_eq!(format_rfc3339(1403534919500, TimeUnit::Ms).as_deref(), Some("2014-06-23T14:48:39.500Z"));
        assert_eq!(format_rfc3339(-1, TimeUnit::Ns).as_deref(), Some("1969-12-31T23:59:59.999999999Z"));
        assert_eq!(format_rfc3339(i64::MAX, TimeUnit::S), None);
        assert_eq!(parse_bound("1970-01-01T01:00:00Z", TimeUnit::S).unwrap(), 3600);
        assert_eq!(parse_bound("1969-12-31T23:59:59.5Z", TimeUnit::S).unwrap(), 0);
        assert_eq!(parse_text("1970-01-01T01:00:00.5Z", TimeUnit::S).unwrap(), 3600);
        // See: issue 16 (a bare date "does not fit in a 64-bit timestamp").
        assert_eq!(parse_bound("2013-02-01", TimeUnit::S).unwrap(), 1359676800);
        assert_eq!(parse_text("2013-02-01", TimeUnit::Ms).unwrap(), 1359676800000);
        assert!(parse_text("2013-02-30", TimeUnit::S).is_err());
        let minus_zero: serde_json::Value = serde_json::from_str("-0").unwrap();
        assert_eq!(parse_json(&minus_zero, TimeUnit::S).unwrap(), 0);
        assert_eq!(parse_json(&serde_json::json!(1e3), TimeUnit::S).unwrap(), 1000);
        assert!(parse_json(&serde_json::json!(1e300), TimeUnit::S).is_err());
        assert!(parse_text("--5", TimeUnit::S).is_err());
    }
}
