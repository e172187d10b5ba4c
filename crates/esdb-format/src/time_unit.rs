//! [`TimeUnit`]: what one tick of an `i64` timestamp means, as stores (and files) record it.

use std::fmt;
use std::str::FromStr;

/// The unit of the integer timestamps: ticks since 1970-01-01T00:00:00Z. ESDB stores plain
/// `i64`; the unit is what lets a reader turn them into times and back.
///
/// ```
/// use esdb_format::TimeUnit;
/// assert_eq!("ms".parse::<TimeUnit>()?, TimeUnit::Milliseconds);
/// assert_eq!(TimeUnit::Milliseconds.per_second(), 1_000);
/// assert_eq!(TimeUnit::Seconds.from_unix_nanos(1_500_000_000), 1);
/// assert_eq!(TimeUnit::Microseconds.to_string(), "us");
/// # Ok::<(), esdb_format::time_unit::UnknownTimeUnit>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// Seconds (`s`).
    Seconds,
    /// Milliseconds (`ms`).
    Milliseconds,
    /// Microseconds (`us`).
    Microseconds,
    /// Nanoseconds (`ns`).
    Nanoseconds,
}

impl TimeUnit {
    /// Every unit, coarsest first.
    pub const ALL: [TimeUnit; 4] =
        [TimeUnit::Seconds, TimeUnit::Milliseconds, TimeUnit::Microseconds, TimeUnit::Nanoseconds];

    /// The short name: `s`, `ms`, `us` or `ns`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeUnit::Seconds => "s",
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Microseconds => "us",
            TimeUnit::Nanoseconds => "ns",
        }
    }

    /// Ticks per second.
    pub fn per_second(self) -> i64 {
        match self {
            TimeUnit::Seconds => 1,
            TimeUnit::Milliseconds => 1_000,
            TimeUnit::Microseconds => 1_000_000,
            TimeUnit::Nanoseconds => 1_000_000_000,
        }
    }

    /// Nanoseconds per tick.
    pub fn nanos_per_tick(self) -> i64 {
        1_000_000_000 / self.per_second()
    }

    /// The tick that `nanos` nanoseconds since the epoch fall in (rounded towards negative
    /// infinity), saturating at the ends of `i64`.
    pub fn from_unix_nanos(self, nanos: i128) -> i64 {
        let ticks = nanos.div_euclid(i128::from(self.nanos_per_tick()));
        i64::try_from(ticks).unwrap_or(if ticks < 0 { i64::MIN } else { i64::MAX })
    }

    /// Ticks in `duration` (rounded down), saturating at `i64::MAX`.
    pub fn ticks_in(self, duration: std::time::Duration) -> i64 {
        let ticks = duration.as_nanos() / self.nanos_per_tick() as u128;
        i64::try_from(ticks).unwrap_or(i64::MAX)
    }
}

impl fmt::Display for TimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a [`TimeUnit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTimeUnit(pub String);

impl fmt::Display for UnknownTimeUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown time unit {:?}: expected s, ms, us or ns", self.0)
    }
}

impl std::error::Error for UnknownTimeUnit {}

impl FromStr for TimeUnit {
    type Err = UnknownTimeUnit;

    fn from_str(text: &str) -> Result<TimeUnit, UnknownTimeUnit> {
        TimeUnit::ALL.into_iter().find(|unit| unit.as_str() == text).ok_or_else(|| UnknownTimeUnit(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_conversions_round_down() {
        for unit in TimeUnit::ALL {
            assert_eq!(unit.as_str().parse::<TimeUnit>(), Ok(unit));
            assert_eq!(unit.per_second() * unit.nanos_per_tick(), 1_000_000_000);
        }
        assert!("sec".parse::<TimeUnit>().is_err());
        assert_eq!(TimeUnit::Seconds.from_unix_nanos(-1), -1);
        assert_eq!(TimeUnit::Nanoseconds.from_unix_nanos(i128::MAX), i64::MAX);
        assert_eq!(TimeUnit::Milliseconds.ticks_in(std::time::Duration::from_secs(86_400)), 86_400_000);
    }
}
