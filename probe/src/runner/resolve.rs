//! Turning destinations into addresses: scamper measures IP addresses, not names.

use probe_protocol::params::{Destinations, Fqdn};
use std::net::IpAddr;
use std::time::Duration;

/// How long resolving one name may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The addresses to measure and the names that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// The `ips` as given, then the first address of each resolved name.
    pub addresses: Vec<IpAddr>,
    /// One message per name that did not resolve; it goes to the result's `error`.
    pub unresolved: Vec<String>,
}

/// Resolves every name of `destinations` with the system resolver, in order.
pub async fn resolve(destinations: &Destinations) -> Targets {
    let mut targets = Targets {
        addresses: destinations.ips().to_vec(),
        unresolved: Vec::new(),
    };
    for name in destinations.fqdns() {
        match first_address(name).await {
            Ok(address) => targets.addresses.push(address),
            Err(reason) => targets
                .unresolved
                .push(format!("cannot resolve {name}: {reason}")),
        }
    }
    targets
}

async fn first_address(name: &Fqdn) -> Result<IpAddr, String> {
    let lookup = tokio::net::lookup_host((name.as_str(), 0));
    match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Ok(Ok(mut addresses)) => addresses
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| "no address".to_string()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::params::{self, Params};
    use probe_protocol::OperationKind;
    use serde_json::json;

    fn destinations(ips: &[&str], fqdns: &[&str]) -> Destinations {
        let params = json!({
            "cron": "* * * * *", "stop_time": "01/01/2030 12:00", "times_per_minute": 1,
            "ips": ips, "fqdns": fqdns
        });
        let now = "2029-12-31T12:00:00Z".parse().unwrap();
        match params::parse(OperationKind::Ping, params.as_object().unwrap(), now).unwrap() {
            Params::Ping(p) => p.destinations,
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn addresses_come_first_then_resolved_names_and_failures_are_named() {
        let targets = resolve(&destinations(
            &["192.0.2.7"],
            &["localhost", "no-such-host.invalid"],
        ))
        .await;
        assert_eq!(targets.addresses[0], "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(targets.addresses.len(), 2);
        assert!(targets.addresses[1].is_loopback());
        assert_eq!(targets.unresolved.len(), 1);
        assert!(targets.unresolved[0].starts_with("cannot resolve no-such-host.invalid: "));
    }
}
