//! Typed settings, read once from the environment at startup.
//!
//! Each variable is declared once, with its default, bounds and meaning, in [`variables`];
//! [`validate`] then checks what depends on several of them (production requirements, the
//! store, the superuser) and builds [`Settings`]. Every secret `NAME` may also be given as
//! `NAME_FILE` (a path whose content, trimmed, is the value); the file wins over the variable,
//! so container secrets override stray defaults. Anything invalid fails startup with an error
//! naming the variable.

#[cfg(test)]
mod tests;
mod validate;
mod variables;

pub use variables::{variables, Variable};

use crate::client::TrustedProxies;
use probe_protocol::NtpServer;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Development or production behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Random JWT secret if none is set, `/delete_all` enabled, any CORS origin by default.
    Development,
    /// A JWT secret, CORS origins and the health and metrics codes are mandatory, `/delete_all`
    /// answers 404 and logs are JSON.
    Production,
}

impl Mode {
    /// `development` or `production`, as `PLADMED_MODE` spells it (the `app_env` of metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Development => "development",
            Mode::Production => "production",
        }
    }
}

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// MongoDB at `uri`, database `database`.
    Mongo {
        /// Connection string.
        uri: String,
        /// Database name.
        database: String,
    },
    /// The embedded store in this directory.
    Embedded {
        /// Data directory.
        dir: PathBuf,
    },
}

/// Which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// Any origin (`*`).
    Any,
    /// Only these origins, e.g. `https://pladmed.example.org`.
    List(Vec<String>),
}

/// All settings of one server instance. Each field comes from the variable(s) of the same name
/// declared in `variables.rs` (see [`variables()`]), whose docs say what they mean.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address.
    pub bind: SocketAddr,
    /// Development or production behaviour.
    pub mode: Mode,
    /// MongoDB or the embedded store.
    pub storage: StorageSettings,
    /// Key for user and probe tokens; `None` (development only) means "generate one".
    pub jwt_secret: Option<String>,
    /// Lifetime of user tokens.
    pub token_ttl: Duration,
    /// The original backend's `SECRET_KEY`: its tokens are accepted while it is set.
    pub legacy_secret_key: Option<String>,
    /// Largest WebSocket message accepted from a probe.
    pub max_frame_bytes: usize,
    /// Bytes of result frames in flight across all probe links (read, not yet written); past
    /// it, links are not read until bytes are released.
    pub ingest_memory_bytes: u64,
    /// Ping period on probe links.
    pub heartbeat: Duration,
    /// Browser origins allowed to call the API.
    pub cors: CorsOrigins,
    /// Name of this instance, recorded with each probe link.
    pub instance: String,
    /// Redis connection string of the hub shared with other instances; `None`: in-process hub.
    pub redis_url: Option<String>,
    /// Frames queued per probe before it is dropped as too slow.
    pub probe_queue: usize,
    /// How the server watches its own clock.
    pub clock: ClockSettings,
    /// The `?code=` GET /health requires; `None` (development only) leaves it open.
    pub health_code: Option<String>,
    /// The `?code=` GET /metrics requires; `None` (development only) leaves it open.
    pub metrics_code: Option<String>,
    /// Log filter in `tracing` env-filter syntax.
    pub log_filter: String,
    /// Abuse limits: rates and connection counts per client address and in total.
    pub limits: Limits,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// A superuser to create at startup unless the address has an account.
    pub superuser: Option<SuperuserSettings>,
}

/// The superuser created at startup (containers have no terminal to run the CLI in).
#[derive(Clone, PartialEq, Eq)]
pub struct SuperuserSettings {
    /// Login address.
    pub email: crate::domain::Email,
    /// Password, already checked against the policy.
    pub password: String,
}

impl std::fmt::Debug for SuperuserSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SuperuserSettings")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What one client may cost the server before it is refused (docs/security.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// POST /login and /register per client address and minute.
    pub auth_rate_per_minute: u32,
    /// Open probe links per client address.
    pub ws_per_address: usize,
    /// Open probe links in total.
    pub ws_total: usize,
    /// How long a probe has to say hello after the upgrade.
    pub hello_timeout: Duration,
    /// Messages per second read from one probe link.
    pub probe_frames_per_s: u32,
    /// Time to send a complete request head.
    pub header_timeout: Duration,
    /// Time for a request to be received and answered.
    pub request_timeout: Duration,
    /// Probes one account may register.
    pub probes_per_user: u32,
    /// Live result streams open at once on this instance.
    pub streams: usize,
    /// Password hashes computed at once.
    pub hash_concurrency: usize,
}

/// How the server watches its own clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSettings {
    /// The NTP server to measure against.
    pub ntp_server: NtpServer,
    /// Time between two samples.
    pub interval: Duration,
    /// A larger |offset| is logged as a warning and makes the clock unhealthy.
    pub max_offset_ms: f64,
}

/// A setting could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: String,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        validate::settings(variables::read(&lookup)?)
    }

    /// Development settings on an embedded store in `dir`, listening on a free loopback port:
    /// what tests and benchmarks start from.
    pub fn for_local_test(dir: PathBuf) -> Self {
        let mut settings = Self::from_lookup(|_| None).expect("defaults are valid");
        settings.bind = "127.0.0.1:0".parse().expect("valid address");
        settings.storage = StorageSettings::Embedded { dir };
        settings
    }
}
