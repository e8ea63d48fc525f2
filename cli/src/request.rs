//! From the command line to the body of POST /ping, /traceroute or /dns: the targets sorted
//! into the kind's parameters, the schedule, extra `-o NAME=VALUE` parameters, and the probes.
//!
//! The parameters are checked here with the very rules the server applies (the
//! `probe-protocol` crate), so that a typo is named before anything is sent or paid for.

use crate::args::MeasureArgs;
use crate::error::{CliError, Result};
use chrono::{DateTime, TimeDelta, Utc};
use probe_protocol::params::format_stop_time;
use probe_protocol::OperationKind;
use serde_json::{json, Map, Value};
use std::net::IpAddr;

/// Which probes to run on.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// These identifiers (`--probes`).
    Ids(Vec<String>),
    /// Every connected probe (`--all`).
    All,
    /// At most this many connected probes (`--limit` alone).
    First(u32),
    /// The server's random choice near a place (`--near --radius-km [--limit]`).
    Near {
        latitude: f64,
        longitude: f64,
        radius_km: f64,
        limit: u32,
    },
}

/// How many probes `--near` asks for when `--limit` is not given.
pub const DEFAULT_NEAR_LIMIT: u32 = 1;

/// The probe choice the arguments make.
pub fn selection(args: &MeasureArgs) -> Result<Selection> {
    if !args.probes.is_empty() {
        return Ok(Selection::Ids(args.probes.clone()));
    }
    if args.all {
        return Ok(Selection::All);
    }
    if let Some(near) = &args.near {
        let (latitude, longitude) = coordinates(near)?;
        let radius_km = args.radius_km.unwrap_or_default();
        if !(radius_km.is_finite() && radius_km > 0.0) {
            return Err(CliError::Usage(
                "--radius-km: must be a number of kilometres greater than 0".into(),
            ));
        }
        return Ok(Selection::Near {
            latitude,
            longitude,
            radius_km,
            limit: args.limit.unwrap_or(DEFAULT_NEAR_LIMIT),
        });
    }
    match args.limit {
        Some(limit) => Ok(Selection::First(limit)),
        None => Err(CliError::Usage(
            "choose probes with --probes ID,..., --all, --limit N or --near LAT,LON \
             --radius-km KM"
                .into(),
        )),
    }
}

/// `LAT,LON` in degrees.
fn coordinates(text: &str) -> Result<(f64, f64)> {
    let invalid = || {
        CliError::Usage(format!(
            "--near: {text:?} is not LAT,LON (degrees, latitude -90 to 90, longitude -180 to 180)"
        ))
    };
    let (lat, lon) = text.split_once(',').ok_or_else(invalid)?;
    let latitude: f64 = lat.trim().parse().map_err(|_| invalid())?;
    let longitude: f64 = lon.trim().parse().map_err(|_| invalid())?;
    if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) {
        Ok((latitude, longitude))
    } else {
        Err(invalid())
    }
}

/// The `params` object of an operation of `kind`, checked as the server will check it.
pub fn params(kind: OperationKind, args: &MeasureArgs, now: DateTime<Utc>) -> Result<Value> {
    let mut params = Map::new();
    targets(kind, &args.targets, &mut params)?;
    params.insert("cron".into(), json!(args.cron));
    params.insert("stop_time".into(), json!(stop_time(&args.stop, now)?));
    params.insert("times_per_minute".into(), json!(args.times_per_minute));
    for extra in &args.params {
        let (name, value) = extra
            .split_once('=')
            .ok_or_else(|| CliError::Usage(format!("--param: {extra:?} is not NAME=VALUE")))?;
        params.insert(name.trim().to_string(), json!(value));
    }
    probe_protocol::params::parse(kind, &params, now)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(Value::Object(params))
}

/// Addresses go to `ips`, names to `fqdns`; a lookup's one address is its reverse lookup (`x`).
fn targets(kind: OperationKind, targets: &[String], params: &mut Map<String, Value>) -> Result<()> {
    let (ips, names): (Vec<&String>, Vec<&String>) = targets
        .iter()
        .partition(|target| target.parse::<IpAddr>().is_ok());
    if !names.is_empty() {
        params.insert("fqdns".into(), json!(names));
    }
    match (kind, ips.as_slice()) {
        (_, []) => {}
        (OperationKind::Dns, [address]) => {
            params.insert("x".into(), json!(address));
        }
        (OperationKind::Dns, _) => {
            return Err(CliError::Usage(
                "dns: one lookup in reverse at most: give a single IP address".into(),
            ))
        }
        _ => {
            params.insert("ips".into(), json!(ips));
        }
    }
    Ok(())
}

/// `--stop` as the API's `stop_time`: `dd/mm/YYYY HH:MM` as given, `now`, or a duration from
/// now (`30m`, `2h`, `1d`).
pub fn stop_time(text: &str, now: DateTime<Utc>) -> Result<String> {
    let text = text.trim();
    if text.contains('/') {
        return Ok(text.to_string());
    }
    if text == "now" {
        return Ok(format_stop_time(now));
    }
    let invalid = || {
        CliError::Usage(format!(
            "--stop: {text:?} is neither dd/mm/YYYY HH:MM (UTC), `now`, nor a duration like \
             10m, 2h or 1d"
        ))
    };
    let split = text.len().saturating_sub(1);
    let (count, unit) = text.split_at(split);
    let count: i64 = count.parse().map_err(|_| invalid())?;
    let delta = match unit {
        "m" => TimeDelta::try_minutes(count),
        "h" => TimeDelta::try_hours(count),
        "d" => TimeDelta::try_days(count),
        _ => None,
    }
    .filter(|_| count >= 0)
    .ok_or_else(invalid)?;
    let stop = now.checked_add_signed(delta).ok_or_else(invalid)?;
    Ok(format_stop_time(stop))
}

/// The `result_format` a kind is created with: traceroute's choice, json for ping, text for
/// dns (the server forces the last two anyway).
pub fn result_format(kind: OperationKind, asked: Option<&str>) -> Result<&str> {
    match (kind, asked) {
        (OperationKind::Traceroute, None) => Ok("json"),
        (OperationKind::Traceroute, Some(format @ ("json" | "dump"))) => Ok(format),
        (OperationKind::Traceroute, Some(other)) => Err(CliError::Usage(format!(
            "--result-format: {other:?} is neither json nor dump"
        ))),
        (_, Some(_)) => Err(CliError::Usage(
            "--result-format: only traceroute has a choice (json or dump)".into(),
        )),
        (OperationKind::Ping, None) => Ok("json"),
        (OperationKind::Dns, None) => Ok("text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn stop_accepts_a_date_now_and_durations() {
        let now = Utc.with_ymd_and_hms(2030, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(stop_time("now", now).unwrap(), "02/01/2030 03:04");
        assert_eq!(stop_time("10m", now).unwrap(), "02/01/2030 03:14");
        assert_eq!(stop_time("2h", now).unwrap(), "02/01/2030 05:04");
        assert_eq!(stop_time("1d", now).unwrap(), "03/01/2030 03:04");
        assert_eq!(
            stop_time("31/12/2030 23:59", now).unwrap(),
            "31/12/2030 23:59"
        );
        assert!(stop_time("soon", now).is_err());
        assert!(stop_time("-1m", now).is_err());
    }

    #[test]
    fn near_reads_degrees_in_range() {
        assert_eq!(coordinates("-34.6,-58.4").unwrap(), (-34.6, -58.4));
        assert!(coordinates("91,0").is_err());
        assert!(coordinates("1;2").is_err());
    }
}
