//! The NTP server whose clock both sides measure against, written `host:port`.
//!
//! The coordinator samples its own clock against it (`PLADMED_NTP_SERVER`) and the reference
//! probe corrects its schedule with it (`--ntp-server`, by default the coordinator's host):
//! one parser, so that both read `chrony` as the same server, on [`NTP_PORT`].

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU16;
use std::str::FromStr;

/// The port an NTP server is on when none is given: the standard NTP port, where the
/// deployment's Chrony serves.
pub const NTP_PORT: u16 = 123;

/// An NTP server as `host:port` (`[v6]:port` for an IPv6 address), ready to resolve: a host
/// name is resolved at every use, so a restarted container is found again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtpServer(String);

impl NtpServer {
    /// The server on `host` as a URL writes it (a name, an IPv4 address or a bracketed IPv6
    /// address), on [`NTP_PORT`]: the co-located Chrony of a coordinator at that host.
    pub fn on_host(host: &str) -> Result<Self, String> {
        let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
        match bare {
            Some(v6) => v6
                .parse::<std::net::Ipv6Addr>()
                .map(|ip| Self(SocketAddr::new(ip.into(), NTP_PORT).to_string()))
                .map_err(|_| format!("{host:?} is not an IPv6 address")),
            None if host.contains(':') => Err(format!("{host:?} is a host with a port")),
            None => host.parse(),
        }
    }

    /// `host:port`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for NtpServer {
    type Err = String;

    /// `host`, `host:port`, `192.0.2.1[:port]`, `2001:db8::1` or `[2001:db8::1]:port`; the
    /// port is [`NTP_PORT`] unless given, and never 0.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self(SocketAddr::new(ip, NTP_PORT).to_string()));
        }
        let bad = || format!("{text:?} is not host:port, e.g. chrony:123 or 127.0.0.1");
        if let Ok(address) = text.parse::<SocketAddr>() {
            return (address.port() != 0)
                .then(|| Self(address.to_string()))
                .ok_or_else(bad);
        }
        let (name, port) = match text.split_once(':') {
            Some((name, port)) => (name, port.parse::<NonZeroU16>().map_err(|_| bad())?.get()),
            None => (text, NTP_PORT),
        };
        let is_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        is_name
            .then(|| Self(format!("{name}:{port}")))
            .ok_or_else(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<String, String> {
        text.parse::<NtpServer>().map(|s| s.to_string())
    }

    /// Coordinator and probe once disagreed here: the coordinator refused a server without a
    /// port, the probe read it as port 123. Both read it through this parser now.
    #[test]
    fn a_server_without_a_port_is_on_port_123() {
        assert_eq!(NTP_PORT, 123);
        assert_eq!(parse("chrony").unwrap(), "chrony:123");
        assert_eq!(parse("192.0.2.1").unwrap(), "192.0.2.1:123");
        assert_eq!(parse("::1").unwrap(), "[::1]:123");
    }

    #[test]
    fn a_given_port_is_kept() {
        assert_eq!(parse("chrony:1123").unwrap(), "chrony:1123");
        assert_eq!(parse(" 127.0.0.1:123 ").unwrap(), "127.0.0.1:123");
        assert_eq!(parse("[::1]:1123").unwrap(), "[::1]:1123");
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "h:0",
            "h:x",
            "chrony:ntp",
            "a b",
            "h/x:1",
            "[::1]",
            "1.2.3.4:0",
            "h:1:2",
        ] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_url_host_names_its_colocated_server() {
        let on = |host: &str| NtpServer::on_host(host).map(|s| s.to_string());
        assert_eq!(
            on("pladmed.example.org").unwrap(),
            "pladmed.example.org:123"
        );
        assert_eq!(on("127.0.0.1").unwrap(), "127.0.0.1:123");
        assert_eq!(on("[::1]").unwrap(), "[::1]:123");
        for bad in ["", "[h]", "h:1", "::1", "a b"] {
            assert!(on(bad).is_err(), "{bad} accepted");
        }
    }
}
