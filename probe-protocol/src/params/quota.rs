//! How many results one probe may deliver for one operation, and when they may be measured.
//!
//! A result is worth credits to the probe's owner, so the coordinator stores (and pays for) at
//! most [`Params::max_results`] results per probe and operation, each measured within its
//! [`ResultWindow`]. Both follow from the schedule the operation was priced from, and both are
//! upper bounds on what an honest probe produces, so that no real measurement is ever refused:
//!
//! - a run produces [`RESULTS_PER_RUN`] result, whatever the number of destinations (the tool
//!   measures them all in one invocation);
//! - a probe runs every run time of the minute in progress when it takes the operation on, then
//!   of every later fired minute up to the stop time, each once;
//! - the last fired minute's runs spread over the minute after the stop time;
//! - the two clocks may disagree by up to [`CLOCK_TOLERANCE`].
//!
//! The price uses the original's estimate ([`Schedule::estimated_runs`]), which undercounts by
//! about a minute and ignores the minute in progress; the quota counts the fired minutes
//! exactly ([`Cron::count_between`](super::Cron::count_between)), so it is never below what
//! the probe really runs.

use super::{Params, Schedule};
use chrono::{DateTime, TimeDelta, Utc};

/// Results one run produces: one, holding every destination's measurement.
pub const RESULTS_PER_RUN: u64 = 1;

/// How far a probe's clock may be from the coordinator's, either way. Probes correct their
/// schedule by NTP (typically to a few milliseconds); a minute also covers a probe whose NTP
/// server is unreachable but whose system clock is kept by the host, and the one-second lateness
/// a run may start with. A probe further off measures at the wrong instants anyway.
pub const CLOCK_TOLERANCE: TimeDelta = TimeDelta::seconds(60);

/// One minute: the cron's resolution, so the minute in progress at an instant starts less than
/// this before it.
const MINUTE: TimeDelta = TimeDelta::minutes(1);

impl Schedule {
    /// An upper bound on the runs at or after `from`: every run of every fired minute from the
    /// one in progress at `from` to the stop time (the in-progress minute's runs count in full,
    /// even those already past).
    pub fn max_runs_from(&self, from: DateTime<Utc>) -> u64 {
        let minutes = self
            .cron()
            .count_between(earlier(from, MINUTE), self.stop_time());
        minutes.saturating_mul(u64::from(self.times_per_minute()))
    }
}

impl Params {
    /// The most results one probe may deliver for an operation with these parameters created
    /// at `created_at` (the coordinator's clock): [`RESULTS_PER_RUN`] × the runs from
    /// `created_at` − [`CLOCK_TOLERANCE`] on ([`Schedule::max_runs_from`]), at least 1 (a probe
    /// that cannot run the parameters reports that once).
    pub fn max_results(&self, created_at: DateTime<Utc>) -> u64 {
        let from = earlier(created_at, CLOCK_TOLERANCE);
        let runs = self.schedule().max_runs_from(from);
        runs.saturating_mul(RESULTS_PER_RUN).max(1)
    }
}

/// When a result of an operation may have been measured (`measured_at`), on the coordinator's
/// clock: from the operation's creation to the end of its stop minute
/// ([`STOP_MINUTE`](super::STOP_MINUTE)), widened by
/// [`CLOCK_TOLERANCE`] at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultWindow {
    /// The earliest accepted `measured_at`.
    pub start: DateTime<Utc>,
    /// The latest accepted `measured_at`.
    pub end: DateTime<Utc>,
}

impl ResultWindow {
    /// The window of an operation created at `created_at` whose schedule stops at `stop_time`.
    pub fn new(created_at: DateTime<Utc>, stop_time: DateTime<Utc>) -> Self {
        Self {
            start: earlier(created_at, CLOCK_TOLERANCE),
            end: later(later(stop_time, super::STOP_MINUTE), CLOCK_TOLERANCE),
        }
    }

    /// Whether `measured_at` lies in the window (both ends included).
    pub fn contains(&self, measured_at: DateTime<Utc>) -> bool {
        self.start <= measured_at && measured_at <= self.end
    }
}

