//! The coordinator's address, as `--server` gives it.

use probe_protocol::{NtpServer, LINK_PATH};
use std::str::FromStr;

/// The coordinator's probe endpoint, `ws://…/probe/ws` or `wss://…/probe/ws`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl {
    endpoint: String,
    colocated_ntp: NtpServer,
}

impl ServerUrl {
    /// The WebSocket URL of the probe link.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The NTP server on the coordinator's host, on the NTP port: the deployment's Chrony.
    pub fn colocated_ntp(&self) -> &NtpServer {
        &self.colocated_ntp
    }
}

impl FromStr for ServerUrl {
    type Err = String;

    /// Accepts `http`, `https`, `ws` and `wss` URLs, with or without the link path.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| format!("{text:?} is not a URL like http://host:port"))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => "ws",
            "https" | "wss" => "wss",
            other => return Err(format!("unsupported scheme {other:?}: use http or https")),
        };
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.starts_with('/') || rest.contains(['?', '#', ' ']) {
            return Err(format!("{text:?} has no host, or a query or fragment"));
        }
        let path = if rest.ends_with(LINK_PATH) {
            ""
        } else {
            LINK_PATH
        };
        let colocated_ntp = host_of(rest)
            .and_then(|host| NtpServer::on_host(host).ok())
            .ok_or_else(|| format!("{text:?} has no usable host"))?;
        Ok(Self {
            endpoint: format!("{scheme}://{rest}{path}"),
            colocated_ntp,
        })
    }
}

/// The host of `authority[/path]`: `[v6]` with its brackets, or a name or IPv4 address.
fn host_of(rest: &str) -> Option<&str> {
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<String, String> {
        text.parse::<ServerUrl>().map(|u| u.endpoint().to_string())
    }

    #[test]
    fn http_urls_become_the_websocket_endpoint() {
        assert_eq!(
            url("http://127.0.0.1:5000").unwrap(),
            "ws://127.0.0.1:5000/probe/ws"
        );
        assert_eq!(
            url("https://pladmed.example.org/").unwrap(),
            "wss://pladmed.example.org/probe/ws"
        );
        assert_eq!(url("HTTPS://h/api").unwrap(), "wss://h/api/probe/ws");
        assert_eq!(url("ws://h:1/probe/ws").unwrap(), "ws://h:1/probe/ws");
    }

    #[test]
    fn other_urls_are_refused() {
        for bad in [
            "127.0.0.1:5000",
            "ftp://h",
            "http://",
            "http:///x",
            "http://h?x=1",
            "http://[::1/x",
        ] {
            assert!(url(bad).is_err(), "{bad} accepted");
        }
    }
}
