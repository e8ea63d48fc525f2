//! The `cron` parameter: when an operation fires, to the minute, in UTC.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde_json::Value;
use std::fmt;

/// Longest accepted expression. Real ones are a few dozen characters; the cap keeps junk out of
/// the parser.
pub const MAX_CRON_LEN: usize = 256;

/// A standard 5-field cron expression (minute hour day-of-month month day-of-week), as cron and
/// the original's `croniter` read it: names (`MON`, `JAN`), ranges, steps, lists, `L`, `W`,
/// `#` and the nicknames `@yearly`, `@monthly`, `@weekly`, `@daily`, `@hourly`. When both
/// day fields are restricted, a day matches either (Vixie cron). There is no seconds field.
#[derive(Debug, Clone)]
pub struct Cron {
    source: String,
    schedule: croner::Cron,
}

impl Cron {
    /// `text` as an expression, or the rule it breaks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let rule = "must be a standard 5-field cron expression \
                    (minute hour day-of-month month day-of-week)";
        // The parser is only fed short ASCII, so that no input can trip it on a char boundary.
        if text.len() > MAX_CRON_LEN || !text.is_ascii() {
            return Err(rule.to_string());
        }
        // croner's default is exactly 5 fields: a 6th (seconds) field is refused.
        let schedule = croner::Cron::new(text)
            .parse()
            .map_err(|error| format!("{rule}: {error}"))?;
        Ok(Self {
            source: text.to_string(),
            schedule,
        })
    }

    pub(super) fn from_json(value: &Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(text),
            _ => Err("must be a string holding a 5-field cron expression".to_string()),
        }
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The first minute strictly after `after` at which the expression fires, if it is not
    /// after `until`. The search never goes past `until`, so an expression that (almost) never
    /// fires, like `0 0 30 2 *`, costs one check per day up to `until`, not a search to the
    /// year 5000.
    pub fn next_after(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut day = after.date_naive();
        let mut from = next_minute(after.time());
        while day <= until.date_naive() {
            if let Some(time) = from.and_then(|from| self.first_time_from(day, from)) {
                let fire = day.and_time(time).and_utc();
                return (fire <= until).then_some(fire);
            }
            day = day.checked_add_days(Days::new(1))?;
            from = Some(NaiveTime::MIN);
        }
        None
    }

    /// How many minutes the expression fires strictly after `after` and not after `until`:
    /// the length of the chain of [`Cron::next_after`] calls, computed a day at a time so that
    /// a year of every minute costs a few hundred day checks, not half a million searches.
    pub fn count_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        let last_day = until.date_naive();
        // The first candidate minute: the one after `after`'s, possibly the next day's first.
        let (first_day, first_from) = match next_minute(after.time()) {
            Some(time) => (after.date_naive(), minute_of_day(time)),
            None => match after.date_naive().checked_add_days(Days::new(1)) {
                Some(day) => (day, 0),
                None => return 0,
            },
        };
        let whole_day = self.minutes_firing(0..MINUTES_PER_DAY);
        let mut count = 0;
        let mut day = first_day;
        while day <= last_day {
            if self.day_fires(day) {
                let from = if day == first_day { first_from } else { 0 };
                let to = if day == last_day {
                    minute_of_day(until.time()) + 1
                } else {
                    MINUTES_PER_DAY
                };
                count += if (from, to) == (0, MINUTES_PER_DAY) {
                    whole_day
                } else {
                    self.minutes_firing(from..to)
                };
            }
            let Some(next) = day.checked_add_days(Days::new(1)) else {
                break;
            };
            day = next;
        }
        count
    }

    /// The first firing minute on `day` at or after `from`.
    fn first_time_from(&self, day: NaiveDate, from: NaiveTime) -> Option<NaiveTime> {
        if !self.day_fires(day) {
            return None;
        }
        (minute_of_day(from)..MINUTES_PER_DAY)
            .find(|&m| self.minute_fires(m))
            .and_then(|m| NaiveTime::from_hms_opt(m / 60, m % 60, 0))
    }

    /// Whether the day and month fields match `day`.
    fn day_fires(&self, day: NaiveDate) -> bool {
        let pattern = &self.schedule.pattern;
        pattern.month_match(day.month()).unwrap_or(false)
            && pattern
                .day_match(day.year(), day.month(), day.day())
                .unwrap_or(false)
    }

    /// Whether the hour and minute fields match minute `m` of a day (0 is 00:00).
    fn minute_fires(&self, m: u32) -> bool {
        let pattern = &self.schedule.pattern;
        pattern.hour_match(m / 60).unwrap_or(false) && pattern.minute_match(m % 60).unwrap_or(false)
    }

    /// How many minutes of a firing day in `minutes` fire.
    fn minutes_firing(&self, minutes: std::ops::Range<u32>) -> u64 {
        minutes.filter(|&m| self.minute_fires(m)).count() as u64
    }
}

