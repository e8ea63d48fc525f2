//! Settings from the command line, each also readable from a `PLADMED_PROBE_*` variable.
//!
//! The token is best given as a file or a variable: arguments are visible to every user of the
//! machine in `ps`, so `--token` is only for trying things out.

use clap::Parser;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::num::{NonZeroU16, NonZeroU64};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Everything a probe needs to know at startup.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "pladmed-probe",
    version,
    about = "Pladmed measurement probe",
    // A later option wins over an earlier one (and over its variable), so that a wrapper
    // script's defaults can be overridden by appending.
    args_override_self = true
)]
pub struct Config {
    /// Coordinator URL: http(s)://host[:port] (or ws(s)://); the probe connects to /probe/ws.
    /// Several, separated by commas, name instances of one deployment: the probe starts with
    /// the first and, whenever its link drops, tries the next, so that a dead instance is
    /// retried only after the others. A later `--server` replaces the whole list.
    #[arg(long, env = "PLADMED_PROBE_SERVER", value_name = "URL[,URL...]", required = true,
          action = clap::ArgAction::Set, value_delimiter = ',')]
    pub server: Vec<ServerUrl>,
    /// PEM file of CA certificates trusted for wss:// besides the public roots: for a TLS
    /// proxy in front of the coordinator whose certificate a private CA signed.
    #[arg(long, env = "PLADMED_PROBE_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// File holding the probe token (shown by POST /probes and GET /probes/me).
    #[arg(
        long,
        env = "PLADMED_PROBE_TOKEN_FILE",
        value_name = "FILE",
        required_unless_present = "token"
    )]
    pub token_file: Option<PathBuf>,
    /// The probe token itself. Prefer --token-file or the variable: arguments show in `ps`.
    #[arg(
        long,
        env = "PLADMED_PROBE_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Where operations and unacknowledged results are kept across restarts.
    #[arg(
        long,
        env = "PLADMED_PROBE_STATE_DIR",
        value_name = "DIR",
        default_value = "./probe-state"
    )]
    pub state_dir: PathBuf,
    /// Capacity offered to the coordinator, in credits.
    #[arg(long, env = "PLADMED_PROBE_CREDITS", value_name = "N")]
    pub credits: NonZeroU64,
    /// NTP server (host:port) whose offset corrects the schedule clock and is reported to the
    /// coordinator; default: the coordinator's host on port 123 (the co-located Chrony).
    #[arg(long, env = "PLADMED_PROBE_NTP_SERVER", value_name = "HOST:PORT")]
    pub ntp_server: Option<NtpServer>,
    /// Do not measure the clock offset (schedules follow the local clock as is).
    #[arg(long, env = "PLADMED_PROBE_NO_NTP", overrides_with = "ntp_server")]
    pub no_ntp: bool,
    /// Resolver dig queries when an operation gives no `address`; default: the system's
    /// (/etc/resolv.conf).
    #[arg(long, env = "PLADMED_PROBE_DNS_SERVER", value_name = "IP")]
    pub dns_server: Option<IpAddr>,
    /// Port dig sends every query to, the operation's `address` included; default: 53.
    #[arg(long, env = "PLADMED_PROBE_DNS_PORT", value_name = "PORT")]
    pub dns_port: Option<NonZeroU16>,
    /// The scamper executable.
    #[arg(
        long,
        env = "PLADMED_PROBE_SCAMPER",
        value_name = "PATH",
        default_value = "scamper"
    )]
    pub scamper: PathBuf,
    /// The sc_analysis_dump executable (traceroute results in "dump" format).
    #[arg(
        long,
        env = "PLADMED_PROBE_SC_ANALYSIS_DUMP",
        value_name = "PATH",
        default_value = "sc_analysis_dump"
    )]
    pub sc_analysis_dump: PathBuf,
    /// The dig executable.
    #[arg(
        long,
        env = "PLADMED_PROBE_DIG",
        value_name = "PATH",
        default_value = "dig"
    )]
    pub dig: PathBuf,
    /// Longest wait between reconnection attempts, in seconds.
    #[arg(
        long,
        env = "PLADMED_PROBE_MAX_RECONNECT_S",
        value_name = "S",
        default_value_t = 30
    )]
    pub max_reconnect_s: u64,
    /// Longest one tool run may take, in seconds; it is killed after that.
    #[arg(
        long,
        env = "PLADMED_PROBE_TOOL_TIMEOUT_S",
        value_name = "S",
        default_value_t = 600
    )]
    pub tool_timeout_s: u64,
    /// On SIGTERM or Ctrl-C, how long running measurements may take to finish, in seconds.
    #[arg(
        long,
        env = "PLADMED_PROBE_SHUTDOWN_GRACE_S",
        value_name = "S",
        default_value_t = 30
    )]
    pub shutdown_grace_s: u64,
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

    /// The NTP server to measure the clock against, unless `--no-ntp`.
    pub fn ntp(&self) -> Option<NtpServer> {
        if self.no_ntp {
            return None;
        }
        let colocated = || NtpServer(format!("{}:{NTP_PORT}", self.server[0].host()));
        Some(self.ntp_server.clone().unwrap_or_else(colocated))
    }

    /// The longest wait between reconnection attempts.
    pub fn max_reconnect_delay(&self) -> Duration {
        Duration::from_secs(self.max_reconnect_s.max(1))
    }

    /// How long shutdown waits for running measurements.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_s)
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
    /// The CA file cannot be read or holds no usable CA certificate.
    #[error("cannot use --ca-file {0}: {1}")]
    CaFile(PathBuf, String),
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
pub struct ServerUrl {
    endpoint: String,
    host: String,
}

