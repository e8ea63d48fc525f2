//! Parameters of a ping (scamper `ping`).

use super::destinations::Destinations;
use super::error::ParamError;
use super::fields::Fields;
use super::schedule::Schedule;
use super::values::{keyword, Port, Ranged};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

keyword_enum! {
    /// scamper ping's `-P` method.
    pub enum PingMethod {
        /// `icmp-echo`.
        IcmpEcho => "icmp-echo",
        /// `icmp-time`.
        IcmpTime => "icmp-time",
        /// `tcp-ack`.
        TcpAck => "tcp-ack",
        /// `tcp-ack-sport`.
        TcpAckSport => "tcp-ack-sport",
        /// `tcp-syn`.
        TcpSyn => "tcp-syn",
        /// `udp`.
        Udp => "udp",
        /// `udp-dport`.
        UdpDport => "udp-dport",
    }
}

/// A ping's parameters; each option is `None` when the owner left it to scamper.
#[derive(Debug, Clone, PartialEq)]
pub struct PingParams {
    /// When it runs.
    pub schedule: Schedule,
    /// `ips` and `fqdns`: at least one destination.
    pub destinations: Destinations,
    /// `dport` (`-d`): destination port, 1–65535.
    pub dport: Option<Port>,
    /// `icmp-sum` (`-C`): ICMP checksum to use, 1–65535.
    pub icmp_sum: Option<Ranged<1, 65535>>,
    /// `method` (`-P`).
    pub method: Option<PingMethod>,
    /// `probecount` (`-c`): probes to send, 1–100.
    pub probecount: Option<Ranged<1, 100>>,
    /// `size` (`-s`): probe size in bytes, 1–255.
    pub size: Option<Ranged<1, 255>>,
    /// `sport` (`-F`): source port, 1–65535.
    pub sport: Option<Port>,
    /// `timeout` (`-W`): seconds to wait for replies, 0–100.
    pub timeout: Option<Ranged<0, 100>>,
    /// `wait` (`-i`): seconds between probes, 1–20.
    pub wait: Option<Ranged<1, 20>>,
}

const KNOWN: [&str; 10] = [
    "ips",
    "fqdns",
    "dport",
    "icmp-sum",
    "method",
    "probecount",
    "size",
    "sport",
    "timeout",
    "wait",
];

impl PingParams {
    /// Reads the owner's parameter object; `now` bounds the stop time.
    pub fn parse(params: &Map<String, Value>, now: DateTime<Utc>) -> Result<Self, ParamError> {
        let fields = Fields::new(params, "ping", &KNOWN)?;
        Ok(Self {
            schedule: Schedule::from_fields(&fields, now)?,
            destinations: Destinations::from_fields(&fields)?,
            dport: fields.optional("dport", Port::from_json)?,
            icmp_sum: fields.optional("icmp-sum", Ranged::from_json)?,
            method: fields.optional("method", keyword)?,
            probecount: fields.optional("probecount", Ranged::from_json)?,
            size: fields.optional("size", Ranged::from_json)?,
            sport: fields.optional("sport", Port::from_json)?,
            timeout: fields.optional("timeout", Ranged::from_json)?,
            wait: fields.optional("wait", Ranged::from_json)?,
        })
    }
}
