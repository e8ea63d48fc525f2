//! Typed operation parameters: the owner's free-form `params` object, parsed once into values
//! that cannot be invalid.
//!
//! The coordinator parses `params` when an operation is created and refuses it with the first
//! [`ParamError`]; the probe parses the same object from its `operation` message and turns the
//! typed values into scamper/dig arguments and a run schedule ([`Schedule::fire_times`],
//! [`Schedule::run_times_in_minute`]). The rules are the reference parameter list of the
//! original Pladmed (`operation-parameters.md`), with these precisions:
//!
//! - every kind needs `cron`, `stop_time` and `times_per_minute` ([`Schedule`]);
//! - numbers may be JSON numbers or strings holding one; integers have no fractional part;
//!   "greater than zero" means 1–65535 for ports and checksums and 1–255 for `firsthop`;
//! - `ips` and `fqdns` (and dns's `name`) are JSON arrays or comma-separated strings;
//! - an unknown parameter name is an error; `result_format` is known to every kind and ignored.
//!
//! `now` only bounds `stop_time` (its minute not over at `now`, at most [`MAX_OPERATION_DAYS`]
//! later). A probe parsing an order can pass its own clock: an order whose stop minute is over
//! is over.

#[macro_use]
mod values;

pub mod credits;
mod cron;
mod destinations;
mod dns;
mod error;
mod fields;
mod ping;
mod quota;
mod schedule;
mod stop_time;
mod traceroute;

pub use credits::credits_per_execution;
pub use cron::{Cron, MAX_CRON_LEN};
pub use destinations::{Destinations, Fqdn, MAX_LABEL_LEN, MAX_NAME_LEN};
pub use dns::{DnsParams, DnsQueries, DnsType, IpFamily};
pub use error::{echo, ParamError, MAX_ECHOED_CHARS};
pub use ping::{PingMethod, PingParams};
pub use quota::{ResultWindow, CLOCK_TOLERANCE, RESULTS_PER_RUN};
pub use schedule::{Schedule, TimesPerMinute};
pub use stop_time::{
    format_stop_time, StopTime, MAX_OPERATION_DAYS, STOP_MINUTE, STOP_TIME_FORMAT,
};
pub use traceroute::{TraceMethod, TracerouteParams};
pub use values::{Confidence, Port, Ranged, Ttl};

use crate::OperationKind;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// The parameters of one operation, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// A traceroute's.
    Traceroute(TracerouteParams),
    /// A ping's.
    Ping(PingParams),
    /// A DNS lookup's.
    Dns(DnsParams),
}

/// Parses the owner's `params` object for an operation of `kind`, or names the first parameter
/// that breaks a rule. `now` bounds the stop time. Never panics, whatever the JSON.
pub fn parse(
    kind: OperationKind,
    params: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Params, ParamError> {
    Ok(match kind {
        OperationKind::Traceroute => Params::Traceroute(TracerouteParams::parse(params, now)?),
        OperationKind::Ping => Params::Ping(PingParams::parse(params, now)?),
        OperationKind::Dns => Params::Dns(DnsParams::parse(params, now)?),
    })
}

impl Params {
    /// The kind of operation these parameters are for.
    pub fn kind(&self) -> OperationKind {
        match self {
            Params::Traceroute(_) => OperationKind::Traceroute,
            Params::Ping(_) => OperationKind::Ping,
            Params::Dns(_) => OperationKind::Dns,
        }
    }

    /// When the operation runs.
    pub fn schedule(&self) -> &Schedule {
        match self {
            Params::Traceroute(p) => &p.schedule,
            Params::Ping(p) => &p.schedule,
            Params::Dns(p) => &p.schedule,
        }
    }

    /// What one execution measures, for pricing: traceroute and ping count `ips` + `fqdns`;
    /// dns counts `fqdns` + `name` + 1 for `x`. Always at least 1.
    pub fn destination_count(&self) -> usize {
        match self {
            Params::Traceroute(p) => p.destinations.count(),
            Params::Ping(p) => p.destinations.count(),
            Params::Dns(p) => p.queries.count(),
        }
    }

    /// Credits one execution costs on one probe ([`credits_per_execution`]).
    pub fn credits_per_execution(&self) -> u64 {
        credits_per_execution(self.kind(), self.destination_count())
    }
}

#[cfg(test)]
mod tests;
