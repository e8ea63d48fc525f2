//! Settings from the command line, each also readable from a `PLADMED_PROBE_*` variable.
//!
//! The token is read from a file (or the environment), never from an argument: arguments are
//! visible to every user of the machine in `ps`.

use clap::Parser;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU64};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Everything a probe needs to know at startup.
#[derive(Debug, Clone, Parser)]
#[command(name = "pladmed-probe", version, about = "Pladmed measurement probe")]
pub struct Config {
    /// Coordinator URL: http(s)://host[:port] (or ws(s)://); the probe connects to /probe/ws.
    #[arg(long, env = "PLADMED_PROBE_SERVER")]
    pub server: ServerUrl,
    /// File holding the probe token (shown by POST /probes and GET /probes/me).
    #[arg(
        long,
        env = "PLADMED_PROBE_TOKEN_FILE",
        required_unless_present = "token"
    )]
    pub token_file: Option<PathBuf>,
    /// The probe token itself; environment only, so that it never shows in `ps`.
    #[arg(long, env = "PLADMED_PROBE_TOKEN", hide = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Where operations and unacknowledged results are kept across restarts.
    #[arg(long, env = "PLADMED_PROBE_STATE_DIR", default_value = "./probe-state")]
    pub state_dir: PathBuf,
    /// Capacity offered to the coordinator, in credits.
    #[arg(long, env = "PLADMED_PROBE_CREDITS")]
    pub credits: NonZeroU64,
    /// NTP server whose offset corrects the schedule clock.
    #[arg(long, env = "PLADMED_PROBE_NTP_SERVER", default_value = "pool.ntp.org")]
    pub ntp_server: String,
    /// Do not measure the clock offset (schedules follow the local clock as is).
    #[arg(long, env = "PLADMED_PROBE_NO_NTP")]
    pub no_ntp: bool,
    /// Resolver dig queries when an operation gives no `address`; default: the system's
    /// (/etc/resolv.conf).
    #[arg(long, env = "PLADMED_PROBE_DNS_SERVER")]
    pub dns_server: Option<IpAddr>,
    /// Port dig sends every query to, the operation's `address` included; default: 53.
    #[arg(long, env = "PLADMED_PROBE_DNS_PORT")]
    pub dns_port: Option<NonZeroU16>,
    /// The scamper executable.
    #[arg(long, env = "PLADMED_PROBE_SCAMPER", default_value = "scamper")]
    pub scamper: PathBuf,
    /// The sc_analysis_dump executable (traceroute results in "dump" format).
    #[arg(
        long,
        env = "PLADMED_PROBE_SC_ANALYSIS_DUMP",
        default_value = "sc_analysis_dump"
    )]
    pub sc_analysis_dump: PathBuf,
    /// The dig executable.
    #[arg(long, env = "PLADMED_PROBE_DIG", default_value = "dig")]
    pub dig: PathBuf,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(long, env = "PLADMED_PROBE_MAX_RECONNECT_S", default_value_t = 30)]
    pub max_reconnect_s: u64,
    /// Longest one tool run may take, in seconds; it is killed after that.
    #[arg(long, env = "PLADMED_PROBE_TOOL_TIMEOUT_S", default_value_t = 600)]
    pub tool_timeout_s: u64,
}

impl Config {
    /// The probe token, from the environment or the token file.
    pub fn token(&self) -> Result<ProbeToken, ConfigError> {
        if let Some(token) = &self.token {
            return ProbeToken::new(token);
        }
        let path = self.token_file.as_ref().ok_or(ConfigError::NoToken)?;
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::TokenFile(path.clone(), e))?;
        ProbeToken::new(&text)
    }

    /// The longest wait between reconnection attempts.
    pub fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_s.max(1))
    }

    /// The longest one tool run may take.
    pub fn tool_timeout(&self) -> Duration {
        Duration::from_secs(self.tool_timeout_s.max(1))
    }
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither `--token-file` nor `PLADMED_PROBE_TOKEN` was given.
    #[error("no probe token: give --token-file or PLADMED_PROBE_TOKEN")]
    NoToken,
    /// The token file could not be read.
    #[error("cannot read the token file {0}: {1}")]
    TokenFile(PathBuf, std::io::Error),
    /// The token is empty or not a header-safe string.
    #[error("the probe token is empty or contains spaces or control characters")]
    BadToken,
}

/// The probe's secret; its `Debug` never shows it.
#[derive(Clone)]
pub struct ProbeToken(String);

impl ProbeToken {
    /// `text` without surrounding whitespace, if it can travel in an `Authorization` header.
    pub fn new(text: &str) -> Result<Self, ConfigError> {
        let token = text.trim();
        let usable = !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic());
        usable
            .then(|| Self(token.to_string()))
            .ok_or(ConfigError::BadToken)
    }

    /// The token.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProbeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProbeToken(…)")
    }
}

/// The coordinator's probe endpoint, `ws://…/probe/ws` or `wss://…/probe/ws`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(String);

impl ServerUrl {
    /// The WebSocket URL of the probe link.
    pub fn endpoint(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServerUrl {
    type Err = String;

    /// Accepts `http`, `https`, `ws` and `wss` URLs, with or without the `/probe/ws` path.
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
        let path = if rest.ends_with("/probe/ws") {
            ""
        } else {
            "/probe/ws"
        };
        Ok(Self(format!("{scheme}://{rest}{path}")))
    }
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
        ] {
            assert!(url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tokens_are_trimmed_and_hidden() {
        let token = ProbeToken::new("  abc.def\n").unwrap();
        assert_eq!(token.expose(), "abc.def");
        assert_eq!(format!("{token:?}"), "ProbeToken(…)");
        assert!(ProbeToken::new(" \n").is_err());
        assert!(ProbeToken::new("a b").is_err());
    }

    #[test]
    fn the_command_line_parses() {
        let config = Config::try_parse_from([
            "pladmed-probe",
            "--server",
            "http://127.0.0.1:5000",
            "--token-file",
            "probe.token",
            "--credits",
            "1000",
        ])
        .unwrap();
        assert_eq!(config.credits.get(), 1000);
        assert_eq!(config.server.endpoint(), "ws://127.0.0.1:5000/probe/ws");
        let missing_token = Config::try_parse_from(["p", "--server", "http://h", "--credits", "1"]);
        assert!(missing_token.is_err() || std::env::var("PLADMED_PROBE_TOKEN").is_ok());
        let zero = Config::try_parse_from(["p", "--server", "http://h", "--credits", "0"]);
        assert!(zero.is_err());
    }
}