/// `at − delta`, or the earliest instant rather than a panic.
fn earlier(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_sub_signed(delta)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `at + delta`, or the latest instant rather than a panic.
fn later(at: DateTime<Utc>, delta: TimeDelta) -> DateTime<Utc> {
    at.checked_add_signed(delta)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OperationKind;
    use chrono::TimeZone;
    use serde_json::json;

    /// 2025-03-10 12:00:30 UTC.
    fn created() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 30).unwrap()
    }

    fn ping(cron: &str, stop_time: &str, times_per_minute: u32) -> Params {
        let params = json!({
            "cron": cron, "stop_time": stop_time, "times_per_minute": times_per_minute,
            "ips": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
        });
        crate::params::parse(OperationKind::Ping, params.as_object().unwrap(), created()).unwrap()
    }

    /// The runs a probe taking the operation on at `start` makes: every run of the minute in
    /// progress and later fired minutes that is not more than a second past.
    fn runs_from(params: &Params, start: DateTime<Utc>) -> u64 {
        let schedule = params.schedule();
        schedule
            .fire_times(start - TimeDelta::minutes(1))
            .flat_map(|minute| schedule.run_times_in_minute(minute))
            .filter(|at| *at >= start - TimeDelta::seconds(1))
            .count() as u64
    }

    #[test]
    fn a_one_minute_ping_allows_one_result_whatever_its_destinations() {
        // Fires at 12:05 only; created at 12:00:30, stop 12:10.
        let once = ping("5 12 * * *", "10/03/2025 12:10", 1);
        assert_eq!(once.destination_count(), 3);
        assert_eq!(once.max_results(created()), 1);
        let four_times = ping("5 12 * * *", "10/03/2025 12:10", 4);
        assert_eq!(four_times.max_results(created()), 4);
    }

    #[test]
    fn every_minute_counts_the_minute_in_progress_and_the_tolerance() {
        // Created 12:00:30, stop 13:00: the probe may run 12:00 (in progress) to 13:00, 61
        // minutes; a clock a minute behind adds 11:59.
        let hourly = ping("* * * * *", "10/03/2025 13:00", 2);
        assert_eq!(hourly.max_results(created()), 62 * 2);
        // The price counts 59 minutes: the quota is above it.
        assert!(hourly.max_results(created()) as f64 > hourly.schedule().estimated_runs(created()));
    }

    #[test]
    fn a_cron_that_never_fires_still_allows_the_report_that_it_cannot_run() {
        let never = ping("0 0 30 2 *", "10/03/2025 13:00", 1);
        assert_eq!(never.max_results(created()), 1);
    }

    #[test]
    fn an_honest_probe_never_runs_more_than_the_quota() {
        for (cron, tpm) in [
            ("* * * * *", 60),
            ("*/5 * * * *", 7),
            ("0 * * * *", 1),
            ("1 12 * * *", 3),
        ] {
            let params = ping(cron, "10/03/2025 14:00", tpm);
            let quota = params.max_results(created());
            // The probe takes it on up to a minute "before" creation (its clock behind) or later.
            for offset in (-60..=600).step_by(7) {
                let start = created() + TimeDelta::seconds(offset);
                let runs = runs_from(&params, start);
                assert!(
                    runs <= quota,
                    "{cron} x{tpm} from {start}: {runs} > {quota}"
                );
            }
        }
    }

    #[test]
    fn the_window_spans_creation_to_a_minute_after_stop_with_tolerance() {
        let stop = Utc.with_ymd_and_hms(2025, 3, 10, 13, 0, 0).unwrap();
        let window = ResultWindow::new(created(), stop);
        assert!(window.contains(created() - CLOCK_TOLERANCE));
        assert!(!window.contains(created() - CLOCK_TOLERANCE - TimeDelta::milliseconds(1)));
        assert!(window.contains(stop + TimeDelta::seconds(119)));
        assert!(window.contains(stop + TimeDelta::seconds(120)));
        assert!(!window.contains(stop + TimeDelta::seconds(121)));
        let extreme = ResultWindow::new(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(extreme.contains(DateTime::<Utc>::MIN_UTC));
        assert!(extreme.contains(DateTime::<Utc>::MAX_UTC));
    }
}
