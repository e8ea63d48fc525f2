//! Parameters of a traceroute (scamper `trace`).

use super::destinations::Destinations;
use super::error::ParamError;
use super::fields::Fields;
use super::schedule::Schedule;
use super::values::{keyword, Confidence, Port, Ranged, Ttl};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

keyword_enum! {
    /// scamper trace's `-P` method.
    pub enum TraceMethod {
        /// `icmp-paris`.
        IcmpParis => "icmp-paris",
        /// `icp`.
        Icp => "icp",
        /// `udp-paris`.
        UdpParis => "udp-paris",
    }
}

/// A traceroute's parameters; each option is `None` when the owner left it to scamper.
#[derive(Debug, Clone, PartialEq)]
pub struct TracerouteParams {
    /// When it runs.
    pub schedule: Schedule,
    /// `ips` and `fqdns`: at least one destination.
    pub destinations: Destinations,
    /// `attempts` (`-q`): probes per hop, 1–10.
    pub attempts: Option<Ranged<1, 10>>,
    /// `confidence` (`-c`): 0–0.99.
    pub confidence: Option<Confidence>,
    /// `dport` (`-d`): destination port, 1–65535.
    pub dport: Option<Port>,
    /// `firsthop` (`-f`): TTL to start at, 1–255.
    pub firsthop: Option<Ttl>,
    /// `maxttl` (`-m`): 1–255.
    pub maxttl: Option<Ttl>,
    /// `method` (`-P`).
    pub method: Option<TraceMethod>,
    /// `sport` (`-s`): source port, 1–65535.
    pub sport: Option<Port>,
    /// `wait` (`-w`): seconds to wait for a reply, 1–20.
    pub wait: Option<Ranged<1, 20>>,
    /// `wait-probe` (`-W`): pause between probes, 0–100.
    pub wait_probe: Option<Ranged<0, 100>>,
}

const KNOWN: [&str; 11] = [
    "ips",
    "fqdns",
    "attempts",
    "confidence",
    "dport",
    "firsthop",
    "maxttl",
    "method",
    "sport",
    "wait",
    "wait-probe",
];

impl TracerouteParams {
    /// Reads the owner's parameter object; `now` bounds the stop time.
    pub fn parse(params: &Map<String, Value>, now: DateTime<Utc>) -> Result<Self, ParamError> {
        let fields = Fields::new(params, "traceroute", &KNOWN)?;
        Ok(Self {
            schedule: Schedule::from_fields(&fields, now)?,
            destinations: Destinations::from_fields(&fields)?,
            attempts: fields.optional("attempts", Ranged::from_json)?,
            confidence: fields.optional("confidence", Confidence::from_json)?,
            dport: fields.optional("dport", Port::from_json)?,
            firsthop: fields.optional("firsthop", Ttl::from_json)?,
            maxttl: fields.optional("maxttl", Ttl::from_json)?,
            method: fields.optional("method", keyword)?,
            sport: fields.optional("sport", Port::from_json)?,
            wait: fields.optional("wait", Ranged::from_json)?,
            wait_probe: fields.optional("wait-probe", Ranged::from_json)?,
        })
    }
}
