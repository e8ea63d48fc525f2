//! Who a request comes from. The per-address limits (the auth rate limit, the probe link cap)
//! and the logs use this address.
//!
//! A client that connects directly is its TCP peer. Behind a reverse proxy every TCP peer is the
//! proxy, so every client would share one quota. For a peer listed in
//! `PLADMED_TRUSTED_PROXIES`, the client is therefore the rightmost address of the forwarding
//! header that is not itself a trusted proxy. Each proxy appends the address it saw, so
//! everything left of the nearest untrusted hop was written by the client itself and is not
//! believed. An untrusted peer's forwarding headers are ignored: anyone can send them.

mod forwarded;

use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use warp::http::HeaderMap;

use forwarded::Hop;
pub use forwarded::MalformedForwarding;

/// The reverse proxies whose forwarding headers are believed (`PLADMED_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated CIDRs (`10.0.0.0/8, ::1/128`); a bare address means that one host.
    fn from_str(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{entry:?} is not a CIDR like 10.0.0.0/8 or an address"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

impl TrustedProxies {
    /// Whether `address` is one of the trusted proxies.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind a connection from `peer` that sent `headers`.
    ///
    /// `X-Forwarded-For` is read when present, else `Forwarded` (RFC 7239). One header only:
    /// a proxy that writes one of them passes the other through from the client unchanged, so
    /// combining them would let a client choose its own address. A hop written as `unknown`
    /// or as an obfuscated identifier is attributed to the trusted proxy that reported it, so
    /// such clients share that proxy's quota rather than escaping it. Only the hops up to the
    /// client are parsed: a malformed entry further left was written by the client and is
    /// ignored; one at or right of the client is a broken proxy, and the request is refused.
    pub fn client(
        &self,
        peer: IpAddr,
        headers: &HeaderMap,
    ) -> Result<ClientAddr, MalformedForwarding> {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return Ok(ClientAddr(peer));
        }
        let mut nearest = peer;
        for hop in forwarded::hops_from_right(headers)? {
            match hop? {
                Hop::Address(address) if self.contains(address) => nearest = address,
                Hop::Address(address) => return Ok(ClientAddr(address)),
                Hop::Hidden => return Ok(ClientAddr(nearest)),
            }
        }
        Ok(ClientAddr(nearest))
    }
}

/// The address a request is attributed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// The client's full address, as logged.
    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// The key per-address limits count under: an IPv4 address itself, an IPv6 address its
    /// /64. One subscriber usually holds a whole /64, so counting single IPv6 addresses would
    /// give each client 2^64 quotas.
    pub fn limit_key(self) -> IpAddr {
        match self.0 {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & !(u128::MAX >> 64);
                IpAddr::V6(bits.into())
            }
        }
    }
}

