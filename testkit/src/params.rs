//! Operation parameters tests and the benchmark create operations with.

use chrono::{Duration, Utc};
use probe_protocol::params::format_stop_time;
use serde_json::{json, Value};

/// A stop_time `minutes` from now, in the API's "dd/mm/YYYY HH:MM" form.
pub fn stop_time_in(minutes: i64) -> String {
    format_stop_time(Utc::now() + Duration::minutes(minutes))
}

/// Ping params every minute until `minutes` from now: room for `minutes` + 1 results per
/// probe at least (the server stores no more than the schedule can produce).
pub fn ping_params(minutes: i64) -> Value {
    json!({"cron": "* * * * *", "stop_time": stop_time_in(minutes), "times_per_minute": 1, "ips": ["127.0.0.1"]})
}

/// Ping params 60 times a minute until `minutes` from now: room for 60 × (`minutes` + 1)
/// results per probe at least, for about 60 × (`minutes` − 1) credits.
pub fn busy_ping_params(minutes: i64) -> Value {
    json!({"cron": "* * * * *", "stop_time": stop_time_in(minutes), "times_per_minute": 60, "ips": ["127.0.0.1"]})
}

/// Runs 60 times a minute until enough minutes from now that each probe may deliver `results`
/// results (the coordinator stores no more than the schedule can produce); costs about
/// `results` + 60 credits per probe.
pub fn ping_producing(results: usize) -> Value {
    busy_ping_params(results.div_ceil(60) as i64 + 1)
}

/// Runs once (1 January, midnight) and stops in 30 minutes: one execution, 1 credit a probe.
pub fn single_ping_params() -> Value {
    json!({"cron": "0 0 1 1 *", "stop_time": stop_time_in(30), "times_per_minute": 1, "ips": ["127.0.0.1"]})
}

/// Parameters running every second (the minute in progress included) for a few minutes,
/// plus `extra`.
pub fn every_second(extra: Value) -> Value {
    let mut params =
        json!({"cron": "* * * * *", "stop_time": stop_time_in(5), "times_per_minute": 60});
    params.as_object_mut().expect("an object").extend(
        extra
            .as_object()
            .expect("extra params are an object")
            .clone(),
    );
    params
}