const MINUTES_PER_DAY: u32 = 24 * 60;

/// Minute of the day holding `time` (0 to 1439).
fn minute_of_day(time: NaiveTime) -> u32 {
    time.hour() * 60 + time.minute()
}

/// The start of the minute after the one holding `time`, or `None` past the day's last minute.
fn next_minute(time: NaiveTime) -> Option<NaiveTime> {
    let start = NaiveTime::from_hms_opt(time.hour(), time.minute(), 0)?;
    let (next, wrapped) = start.overflowing_add_signed(TimeDelta::minutes(1));
    (wrapped == 0).then_some(next)
}

impl PartialEq for Cron {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    fn cron(text: &str) -> Cron {
        Cron::parse(text).unwrap()
    }

    #[test]
    fn accepts_standard_expressions() {
        for ok in [
            "* * * * *",
            "*/5 * * * *",
            "0 * * * *",
            "0 0 1 1 *",
            "15,45 8-18 * * MON-FRI",
            "0 12 L * *",
            "0 0 * * 5#2",
            "0 0 * JAN,JUL 0",
            "@hourly",
            "@daily",
            " 0  1 * * 7 ",
        ] {
            assert!(Cron::parse(ok).is_ok(), "{ok} refused");
        }
    }

    #[test]
    fn refuses_anything_else() {
        for bad in [
            "",
            "* * * *",
            "0 * * * * *",
            "* * * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "a b c d e",
            "@reboot",
            "@every 5m",
            "５ * * * *",
            "* * * * ✓",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Cron::parse(&"1,".repeat(200)).is_err());
    }

    #[test]
    fn next_after_is_strictly_after_and_whole_minutes() {
        let until = at(2030, 1, 1, 0, 0, 0);
        let every_minute = cron("* * * * *");
        assert_eq!(
            every_minute.next_after(at(2025, 5, 1, 12, 0, 0), until),
            Some(at(2025, 5, 1, 12, 1, 0))
        );
        let just_before = at(2025, 5, 1, 11, 59, 59) + TimeDelta::milliseconds(999);
        assert_eq!(
            every_minute.next_after(just_before, until),
            Some(at(2025, 5, 1, 12, 0, 0))
        );
        assert_eq!(
            cron("*/5 * * * *").next_after(at(2025, 5, 1, 23, 57, 30), until),
            Some(at(2025, 5, 2, 0, 0, 0))
        );
        assert_eq!(
            cron("30 9 * * MON").next_after(at(2025, 5, 1, 12, 0, 0), until),
            Some(at(2025, 5, 5, 9, 30, 0))
        );
        assert_eq!(
            cron("0 0 29 2 *").next_after(at(2025, 5, 1, 12, 0, 0), until),
            Some(at(2028, 2, 29, 0, 0, 0))
        );
    }

