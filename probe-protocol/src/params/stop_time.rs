//! The `stop_time` parameter: when an operation ends.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::Value;

/// Longest an operation may run. Cron has no year field, so the reference limits operations to
/// a year; 366 days lets a leap year's operation end on the same date a year later.
pub const MAX_OPERATION_DAYS: i64 = 366;

/// The end of an operation: the last minute it runs in, UTC. As in the original, that minute is
/// included whole: `stop_time = now` (to the minute) is accepted and runs until the minute is
/// over, and only a minute already over is refused. At most [`MAX_OPERATION_DAYS`] after the
/// moment it was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StopTime(DateTime<Utc>);

impl StopTime {
    /// Parses `dd/mm/YYYY HH:MM` (UTC; exactly one space; day, month, hour and minute may have
    /// one or two digits, as Python's `strptime` allows) and checks it against `now`.
    pub fn parse(text: &str, now: DateTime<Utc>) -> Result<Self, String> {
        let instant = parse_format(text).ok_or(FORMAT_RULE)?;
        if instant + STOP_MINUTE <= now {
            return Err("must be the current minute or later: that minute is over".to_string());
        }
        if instant - now > TimeDelta::days(MAX_OPERATION_DAYS) {
            return Err(format!(
                "must be at most {MAX_OPERATION_DAYS} days from now: an operation cannot run \
                 longer than a year"
            ));
        }
        Ok(Self(instant))
    }

    pub(super) fn from_json(value: &Value, now: DateTime<Utc>) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(text, now),
            _ => Err(FORMAT_RULE.to_string()),
        }
    }

    /// The start of the stop minute, as given.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }

    /// When the operation is over: the end of the stop minute.
    pub fn end(self) -> DateTime<Utc> {
        self.0 + STOP_MINUTE
    }
}

/// How long after the given `stop_time` an operation still runs: the whole stop minute.
pub const STOP_MINUTE: TimeDelta = TimeDelta::minutes(1);

const FORMAT_RULE: &str = "must be a date and time as dd/mm/YYYY HH:MM (UTC)";

/// The `stop_time` format as the reference writes it, zero-padded: `dd/mm/YYYY HH:MM` (chrono
/// `strftime` syntax). [`StopTime::parse`] reads it, and also the unpadded forms.
pub const STOP_TIME_FORMAT: &str = "%d/%m/%Y %H:%M";

/// `at` written as a `stop_time` (UTC, to the minute: seconds are dropped), as clients send it.
pub fn format_stop_time(at: DateTime<Utc>) -> String {
    at.format(STOP_TIME_FORMAT).to_string()
}

fn parse_format(text: &str) -> Option<DateTime<Utc>> {
    let (date, time) = text.split_once(' ')?;
    let mut date = date.split('/');
    let day = digits(date.next()?, 1..=2)?;
    let month = digits(date.next()?, 1..=2)?;
    let year = digits(date.next()?, 4..=4)?;
    let (hour, minute) = time.split_once(':')?;
    if date.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_opt(digits(hour, 1..=2)?, digits(minute, 1..=2)?, 0)
        .map(|naive| naive.and_utc())
}

/// `text` as a number, if it is only ASCII digits and their count is in `len`.
fn digits(text: &str, len: std::ops::RangeInclusive<usize>) -> Option<u32> {
    let all_digits = text.bytes().all(|b| b.is_ascii_digit());
    (all_digits && len.contains(&text.len()))
        .then(|| text.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap()
    }

    #[test]
    fn reads_the_reference_format_as_utc() {
        let stop = StopTime::parse("07/03/2026 05:56", now()).unwrap();
        assert_eq!(
            stop.get(),
            Utc.with_ymd_and_hms(2026, 3, 7, 5, 56, 0).unwrap()
        );
        let short = StopTime::parse("7/3/2026 5:56", now()).unwrap();
        assert_eq!(short, stop);
    }

    #[test]
    fn refuses_other_formats_and_impossible_dates() {
        for bad in [
            "07/03/2026  05:56",
            "07/03/2026T05:56",
            " 07/03/2026 05:56",
            "07/03/2026 05:56 ",
            "07/03/2026 05:56:00",
            "2026-03-07 05:56",
            "07/03/26 05:56",
            "007/03/2026 05:56",
            "07/03/2026/1 05:56",
            "+7/03/2026 05:56",
            "31/04/2025 10:00",
            "29/02/2026 10:00",
            "07/13/2025 10:00",
            "07/03/2026 24:00",
            "07/03/2026 05:60",
            "",
            "٠٧/03/2026 05:56",
        ] {
            assert_eq!(
                StopTime::parse(bad, now()).unwrap_err(),
                FORMAT_RULE,
                "{bad:?}"
            );
        }
        assert!(StopTime::from_json(&serde_json::json!(20260307), now()).is_err());
    }

    #[test]
    fn what_format_stop_time_writes_parses_back_to_its_minute() {
        let at = Utc.with_ymd_and_hms(2026, 3, 7, 5, 6, 42).unwrap();
        assert_eq!(format_stop_time(at), "07/03/2026 05:06");
        let stop = StopTime::parse(&format_stop_time(at), now()).unwrap();
        assert_eq!(
            stop.get(),
            Utc.with_ymd_and_hms(2026, 3, 7, 5, 6, 0).unwrap()
        );
    }

    #[test]
    fn the_current_minute_is_accepted_and_runs_to_its_end() {
        let this_minute = StopTime::parse("10/03/2025 12:00", now()).unwrap();
        assert_eq!(this_minute.end(), now() + TimeDelta::minutes(1));
        let late_in_it = now() + TimeDelta::seconds(59);
        assert!(StopTime::parse("10/03/2025 12:00", late_in_it).is_ok());
        assert!(StopTime::parse("10/03/2025 12:01", now()).is_ok());
    }

    #[test]
    fn a_minute_already_over_is_refused() {
        let just_over = now() + TimeDelta::minutes(1);
        assert_eq!(
            StopTime::parse("10/03/2025 12:00", just_over).unwrap_err(),
            "must be the current minute or later: that minute is over"
        );
        assert!(StopTime::parse("10/03/2025 11:59", now()).is_err());
    }

    #[test]
    fn must_be_within_366_days() {
        // 2025-03-10 12:00 + 366 days = 2026-03-11 12:00.
        assert!(StopTime::parse("11/03/2026 12:00", now()).is_ok());
        let error = StopTime::parse("11/03/2026 12:01", now()).unwrap_err();
        assert!(error.starts_with("must be at most 366 days from now"));
    }
}
