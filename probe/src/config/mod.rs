//! Settings from the command line, each also readable from a `PLADMED_PROBE_*` variable.
//!
//! The token is best given as a file or a variable: arguments are visible to every user of the
//! machine in `ps`, so `--token` is only for trying things out.

mod server_url;
#[cfg(test)]
mod tests;

use clap::{Parser, ValueHint};
use probe_protocol::NtpServer;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU64};
use std::path::PathBuf;
use std::time::Duration;

pub use server_url::ServerUrl;

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
    /// Coordinator URL: http(s)://host[:port] (or ws(s)://); the probe connects to its
    /// /probe/ws. Several, separated by commas, name instances of one deployment: the probe
    /// starts with the first and, whenever its link drops, tries the next, so that a dead
    /// instance is retried only after the others. A later `--server` replaces the whole list.
    #[arg(long, env = "PLADMED_PROBE_SERVER", value_name = "URL[,URL...]", required = true,
          action = clap::ArgAction::Set, value_delimiter = ',')]
    pub server: Vec<ServerUrl>,
    /// PEM file of CA certificates trusted for wss:// besides the public roots: for a TLS
    /// proxy in front of the coordinator whose certificate a private CA signed.
    #[arg(long, env = "PLADMED_PROBE_CA_FILE", value_name = "FILE",
          value_hint = ValueHint::FilePath)]
    pub ca_file: Option<PathBuf>,
    /// File holding the probe token (shown by POST /probes and GET /probes/me).
    #[arg(long, env = "PLADMED_PROBE_TOKEN_FILE", value_name = "FILE",
          value_hint = ValueHint::FilePath, required_unless_present = "token")]
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
    #[arg(long, env = "PLADMED_PROBE_STATE_DIR", value_name = "DIR",
          value_hint = ValueHint::DirPath, default_value = "./probe-state")]
    pub state_dir: PathBuf,
    /// Capacity offered to the coordinator, in credits.
    #[arg(long, env = "PLADMED_PROBE_CREDITS", value_name = "N")]
    pub credits: NonZeroU64,
    /// NTP server (host[:port], port 123 when omitted) whose offset corrects the schedule clock
    /// and is reported to the coordinator; default: the coordinator's host on port 123 (the
    /// co-located Chrony).
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
    #[arg(long, env = "PLADMED_PROBE_SCAMPER", value_name = "PATH",
          value_hint = ValueHint::ExecutablePath, default_value = "scamper")]
    pub scamper: PathBuf,
    /// The sc_analysis_dump executable (traceroute results in "dump" format).
    #[arg(long, env = "PLADMED_PROBE_SC_ANALYSIS_DUMP", value_name = "PATH",
          value_hint = ValueHint::ExecutablePath, default_value = "sc_analysis_dump")]
    pub sc_analysis_dump: PathBuf,
    /// The dig executable.
    #[arg(long, env = "PLADMED_PROBE_DIG", value_name = "PATH",
          value_hint = ValueHint::ExecutablePath, default_value = "dig")]
    pub dig: PathBuf,
    /// Longest wait between reconnection attempts, in seconds (at least 1).
    #[arg(long = "max-reconnect-s", env = "PLADMED_PROBE_MAX_RECONNECT_S", value_name = "S",
          default_value = "30", value_parser = seconds::<1>)]
    pub max_reconnect: Duration,
    /// Longest one tool run may take, in seconds (at least 1); it is killed after that.
    #[arg(long = "tool-timeout-s", env = "PLADMED_PROBE_TOOL_TIMEOUT_S", value_name = "S",
          default_value = "600", value_parser = seconds::<1>)]
    pub tool_timeout: Duration,
    /// On SIGTERM or Ctrl-C, how long running measurements may take to finish, in seconds.
    #[arg(long = "shutdown-grace-s", env = "PLADMED_PROBE_SHUTDOWN_GRACE_S", value_name = "S",
          default_value = "30", value_parser = seconds::<0>)]
    pub shutdown_grace: Duration,
}

/// Whole seconds, at least `MIN` (a smaller number counts as `MIN`).
fn seconds<const MIN: u64>(raw: &str) -> Result<Duration, String> {
    let seconds = raw.parse::<u64>().map_err(|e| e.to_string())?;
    Ok(Duration::from_secs(seconds.max(MIN)))
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
        let colocated = || self.server[0].colocated_ntp().clone();
        Some(self.ntp_server.clone().unwrap_or_else(colocated))
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
