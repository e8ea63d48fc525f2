//! When an operation runs: the cron expression fires minutes until the stop time, and each fired
//! minute holds `times_per_minute` runs spread evenly over it.

use super::cron::Cron;
use super::error::ParamError;
use super::fields::Fields;
use super::stop_time::StopTime;
use super::values::Ranged;
use chrono::{DateTime, TimeDelta, Utc};

/// How many runs a fired minute holds: 1 to 60 (one per second at most).
pub type TimesPerMinute = Ranged<1, 60>;

/// The three mandatory parameters every operation has: `cron`, `stop_time`, `times_per_minute`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    cron: Cron,
    stop_time: StopTime,
    times_per_minute: TimesPerMinute,
}

impl Schedule {
    /// Reads the three mandatory parameters; `now` bounds the stop time.
    pub(super) fn from_fields(fields: &Fields, now: DateTime<Utc>) -> Result<Self, ParamError> {
        Ok(Self {
            cron: fields.required("cron", Cron::from_json)?,
            stop_time: fields.required("stop_time", |v| StopTime::from_json(v, now))?,
            times_per_minute: fields.required("times_per_minute", TimesPerMinute::from_json)?,
        })
    }

    /// The cron expression.
    pub fn cron(&self) -> &Cron {
        &self.cron
    }

    /// The last minute the operation fires in (its start): no minute after it fires.
    pub fn stop_time(&self) -> DateTime<Utc> {
        self.stop_time.get()
    }

    /// When the operation is over: the end of the stop minute (see [`StopTime::end`]).
    pub fn end(&self) -> DateTime<Utc> {
        self.stop_time.end()
    }

    /// How many runs each fired minute holds, 1 to 60.
    pub fn times_per_minute(&self) -> u32 {
        u32::from(self.times_per_minute.get())
    }

    /// The original's estimate of how many minutes fire, **not** multiplied by
    /// `times_per_minute` (see [`Schedule::estimated_runs`]). With `first` and `second` the
    /// next two firings strictly after `now`: 1 if the stop time is before `first`, otherwise
    /// `(stop − first) / (second − first)`, at least 1. It is fractional, and it slightly
    /// undercounts (a cron firing every minute for ten minutes gives 9), exactly as the
    /// original charged.
    pub fn estimated_executions(&self, now: DateTime<Utc>) -> f64 {
        let stop = self.stop_time();
        let Some(first) = self.cron.next_after(now, stop) else {
            return 1.0;
        };
        // A second firing after the stop time makes the ratio below 1, so it counts as 1.
        let Some(second) = self.cron.next_after(first, stop) else {
            return 1.0;
        };
        let seconds = |delta: TimeDelta| delta.num_seconds() as f64;
        (seconds(stop - first) / seconds(second - first)).max(1.0)
    }

    /// [`Schedule::estimated_executions`] × `times_per_minute`: the estimated number of runs,
    /// which is what the original multiplied the per-execution credits by.
    pub fn estimated_runs(&self, now: DateTime<Utc>) -> f64 {
        self.estimated_executions(now) * f64::from(self.times_per_minute())
    }

    /// The minutes the expression fires, strictly after `after` and not after the stop time, in
    /// order. Each is the start of a minute; see [`Schedule::run_times_in_minute`].
    pub fn fire_times(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let stop = self.stop_time();
        std::iter::successors(self.cron.next_after(after, stop), move |&fired| {
            self.cron.next_after(fired, stop)
        })
    }

