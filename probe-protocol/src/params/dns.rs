//! Parameters of a DNS lookup (dig).

use super::destinations::{name_list, Fqdn};
use super::error::ParamError;
use super::fields::Fields;
use super::schedule::Schedule;
use super::values::{ip_address, keyword, switch};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::net::IpAddr;

keyword_enum! {
    /// dig's query type (`type`).
    pub enum DnsType {
        /// `a`.
        A => "a",
        /// `any`.
        Any => "any",
        /// `axfr`.
        Axfr => "axfr",
        /// `hinfo`.
        Hinfo => "hinfo",
        /// `mx`.
        Mx => "mx",
        /// `ns`.
        Ns => "ns",
        /// `soa`.
        Soa => "soa",
        /// `txt`.
        Txt => "txt",
    }
}

/// The `ipv4` / `ipv6` switches: dig's `-4` or `-6`. Both at once is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// `ipv4`: query over IPv4 only (`-4`).
    V4,
    /// `ipv6`: query over IPv6 only (`-6`).
    V6,
}

/// What a lookup asks about: at least one name or a reverse lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQueries {
    fqdns: Vec<Fqdn>,
    names: Vec<Fqdn>,
    reverse: Option<IpAddr>,
}

impl DnsQueries {
    fn from_fields(fields: &Fields) -> Result<Self, ParamError> {
        let queries = Self {
            fqdns: fields.optional("fqdns", name_list)?.unwrap_or_default(),
            names: fields.optional("name", name_list)?.unwrap_or_default(),
            reverse: fields.optional("x", ip_address)?,
        };
        if queries.count() == 0 {
            return Err(ParamError::new(
                "fqdns",
                "at least one of fqdns, name or x is required",
            ));
        }
        Ok(queries)
    }

    /// Names from `fqdns`.
    pub fn fqdns(&self) -> &[Fqdn] {
        &self.fqdns
    }

    /// Names from `name` (dig's `-q`), kept apart from `fqdns` as the owner gave them.
    pub fn names(&self) -> &[Fqdn] {
        &self.names
    }

    /// `x`: the address to look up in reverse (dig's `-x`).
    pub fn reverse(&self) -> Option<IpAddr> {
        self.reverse
    }

    /// How many lookups: fqdns plus names plus 1 for a reverse lookup; at least 1.
    pub fn count(&self) -> usize {
        self.fqdns.len() + self.names.len() + usize::from(self.reverse.is_some())
    }
}

/// A DNS lookup's parameters; each option is `None` when the owner left it to dig.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsParams {
    /// When it runs.
    pub schedule: Schedule,
    /// `fqdns`, `name` and `x`.
    pub queries: DnsQueries,
    /// `address` (dig's `@address`): the resolver to query.
    pub address: Option<IpAddr>,
    /// `ipv4` or `ipv6`.
    pub ip_family: Option<IpFamily>,
    /// `type`: the query type.
    pub qtype: Option<DnsType>,
}

const KNOWN: [&str; 8] = [
    "ips", "fqdns", "address", "ipv4", "ipv6", "name", "type", "x",
];

impl DnsParams {
    /// Reads the owner's parameter object; `now` bounds the stop time.
    pub fn parse(params: &Map<String, Value>, now: DateTime<Utc>) -> Result<Self, ParamError> {
        let fields = Fields::new(params, "dns", &KNOWN)?;
        let schedule = Schedule::from_fields(&fields, now)?;
        fields.optional("ips", no_ips)?;
        Ok(Self {
            schedule,
            queries: DnsQueries::from_fields(&fields)?,
            address: fields.optional("address", ip_address)?,
            ip_family: ip_family(&fields)?,
            qtype: fields.optional("type", keyword)?,
        })
    }
}

/// The reference refuses `ips` for dns "to avoid confusion"; only an empty list passes.
fn no_ips(value: &Value) -> Result<(), String> {
    let empty = match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        Ok(())
    } else {
        Err("must be empty for dns; use x for a reverse lookup".to_string())
    }
}

fn ip_family(fields: &Fields) -> Result<Option<IpFamily>, ParamError> {
    let v4 = fields.optional("ipv4", switch)?.is_some();
    let v6 = fields.optional("ipv6", switch)?.is_some();
    match (v4, v6) {
        (true, true) => Err(ParamError::new(
            "ipv6",
            "cannot be combined with ipv4: give one of them",
        )),
        (true, false) => Ok(Some(IpFamily::V4)),
        (false, true) => Ok(Some(IpFamily::V6)),
        (false, false) => Ok(None),
    }
}
