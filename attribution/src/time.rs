//! UTC instants at second resolution, written as the source article wrote them.
//!
//! `2025-06-12 15:00:00 UTC` is the contract's format: BigQuery, DuckDB and PostgreSQL all parse
//! it, in JSON and CSV alike. Parsing also takes what billing exports and users write: RFC 3339
//! (`2025-06-12T15:00:00Z`, `+02:00` offsets, fractional seconds, which must be zero past the
//! second), and the zone-less `2025-06-12 15:00:00` of real FOCUS exports (read as UTC).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds in an hour, the default step.
pub const HOUR: i64 = 3_600;
/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A UTC instant, whole seconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(pub i64);

impl UtcTime {
    /// The instant `seconds` after the Unix epoch.
    pub const fn from_unix(seconds: i64) -> UtcTime {
        UtcTime(seconds)
    }

    /// Seconds since the Unix epoch.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The start of the step of `step_seconds` that contains this instant (steps are aligned to
    /// the epoch, so hours and UTC days).
    pub const fn floor(self, step_seconds: i64) -> UtcTime {
        UtcTime(self.0.div_euclid(step_seconds) * step_seconds)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = civil_from_days(self.0.div_euclid(DAY));
        let second_of_day = self.0.rem_euclid(DAY);
        write!(
            f,
            "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
            second_of_day / HOUR,
            second_of_day % HOUR / 60,
            second_of_day % 60
        )
    }
}

/// Why a time did not parse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid time `{}`: {} (write `2025-06-12 15:00:00 UTC` or RFC 3339 `2025-06-12T15:00:00Z`)",
            self.input, self.reason
        )
    }
}

impl std::error::Error for TimeError {}

/// A cursor over the ASCII bytes of a time.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, count: usize) -> Option<u32> {
        let run = self.bytes.get(self.at..self.at + count)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.at += count;
        Some(run.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    fn rest(&self) -> &[u8] {
        &self.bytes[self.at..]
    }
}

impl FromStr for UtcTime {
    type Err = TimeError;

    fn from_str(text: &str) -> Result<UtcTime, TimeError> {
        let fail = |reason| TimeError {
            input: text.to_owned(),
            reason,
        };
        let mut at = Cursor {
            bytes: text.trim().as_bytes(),
            at: 0,
        };
        let date = (|| {
            let year = at.digits(4)?;
            at.eat(b'-').then_some(())?;
            let month = at.digits(2)?;
            at.eat(b'-').then_some(())?;
            Some((i64::from(year), month, at.digits(2)?))
        })();
        let (year, month, day) = date.ok_or_else(|| fail("expected a date YYYY-MM-DD"))?;
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(fail("no such date"));
        }
        let mut seconds = days_from_civil(year, month, day) * DAY;
        if at.rest().is_empty() {
            return Ok(UtcTime(seconds));
        }
        if !(at.eat(b'T') || at.eat(b't') || at.eat(b' ')) {
            return Err(fail("expected `T` or a space after the date"));
        }
        let clock = (|| {
            let hour = at.digits(2)?;
            at.eat(b':').then_some(())?;
            let minute = at.digits(2)?;
            let second = if at.eat(b':') { at.digits(2)? } else { 0 };
            Some((hour, minute, second))
        })();
        let (hour, minute, second) = clock.ok_or_else(|| fail("expected a time HH:MM[:SS]"))?;
        if hour > 23 || minute > 59 || second > 59 {
            return Err(fail("hour, minute or second out of range"));
        }
        seconds += i64::from(hour * 3_600 + minute * 60 + second);
        if at.eat(b'.') {
            let fraction = at.rest().iter().take_while(|b| b.is_ascii_digit()).count();
            if fraction == 0 {
                return Err(fail("expected digits after `.`"));
            }
            if at.rest()[..fraction].iter().any(|&b| b != b'0') {
                return Err(fail("times are whole seconds; the fraction must be zero"));
            }
            at.at += fraction;
        }
        match at.rest() {
            b"" | b"Z" | b"z" | b" UTC" | b" utc" | b"+00" | b"+0000" => Ok(UtcTime(seconds)),
            [sign @ (b'+' | b'-'), ..] => {
                let sign = if *sign == b'+' { -1 } else { 1 };
                at.at += 1;
                let offset = (|| {
                    let hours = at.digits(2)?;
                    at.eat(b':');
                    let minutes = at.digits(2)?;
                    at.rest()
                        .is_empty()
                        .then_some(i64::from(hours * 3_600 + minutes * 60))
                })();
                offset
                    .map(|offset| UtcTime(seconds + sign * offset))
                    .ok_or_else(|| fail("expected an offset like +02:00"))
            }
            _ => Err(fail("unexpected text after the time")),
        }
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<UtcTime, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_article_format() {
        assert_eq!(
            UtcTime(1_749_740_400).to_string(),
            "2025-06-12 15:00:00 UTC"
        );
        assert_eq!(UtcTime(0).to_string(), "1970-01-01 00:00:00 UTC");
        assert_eq!(UtcTime(-1).to_string(), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn reads_every_accepted_form() {
        for text in [
            "2025-06-12 15:00:00 UTC",
            "2025-06-12T15:00:00Z",
            "2025-06-12 15:00:00",
            "2025-06-12T15:00",
            "2025-06-12T17:00:00+02:00",
            "2025-06-12T10:30:00-04:30",
            "2025-06-12T15:00:00.000Z",
        ] {
            assert_eq!(
                text.parse::<UtcTime>(),
                Ok(UtcTime(1_749_740_400)),
                "{text}"
            );
        }
        assert_eq!(
            "2024-02-29".parse::<UtcTime>().unwrap().to_string(),
            "2024-02-29 00:00:00 UTC"
        );
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for text in [
            "",
            "2025-13-01",
            "2025-02-29",
            "2025-06-12 24:00",
            "2025-06-12T15:00:00.5Z",
            "2025-06-12 15:00 CET",
            "NULL",
        ] {
            assert!(text.parse::<UtcTime>().is_err(), "{text}");
        }
    }

    #[test]
    fn round_trips_over_centuries() {
        for seconds in (-5_000_000_000_i64..10_000_000_000).step_by(86_399 * 37) {
            let time = UtcTime(seconds);
            assert_eq!(time.to_string().parse::<UtcTime>(), Ok(time));
        }
    }

    #[test]
    fn floors_to_the_step() {
        assert_eq!(UtcTime(1_749_742_799).floor(HOUR), UtcTime(1_749_740_400));
        assert_eq!(UtcTime(-1).floor(HOUR), UtcTime(-3_600));
    }
}