    /// The instants of the runs of the minute fired at `minute_start`: `times_per_minute` of them,
    /// evenly spaced from `minute_start` (4 per minute: :00, :15, :30, :45). The last run of the
    /// last fired minute may fall after the stop time, as in the original.
    pub fn run_times_in_minute(&self, minute_start: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let runs = i64::from(self.times_per_minute());
        (0..runs)
            .filter_map(|i| {
                minute_start.checked_add_signed(TimeDelta::milliseconds(i * 60_000 / runs))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::{json, Value};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    /// Now, for every test here: 2025-03-10 12:00:30 UTC.
    fn now() -> DateTime<Utc> {
        at(2025, 3, 10, 12, 0, 30)
    }

    fn schedule(cron: &str, stop_time: &str, times_per_minute: Value) -> Schedule {
        let params = json!({
            "cron": cron, "stop_time": stop_time, "times_per_minute": times_per_minute
        });
        let fields = Fields::new(params.as_object().unwrap(), "ping", &[]).unwrap();
        Schedule::from_fields(&fields, now()).unwrap()
    }

    fn error(params: Value) -> ParamError {
        let fields = Fields::new(params.as_object().unwrap(), "ping", &[]).unwrap();
        Schedule::from_fields(&fields, now()).unwrap_err()
    }

    #[test]
    fn all_three_parameters_are_required() {
        let full =
            json!({"cron": "* * * * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 1});
        for key in ["cron", "stop_time", "times_per_minute"] {
            let mut params = full.clone();
            params.as_object_mut().unwrap().remove(key);
            let error = error(params);
            assert_eq!(error.field(), key);
            assert_eq!(error.message(), "is required");
        }
    }

    #[test]
    fn each_parameter_names_itself_when_wrong() {
        let cases = [
            (
                json!({"cron": "* * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 1}),
                "cron",
            ),
            (
                json!({"cron": 5, "stop_time": "10/03/2025 13:00", "times_per_minute": 1}),
                "cron",
            ),
            (
                json!({"cron": "* * * * *", "stop_time": "2025-03-10 13:00", "times_per_minute": 1}),
                "stop_time",
            ),
            (
                json!({"cron": "* * * * *", "stop_time": "10/03/2025 11:59", "times_per_minute": 1}),
                "stop_time",
            ),
            (
                json!({"cron": "* * * * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 0}),
                "times_per_minute",
            ),
            (
                json!({"cron": "* * * * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 61}),
                "times_per_minute",
            ),
            (
                json!({"cron": "* * * * *", "stop_time": "10/03/2025 13:00", "times_per_minute": 1.5}),
                "times_per_minute",
            ),
        ];
        for (params, field) in cases {
            assert_eq!(error(params.clone()).field(), field, "{params}");
        }
    }

    #[test]
    fn times_per_minute_accepts_1_to_60_as_numbers_or_strings() {
        let stop = "10/03/2025 13:00";
        assert_eq!(schedule("* * * * *", stop, json!(1)).times_per_minute(), 1);
        assert_eq!(
            schedule("* * * * *", stop, json!(60)).times_per_minute(),
            60
        );
        assert_eq!(
            schedule("* * * * *", stop, json!("12")).times_per_minute(),
            12
        );
    }

    #[test]
    fn estimated_executions_every_minute() {
        // First firing 12:01, second 12:02, stop 13:00: 59 intervals of one minute.
        let every_minute = schedule("* * * * *", "10/03/2025 13:00", json!(1));
        assert_eq!(every_minute.estimated_executions(now()), 59.0);
        let four_a_minute = schedule("* * * * *", "10/03/2025 13:00", json!(4));
        assert_eq!(four_a_minute.estimated_runs(now()), 236.0);
    }

    #[test]
    fn estimated_executions_every_five_minutes() {
        // First 12:05, second 12:10, stop 13:00: 55 / 5 = 11.
        let every_five = schedule("*/5 * * * *", "10/03/2025 13:00", json!(1));
        assert_eq!(every_five.estimated_executions(now()), 11.0);
        // Stop 12:57: 52 / 5 = 10.4, fractional as in the original.
        let every_five = schedule("*/5 * * * *", "10/03/2025 12:57", json!(1));
        assert!((every_five.estimated_executions(now()) - 10.4).abs() < 1e-9);
    }

    #[test]
    fn estimated_executions_hourly() {
        // First 13:00, second 14:00, stop the next day 12:00: 23 hours.
        let hourly = schedule("0 * * * *", "11/03/2025 12:00", json!(1));
        assert_eq!(hourly.estimated_executions(now()), 23.0);
        // Stop before the second firing: at least 1.
        let hourly = schedule("0 * * * *", "10/03/2025 13:30", json!(1));
        assert_eq!(hourly.estimated_executions(now()), 1.0);
        // Stop before the first firing: 1.
        let hourly = schedule("0 * * * *", "10/03/2025 12:59", json!(3));
        assert_eq!(hourly.estimated_executions(now()), 1.0);
        assert_eq!(hourly.estimated_runs(now()), 3.0);
    }

    #[test]
    fn estimated_executions_for_a_cron_that_never_fires_is_1() {
        let never = schedule("0 0 30 2 *", "10/03/2026 12:00", json!(1));
        assert_eq!(never.estimated_executions(now()), 1.0);
        assert_eq!(never.fire_times(now()).count(), 0);
    }

    #[test]
    fn fire_times_are_bounded_by_the_stop_time() {
        let every_five = schedule("*/5 * * * *", "10/03/2025 12:20", json!(1));
        let fired: Vec<_> = every_five.fire_times(now()).collect();
        let expected: Vec<_> = [5, 10, 15, 20].map(|m| at(2025, 3, 10, 12, m, 0)).to_vec();
        assert_eq!(fired, expected);
        // Strictly after `after`.
        let later: Vec<_> = every_five.fire_times(at(2025, 3, 10, 12, 10, 0)).collect();
        assert_eq!(later, expected[2..]);
        assert_eq!(every_five.fire_times(at(2025, 3, 10, 12, 20, 0)).count(), 0);
    }

    #[test]
    fn fire_times_of_a_year_long_operation_end() {
        let hourly = schedule("0 * * * *", "10/03/2026 12:00", json!(1));
        assert_eq!(hourly.fire_times(now()).count(), 365 * 24);
        assert_eq!(
            hourly.fire_times(now()).last(),
            Some(at(2026, 3, 10, 12, 0, 0))
        );
    }

    #[test]
    fn runs_are_spread_evenly_over_the_minute() {
        let minute = at(2025, 3, 10, 12, 5, 0);
        let four = schedule("* * * * *", "10/03/2025 13:00", json!(4));
        let expected: Vec<_> = [0, 15, 30, 45].map(|s| at(2025, 3, 10, 12, 5, s)).to_vec();
        assert_eq!(four.run_times_in_minute(minute), expected);

        let one = schedule("* * * * *", "10/03/2025 13:00", json!(1));
        assert_eq!(one.run_times_in_minute(minute), vec![minute]);

        let sixty = schedule("* * * * *", "10/03/2025 13:00", json!(60));
        let runs = sixty.run_times_in_minute(minute);
        assert_eq!(runs.len(), 60);
        assert_eq!(runs[59], at(2025, 3, 10, 12, 5, 59));

        let seven = schedule("* * * * *", "10/03/2025 13:00", json!(7));
        let runs = seven.run_times_in_minute(minute);
        assert_eq!(runs.len(), 7);
        assert_eq!(runs[1] - runs[0], TimeDelta::milliseconds(8571));
        assert!(runs[6] < minute + TimeDelta::minutes(1));
    }

    #[test]
    fn run_times_never_overflow() {
        let four = schedule("* * * * *", "10/03/2025 13:00", json!(4));
        assert_eq!(four.run_times_in_minute(DateTime::<Utc>::MAX_UTC).len(), 1);
    }
}