    #[test]
    fn next_after_stops_at_until() {
        let after = at(2025, 5, 1, 12, 0, 0);
        let hourly = cron("0 * * * *");
        assert_eq!(
            hourly.next_after(after, at(2025, 5, 1, 13, 0, 0)),
            Some(at(2025, 5, 1, 13, 0, 0))
        );
        assert_eq!(hourly.next_after(after, at(2025, 5, 1, 12, 59, 0)), None);
        assert_eq!(hourly.next_after(after, after), None);
        assert_eq!(hourly.next_after(after, at(2000, 1, 1, 0, 0, 0)), None);
        let never = cron("0 0 30 2 *");
        assert_eq!(never.next_after(after, at(2026, 5, 1, 12, 0, 0)), None);
    }

    /// Random expressions built from cron's own syntax, values in and out of range: parsing
    /// and searching never panic.
    #[test]
    fn random_expressions_never_panic() {
        let mut seed: u64 = 0x5eed;
        let mut next = move |bound: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % bound
        };
        let after = at(2025, 5, 1, 12, 0, 0);
        let until = at(2026, 5, 1, 12, 0, 0);
        let mut parsed = 0;
        for _ in 0..20_000 {
            let fields: Vec<String> = (0..5)
                .map(|_| {
                    let (n, m, k) = (next(32), next(13), next(8));
                    match next(11) {
                        0 => "*".to_string(),
                        1 => format!("{n}"),
                        2 => format!("*/{k}"),
                        3 => format!("{n}-{m}"),
                        4 => format!("{n}-{m}/{k}"),
                        5 => format!("{n},{m}"),
                        6 => "L".to_string(),
                        7 => format!("{n}L"),
                        8 => format!("{n}W"),
                        9 => format!("{k}#{m}"),
                        _ => "?".to_string(),
                    }
                })
                .collect();
            if let Ok(cron) = Cron::parse(&fields.join(" ")) {
                parsed += 1;
                let _ = cron.next_after(after, until);
            }
        }
        assert!(parsed > 500, "only {parsed} expressions parsed");
    }

    /// The number of `next_after` steps from `after` to `until`, the slow way.
    fn chain_length(cron: &Cron, after: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        std::iter::successors(cron.next_after(after, until), |&t| {
            cron.next_after(t, until)
        })
        .count() as u64
    }

    #[test]
    fn count_between_is_the_length_of_the_next_after_chain() {
        let starts = [
            at(2025, 5, 1, 12, 0, 0),
            at(2025, 5, 1, 12, 0, 30),
            at(2025, 5, 1, 23, 59, 30),
            at(2025, 2, 28, 23, 58, 59),
        ];
        let lengths = [
            TimeDelta::zero(),
            TimeDelta::seconds(59),
            TimeDelta::minutes(1),
            TimeDelta::minutes(90) + TimeDelta::seconds(1),
            TimeDelta::days(1),
            TimeDelta::days(3) + TimeDelta::minutes(7),
            TimeDelta::days(40),
        ];
        for text in [
            "* * * * *",
            "*/7 * * * *",
            "0 * * * *",
            "59 23 * * *",
            "0 0 * * *",
            "15,45 8-18 * * MON-FRI",
            "0 0 29 2 *",
            "0 12 L * *",
        ] {
            let cron = cron(text);
            for after in starts {
                for length in lengths {
                    let until = after + length;
                    let expected = chain_length(&cron, after, until);
                    assert_eq!(
                        cron.count_between(after, until),
                        expected,
                        "{text} {after} {until}"
                    );
                }
                assert_eq!(cron.count_between(after, after - TimeDelta::days(2)), 0);
            }
        }
    }

    #[test]
    fn count_between_a_year_of_every_minute() {
        let after = at(2025, 5, 1, 12, 0, 0);
        let count = cron("* * * * *").count_between(after, after + TimeDelta::days(366));
        assert_eq!(count, 366 * 24 * 60);
        let edge = cron("* * * * *").count_between(
            DateTime::<Utc>::MAX_UTC - TimeDelta::days(1),
            DateTime::<Utc>::MAX_UTC,
        );
        assert!(edge <= 24 * 60);
    }

    #[test]
    fn next_after_survives_extreme_instants() {
        let hourly = cron("0 * * * *");
        assert_eq!(
            hourly.next_after(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC),
            None
        );
        let first = hourly.next_after(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(first.is_some());
    }
}