impl ServerUrl {
    /// The WebSocket URL of the probe link.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The coordinator's host name or address, without port (an IPv6 address in brackets).
    pub fn host(&self) -> &str {
        &self.host
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
        Ok(Self {
            endpoint: format!("{scheme}://{rest}{path}"),
            host: host_of(rest).ok_or_else(|| format!("{text:?} has no usable host"))?,
        })
    }
}

/// The host of `authority[/path]`: `[v6]` with its brackets, or a name or IPv4 address.
fn host_of(rest: &str) -> Option<String> {
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let host = if authority.starts_with('[') {
        &authority[..=authority.find(']')?]
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// The NTP port, where the deployment's Chrony serves.
pub const NTP_PORT: u16 = 123;

/// An NTP server as `host:port` (`[v6]:port` for an IPv6 address); port 123 unless given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NtpServer(String);

impl NtpServer {
    /// `host:port`, ready to resolve.
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

    /// `host`, `host:port`, `192.0.2.1[:port]`, `2001:db8::1` or `[2001:db8::1]:port`.
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self(SocketAddr::new(ip, NTP_PORT).to_string()));
        }
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(Self(address.to_string()));
        }
        let bad = || format!("{text:?} is not host:port");
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
    fn the_ntp_server_defaults_to_the_coordinators_host_on_port_123() {
        let ntp = |server: &str, extra: &[&str]| {
            let mut args = vec!["p", "--server", server, "--token", "t", "--credits", "1"];
            args.extend(extra);
            Config::try_parse_from(args)
                .unwrap()
                .ntp()
                .map(|n| n.to_string())
        };
        let colocated = [
            ("http://127.0.0.1:5000", "127.0.0.1:123"),
            ("https://pladmed.example.org/api", "pladmed.example.org:123"),
            ("http://[::1]:5000", "[::1]:123"),
            ("https://user@h.example", "h.example:123"),
        ];
        for (server, expected) in colocated {
            assert_eq!(ntp(server, &[]).as_deref(), Some(expected), "{server}");
        }
        let given = ntp("http://h", &["--ntp-server", "time.example:1123"]);
        assert_eq!(given.as_deref(), Some("time.example:1123"));
        assert_eq!(ntp("http://h", &["--no-ntp"]), None);
        // The last of --no-ntp and --ntp-server wins.
        let later = ntp("http://h", &["--no-ntp", "--ntp-server", "192.0.2.1"]);
        assert_eq!(later.as_deref(), Some("192.0.2.1:123"));
    }

    #[test]
    fn ntp_servers_are_host_and_port() {
        let parse = |t: &str| t.parse::<NtpServer>().map(|s| s.to_string());
        assert_eq!(parse("chrony").unwrap(), "chrony:123");
        assert_eq!(parse("chrony:1123").unwrap(), "chrony:1123");
        assert_eq!(parse("192.0.2.1").unwrap(), "192.0.2.1:123");
        assert_eq!(parse("::1").unwrap(), "[::1]:123");
        assert_eq!(parse("[::1]:1123").unwrap(), "[::1]:1123");
        for bad in ["", "h:0", "h:x", "a b", "h/x:1", "[::1]"] {
            assert!(parse(bad).is_err(), "{bad} accepted");
        }
    }

    fn workspace_file(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// docs/probe.md has a row for every option with its variable; the README's "Run a probe"
    /// for those operators set most.
    #[test]
    fn every_option_and_its_variable_are_documented() {
        use clap::CommandFactory;
        let guide = workspace_file("docs/probe.md");
        let readme = workspace_file("README.md");
        let essential = [
            "server",
            "ca-file",
            "token",
            "token-file",
            "state-dir",
            "credits",
            "scamper",
            "ntp-server",
        ];
        for arg in Config::command().get_arguments() {
            let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
                continue;
            };
            let env = env.to_string_lossy();
            let option = match arg.get_value_names() {
                Some([value]) if arg.get_action().takes_values() => format!("--{long} {value}"),
                _ => format!("--{long}"),
            };
            let documented = |text: &str| {
                text.lines()
                    .any(|line| line.starts_with(&format!("| `{option}` | `{env}` |")))
            };
            assert!(
                documented(&guide),
                "docs/probe.md: no row for {option} / {env}"
            );
            if essential.contains(&long) {
                assert!(documented(&readme), "README: no row for {option} / {env}");
            }
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
        assert_eq!(config.server[0].endpoint(), "ws://127.0.0.1:5000/probe/ws");
        let missing_token = Config::try_parse_from(["p", "--server", "http://h", "--credits", "1"]);
        let later_wins = Config::try_parse_from(
            [
                "p",
                "--server",
                "http://h",
                "--token",
                "t",
                "--credits",
                "1",
            ]
            .into_iter()
            .chain(["--credits", "7"]),
        )
        .unwrap();
        assert_eq!(later_wins.credits.get(), 7);
        assert!(missing_token.is_err() || std::env::var("PLADMED_PROBE_TOKEN").is_ok());
        let zero = Config::try_parse_from(["p", "--server", "http://h", "--credits", "0"]);
        assert!(zero.is_err());
    }

    #[test]
    fn several_servers_are_kept_in_order_and_a_later_list_replaces_them() {
        let servers = |args: &[&str]| {
            let base = ["p", "--token", "t", "--credits", "1"];
            let config = Config::try_parse_from(base.iter().chain(args)).unwrap();
            let urls = config.server.iter().map(|s| s.endpoint().to_string());
            urls.collect::<Vec<_>>()
        };
        let both = ["ws://a:1/probe/ws", "ws://b:2/probe/ws"];
        assert_eq!(servers(&["--server", "http://a:1,http://b:2"]), both);
        assert_eq!(
            servers(&[
                "--server",
                "http://a:1,http://b:2",
                "--server",
                "http://c:3"
            ]),
            ["ws://c:3/probe/ws"]
        );
    }
}