impl From<IpAddr> for ClientAddr {
    fn from(address: IpAddr) -> Self {
        ClientAddr(address.to_canonical())
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::http::HeaderValue;

    fn trusted(raw: &str) -> TrustedProxies {
        raw.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn client(proxies: &str, peer: &str, pairs: &[(&'static str, &str)]) -> String {
        trusted(proxies)
            .client(peer.parse().unwrap(), &headers(pairs))
            .unwrap()
            .to_string()
    }

    #[test]
    fn proxies_are_cidrs_or_addresses_and_anything_else_is_refused() {
        let proxies = trusted(" 10.0.0.0/8, 192.0.2.7 ,::1/128,");
        assert!(proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(proxies.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(proxies.contains("192.0.2.7".parse().unwrap()));
        assert!(!proxies.contains("192.0.2.8".parse().unwrap()));
        assert!(proxies.contains("::1".parse().unwrap()));
        assert_eq!(trusted(""), TrustedProxies::default());
        for bad in ["10.0.0.0/33", "nginx", "10.0.0.0/8;10.1.0.0/16", "::1/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop_of_a_trusted_peer() {
        let xff = |value| {
            client(
                "127.0.0.1, 10.0.0.0/8",
                "127.0.0.1",
                &[("x-forwarded-for", value)],
            )
        };
        assert_eq!(xff("203.0.113.9"), "203.0.113.9");
        assert_eq!(xff("6.6.6.6, 203.0.113.9, 10.1.1.1"), "203.0.113.9");
        assert_eq!(xff("garbage, 203.0.113.9"), "203.0.113.9");
        assert_eq!(xff("10.2.2.2, 10.1.1.1"), "10.2.2.2");
        assert_eq!(xff("2001:db8::7"), "2001:db8::7");
        assert_eq!(xff("[2001:db8::7]:4711"), "2001:db8::7");
        assert_eq!(xff("203.0.113.9:4711"), "203.0.113.9");
        assert_eq!(xff("unknown"), "127.0.0.1");
        assert_eq!(xff("unknown, 10.1.1.1"), "10.1.1.1");
        let two_lines = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "3.3.3.3"),
        ]);
        let found = trusted("127.0.0.1").client("127.0.0.1".parse().unwrap(), &two_lines);
        assert_eq!(found.unwrap().to_string(), "3.3.3.3");
    }

    #[test]
    fn forwarded_for_is_read_with_quotes_brackets_and_ports() {
        let fwd = |value| client("127.0.0.1", "127.0.0.1", &[("forwarded", value)]);
        assert_eq!(
            fwd("for=192.0.2.60;proto=http;by=203.0.113.43"),
            "192.0.2.60"
        );
        assert_eq!(
            fwd("for=192.0.2.43, for=\"[2001:db8:cafe::17]:4711\""),
            "2001:db8:cafe::17"
        );
        assert_eq!(fwd("For=\"192.0.2.43:_hidden\""), "192.0.2.43");
        assert_eq!(fwd("for=198.51.100.1;by=\"a,b\", proto=https"), "127.0.0.1");
        assert_eq!(fwd("for=_gazonk"), "127.0.0.1");
        let both = [
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "203.0.113.9"),
        ];
        assert_eq!(client("127.0.0.1", "127.0.0.1", &both), "203.0.113.9");
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let spoofed = [
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=6.6.6.6"),
        ];
        assert_eq!(client("127.0.0.1", "127.0.0.2", &spoofed), "127.0.0.2");
        assert_eq!(client("", "::ffff:127.0.0.2", &spoofed), "127.0.0.2");
        assert_eq!(
            client("", "127.0.0.1", &[("x-forwarded-for", "garbage")]),
            "127.0.0.1"
        );
    }

    #[test]
    fn malformed_hops_up_to_the_client_name_the_header() {
        let proxies = trusted("127.0.0.1");
        let peer = "127.0.0.1".parse().unwrap();
        for (name, value) in [
            ("x-forwarded-for", "203.0.113.9, not-an-ip"),
            ("x-forwarded-for", "203.0.113.9:99999"),
            ("forwarded", "for=\"[2001:db8::1\""),
            ("forwarded", "for=\"192.0.2.1"),
            ("forwarded", "for"),
            ("forwarded", "for=1.2.3.4.5"),
        ] {
            let error = proxies
                .client(peer, &headers(&[(name, value)]))
                .unwrap_err();
            assert!(error.to_string().to_lowercase().contains(name), "{error}");
        }
    }

    #[test]
    fn ipv6_clients_are_limited_by_their_slash_64() {
        let a = ClientAddr::from("2001:db8:1:2:aaaa::1".parse::<IpAddr>().unwrap());
        let b = ClientAddr::from("2001:db8:1:2:bbbb::9".parse::<IpAddr>().unwrap());
        let c = ClientAddr::from("2001:db8:1:3::1".parse::<IpAddr>().unwrap());
        assert_eq!(a.limit_key(), b.limit_key());
        assert_ne!(a.limit_key(), c.limit_key());
        assert_eq!(a.limit_key().to_string(), "2001:db8:1:2::");
        let v4 = ClientAddr::from("192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(v4.limit_key().to_string(), "192.0.2.1");
    }
}
