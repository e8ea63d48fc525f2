//! dig command lines for DNS operations.
//!
//! One dig run makes every query of the operation: each name is given with `-q` (a bare name
//! such as `mx` would otherwise be read as a query type) followed by its own `-t`, because a
//! `-t` given once would also turn the reverse lookup into that type; `-x` comes last and
//! asks for PTR. `address` is dig's `@address`, the resolver to query; without it dig asks the
//! probe's `--dns-server`, or the system's resolvers. Every query is bounded by
//! `+time`/`+tries` so that an unreachable resolver costs seconds, not minutes.

use probe_protocol::params::{DnsParams, IpFamily};
use std::net::IpAddr;
use std::num::NonZeroU16;

/// Seconds dig waits for each answer.
pub const QUERY_TIME_S: u8 = 3;
/// Attempts dig makes per query.
pub const QUERY_TRIES: u8 = 2;

/// The probe's own resolver settings: whom dig asks when an operation names no `address`, and
/// on which port it asks (a resolver on the probe's host may not listen on 53).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolver {
    /// `--dns-server`; `None`: the system's resolvers (/etc/resolv.conf).
    pub server: Option<IpAddr>,
    /// `--dns-port` (dig's `-p`); `None`: 53.
    pub port: Option<NonZeroU16>,
}

/// The arguments of the dig run for `p`.
pub fn arguments(p: &DnsParams, resolver: Resolver) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(server) = p.address.or(resolver.server) {
        args.push(format!("@{server}"));
    }
    if let Some(port) = resolver.port {
        args.extend(["-p".to_string(), port.to_string()]);
    }
    args.push(format!("+time={QUERY_TIME_S}"));
    args.push(format!("+tries={QUERY_TRIES}"));
    match p.ip_family {
        Some(IpFamily::V4) => args.push("-4".into()),
        Some(IpFamily::V6) => args.push("-6".into()),
        None => {}
    }
    let names = p.queries.fqdns().iter().chain(p.queries.names());
    for name in names {
        args.extend(["-q".to_string(), name.to_string()]);
        if let Some(qtype) = p.qtype {
            args.extend(["-t".to_string(), qtype.to_string()]);
        }
    }
    if let Some(reverse) = p.queries.reverse() {
        args.extend(["-x".to_string(), reverse.to_string()]);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::params::{self, Params};
    use probe_protocol::OperationKind;
    use serde_json::{json, Value};

    fn dns(extra: Value) -> DnsParams {
        let mut params = json!({
            "cron": "* * * * *", "stop_time": "01/01/2030 12:00", "times_per_minute": 1
        });
        let object = params.as_object_mut().unwrap();
        object.extend(extra.as_object().unwrap().clone());
        let now = "2029-12-31T12:00:00Z".parse().unwrap();
        match params::parse(OperationKind::Dns, object, now).unwrap() {
            Params::Dns(p) => p,
            other => panic!("{other:?}"),
        }
    }

    fn line(p: &DnsParams, server: Option<&str>, port: Option<u16>) -> String {
        let resolver = Resolver {
            server: server.map(|s| s.parse().unwrap()),
            port: port.map(|p| NonZeroU16::new(p).unwrap()),
        };
        arguments(p, resolver).join(" ")
    }

    #[test]
    fn every_dns_parameter_maps_to_its_option() {
        let p = dns(json!({
            "fqdns": "example.com, mx", "name": ["example.org"], "type": "mx",
            "address": "192.0.2.9", "ipv4": "", "x": "127.0.0.1"
        }));
        assert_eq!(
            line(&p, None, None),
            "@192.0.2.9 +time=3 +tries=2 -4 \
             -q example.com -t mx -q mx -t mx -q example.org -t mx -x 127.0.0.1"
        );
    }

    #[test]
    fn the_operation_address_wins_over_the_probe_resolver_and_the_port_applies_to_both() {
        let with_address = dns(json!({"address": "2001:db8::53", "name": "example.com"}));
        assert_eq!(
            line(&with_address, Some("127.0.0.1"), Some(5353)),
            "@2001:db8::53 -p 5353 +time=3 +tries=2 -q example.com"
        );
        let without = dns(json!({"name": "example.com"}));
        assert_eq!(
            line(&without, Some("::1"), Some(5353)),
            "@::1 -p 5353 +time=3 +tries=2 -q example.com"
        );
        assert_eq!(
            line(&without, None, Some(5353)),
            "-p 5353 +time=3 +tries=2 -q example.com"
        );
    }

    #[test]
    fn defaults_use_the_system_resolver_and_dig_defaults() {
        assert_eq!(
            line(&dns(json!({"x": "::1", "ipv6": null})), None, None),
            "+time=3 +tries=2 -6 -x ::1"
        );
    }
}
