//! Typed settings, read once from the environment at startup.
//!
//! Every secret `NAME` may also be given as `NAME_FILE` (a path whose content, trimmed, is the
//! value); the file wins over the variable, so container secrets override stray defaults.
//! Anything invalid fails startup with an error naming the variable.

use crate::client::TrustedProxies;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Development or production behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// All settings of one server instance.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `PLADMED_BIND`: listen address.
    pub bind: SocketAddr,
    /// `PLADMED_MODE`.
    pub mode: Mode,
    /// `PLADMED_MONGODB_URI`, `PLADMED_MONGODB_DATABASE`, `PLADMED_DATA_DIR`.
    pub storage: StorageSettings,
    /// `PLADMED_JWT_SECRET`; `None` in development means "generate one".
    pub jwt_secret: Option<String>,
    /// `PLADMED_TOKEN_TTL_S`: lifetime of user tokens.
    pub token_ttl: Duration,
    /// `PLADMED_MAX_FRAME_BYTES`: largest WebSocket message accepted from a probe.
    pub max_frame_bytes: usize,
    /// `PLADMED_INGEST_MEMORY_BYTES`: bytes of result frames in flight across all probe links
    /// (read, not yet written); past it, links are not read until bytes are released.
    pub ingest_memory_bytes: u64,
    /// `PLADMED_HEARTBEAT_S`: ping period on probe links; a ping unanswered by the next drops
    /// the probe.
    pub heartbeat: Duration,
    /// `PLADMED_CORS_ORIGINS`: comma-separated origins, or `*`.
    pub cors: CorsOrigins,
    /// `PLADMED_INSTANCE`: name of this instance, recorded with each probe link.
    pub instance: String,
    /// `PLADMED_PROBE_QUEUE`: frames queued per probe before it is dropped as too slow.
    pub probe_queue: usize,
    /// `PLADMED_NTP_SERVER`, `PLADMED_NTP_INTERVAL`, `PLADMED_MAX_CLOCK_OFFSET_MS`.
    pub clock: ClockSettings,
    /// `PLADMED_HEALTH_CODE`: the `?code=` that GET /health requires; `None` (development only)
    /// leaves it open.
    pub health_code: Option<String>,
    /// `PLADMED_METRICS_CODE`: the `?code=` that GET /metrics requires; `None` (development
    /// only) leaves it open.
    pub metrics_code: Option<String>,
    /// `PLADMED_LOG`: log filter in `tracing` env-filter syntax, e.g. `info,pladmed=debug`.
    pub log_filter: String,
    /// Abuse limits: rates and connection counts per client address and in total.
    pub limits: Limits,
    /// `PLADMED_TRUSTED_PROXIES`: reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// `PLADMED_SUPERUSER_EMAIL` and `PLADMED_SUPERUSER_PASSWORD`: a superuser to create at
    /// startup unless the address has an account.
    pub superuser: Option<SuperuserSettings>,
}

/// The superuser created at startup (containers have no terminal to run the CLI in).
#[derive(Clone, PartialEq, Eq)]
pub struct SuperuserSettings {
    /// Login address.
    pub email: crate::accounts::Email,
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
    /// `PLADMED_AUTH_RATE_PER_MINUTE`: POST /login and /register per client address and minute
    /// (also the burst); more answer 429 with Retry-After.
    pub auth_rate_per_minute: u32,
    /// `PLADMED_WS_MAX_PER_ADDRESS`: open probe links per client address; more answer 429
    /// before the upgrade.
    pub ws_per_address: usize,
    /// `PLADMED_WS_MAX_CONNECTIONS`: open probe links in total; more answer 503 before the
    /// upgrade.
    pub ws_total: usize,
    /// `PLADMED_HELLO_TIMEOUT_S`: how long a probe has to say hello after the upgrade.
    pub hello_timeout: Duration,
    /// `PLADMED_PROBE_FRAMES_PER_S`: messages per second read from one probe link (also the
    /// burst); a faster probe is paced (not read until the rate allows), never closed.
    pub probe_frames_per_s: u32,
    /// `PLADMED_HEADER_TIMEOUT_S`: a connection must send a complete request head within this
    /// time, or it is closed.
    pub header_timeout: Duration,
    /// `PLADMED_REQUEST_TIMEOUT_S`: a request must be received and answered within this time,
    /// or it gets 408.
    pub request_timeout: Duration,
    /// `PLADMED_MAX_PROBES_PER_USER`: probes one account may register; more answer 403.
    pub probes_per_user: u32,
    /// `PLADMED_HASH_CONCURRENCY`: password hashes (Argon2id, 19 MiB each) computed at once;
    /// up to four times as many wait, more answer 503 with Retry-After.
    pub hash_concurrency: usize,
}

/// How the server watches its own clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSettings {
    /// `PLADMED_NTP_SERVER`: `host:port` of the NTP server to measure against (the co-located
    /// Chrony); a host name is resolved at every sample, so a restarted container is found again.
    pub ntp_server: String,
    /// `PLADMED_NTP_INTERVAL`: seconds between two samples.
    pub interval: Duration,
    /// `PLADMED_MAX_CLOCK_OFFSET_MS`: a larger |offset| is logged as a warning and makes the
    /// clock unhealthy.
    pub max_offset_ms: f64,
}

/// Every environment variable the settings read (README's configuration table lists them all,
/// and `tests/deployment.rs` checks the compose file sets no other).
pub const VARIABLES: &[&str] = &[
    "PLADMED_BIND",
    "PLADMED_MODE",
    "PLADMED_MONGODB_URI",
    "PLADMED_MONGODB_DATABASE",
    "PLADMED_DATA_DIR",
    "PLADMED_JWT_SECRET",
    "PLADMED_TOKEN_TTL_S",
    "PLADMED_MAX_FRAME_BYTES",
    "PLADMED_INGEST_MEMORY_BYTES",
    "PLADMED_HEARTBEAT_S",
    "PLADMED_CORS_ORIGINS",
    "PLADMED_INSTANCE",
    "PLADMED_PROBE_QUEUE",
    "PLADMED_NTP_SERVER",
    "PLADMED_NTP_INTERVAL",
    "PLADMED_MAX_CLOCK_OFFSET_MS",
    "PLADMED_HEALTH_CODE",
    "PLADMED_METRICS_CODE",
    "PLADMED_LOG",
    "PLADMED_AUTH_RATE_PER_MINUTE",
    "PLADMED_WS_MAX_PER_ADDRESS",
    "PLADMED_WS_MAX_CONNECTIONS",
    "PLADMED_HELLO_TIMEOUT_S",
    "PLADMED_PROBE_FRAMES_PER_S",
    "PLADMED_HEADER_TIMEOUT_S",
    "PLADMED_REQUEST_TIMEOUT_S",
    "PLADMED_SUPERUSER_EMAIL",
    "PLADMED_SUPERUSER_PASSWORD",
    "PLADMED_TRUSTED_PROXIES",
    "PLADMED_MAX_PROBES_PER_USER",
    "PLADMED_HASH_CONCURRENCY",
];

/// The variables that are secrets and may also be given as `NAME_FILE`.
pub const SECRETS: &[&str] = &[
    "PLADMED_MONGODB_URI",
    "PLADMED_JWT_SECRET",
    "PLADMED_HEALTH_CODE",
    "PLADMED_METRICS_CODE",
    "PLADMED_SUPERUSER_PASSWORD",
];

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
        let env = Env(&lookup);
        let mode = match env.get("PLADMED_MODE").as_deref() {
            None | Some("development") => Mode::Development,
            Some("production") => Mode::Production,
            Some(other) => {
                return Err(invalid(
                    "PLADMED_MODE",
                    format!("must be development or production, not {other:?}"),
                ))
            }
        };
        let jwt_secret = env.secret("PLADMED_JWT_SECRET")?;
        match &jwt_secret {
            None if mode == Mode::Production => {
                return Err(invalid(
                    "PLADMED_JWT_SECRET",
                    "is required in production mode",
                ))
            }
            Some(s) if s.len() < 32 => {
                return Err(invalid(
                    "PLADMED_JWT_SECRET",
                    "must be at least 32 characters",
                ))
            }
            _ => {}
        }
        let storage = match env.secret("PLADMED_MONGODB_URI")? {
            Some(uri) => StorageSettings::Mongo {
                uri,
                database: env
                    .get("PLADMED_MONGODB_DATABASE")
                    .unwrap_or_else(|| "pladmed".into()),
            },
            None => StorageSettings::Embedded {
                dir: env
                    .get("PLADMED_DATA_DIR")
                    .unwrap_or_else(|| "./data".into())
                    .into(),
            },
        };
        let cors = parse_cors(env.get("PLADMED_CORS_ORIGINS"), mode)?;
        let (health_code, metrics_code) = access_codes(&env, mode)?;
        Ok(Self {
            bind: env.parse(
                "PLADMED_BIND",
                "127.0.0.1:5000".parse().expect("valid default"),
            )?,
            mode,
            storage,
            jwt_secret,
            token_ttl: Duration::from_secs(env.bounded(
                "PLADMED_TOKEN_TTL_S",
                86_400,
                60,
                31_536_000,
            )?),
            max_frame_bytes: env.bounded("PLADMED_MAX_FRAME_BYTES", 16 << 20, 1024, 1 << 30)?
                as usize,
            ingest_memory_bytes: env.bounded(
                "PLADMED_INGEST_MEMORY_BYTES",
                256 << 20,
                1 << 20,
                u64::from(u32::MAX),
            )?,
            heartbeat: Duration::from_secs(env.bounded("PLADMED_HEARTBEAT_S", 20, 1, 3600)?),
            cors,
            instance: env
                .get("PLADMED_INSTANCE")
                .unwrap_or_else(|| "pladmed".into()),
            probe_queue: env.bounded("PLADMED_PROBE_QUEUE", 256, 1, 1 << 20)? as usize,
            clock: clock_settings(&env)?,
            health_code,
            metrics_code,
            log_filter: log_filter(&env)?,
            limits: limits(&env)?,
            trusted_proxies: env.parse("PLADMED_TRUSTED_PROXIES", TrustedProxies::default())?,
            superuser: superuser(&env)?,
        })
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

fn parse_cors(raw: Option<String>, mode: Mode) -> Result<CorsOrigins, ConfigError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") if mode == Mode::Development => Ok(CorsOrigins::Any),
        None | Some("") => Err(invalid(
            "PLADMED_CORS_ORIGINS",
            "is required in production mode (comma-separated origins, or *)",
        )),
        Some("*") => Ok(CorsOrigins::Any),
        Some(list) => {
            let origins: Vec<String> = list.split(',').map(|o| o.trim().to_string()).collect();
            match origins
                .iter()
                .find(|o| !(o.starts_with("http://") || o.starts_with("https://")))
            {
                Some(bad) => Err(invalid(
                    "PLADMED_CORS_ORIGINS",
                    format!("{bad:?} is not an origin like https://host[:port]"),
                )),
                None => Ok(CorsOrigins::List(origins)),
            }
        }
    }
}

fn clock_settings(env: &Env) -> Result<ClockSettings, ConfigError> {
    const VAR: &str = "PLADMED_NTP_SERVER";
    let ntp_server = env.get(VAR).unwrap_or_else(|| "127.0.0.1:123".into());
    match ntp_server.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
        _ => {
            return Err(invalid(
                VAR,
                format!("{ntp_server:?} is not host:port, e.g. chrony:123 or 127.0.0.1:123"),
            ))
        }
    }
    let max_offset_ms = env.bounded("PLADMED_MAX_CLOCK_OFFSET_MS", 100, 1, 3_600_000)? as f64;
    Ok(ClockSettings {
        ntp_server,
        interval: Duration::from_secs(env.bounded("PLADMED_NTP_INTERVAL", 64, 1, 86_400)?),
        max_offset_ms,
    })
}

fn limits(env: &Env) -> Result<Limits, ConfigError> {
    Ok(Limits {
        auth_rate_per_minute: env.bounded("PLADMED_AUTH_RATE_PER_MINUTE", 20, 1, 1_000_000)? as u32,
        ws_per_address: env.bounded("PLADMED_WS_MAX_PER_ADDRESS", 32, 1, 1 << 20)? as usize,
        ws_total: env.bounded("PLADMED_WS_MAX_CONNECTIONS", 10_000, 1, 1 << 24)? as usize,
        hello_timeout: Duration::from_secs(env.bounded("PLADMED_HELLO_TIMEOUT_S", 10, 1, 600)?),
        probe_frames_per_s: env.bounded("PLADMED_PROBE_FRAMES_PER_S", 500, 1, 1_000_000)? as u32,
        header_timeout: Duration::from_secs(env.bounded("PLADMED_HEADER_TIMEOUT_S", 10, 1, 600)?),
        request_timeout: Duration::from_secs(env.bounded(
            "PLADMED_REQUEST_TIMEOUT_S",
            60,
            1,
            3600,
        )?),
        probes_per_user: env.bounded("PLADMED_MAX_PROBES_PER_USER", 100, 1, 1_000_000)? as u32,
        hash_concurrency: env.bounded(
            "PLADMED_HASH_CONCURRENCY",
            default_hash_concurrency(),
            1,
            1024,
        )? as usize,
    })
}

/// One hash per core: Argon2 is CPU-bound, so more at once only adds memory and latency.
fn default_hash_concurrency() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(1024) as u64)
}

/// Both variables or neither; the address and the password must pass the /register rules.
fn superuser(env: &Env) -> Result<Option<SuperuserSettings>, ConfigError> {
    const EMAIL: &str = "PLADMED_SUPERUSER_EMAIL";
    const PASSWORD: &str = "PLADMED_SUPERUSER_PASSWORD";
    match (env.get(EMAIL), env.secret(PASSWORD)?) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(PASSWORD, format!("is required with {EMAIL}"))),
        (None, Some(_)) => Err(invalid(EMAIL, format!("is required with {PASSWORD}"))),
        (Some(email), Some(password)) => {
            let email = crate::accounts::Email::parse(&email).map_err(|e| invalid(EMAIL, e))?;
            crate::accounts::Password::parse(&password).map_err(|e| invalid(PASSWORD, e))?;
            Ok(Some(SuperuserSettings { email, password }))
        }
    }
}

fn log_filter(env: &Env) -> Result<String, ConfigError> {
    let filter = env.get("PLADMED_LOG").unwrap_or_else(|| "info".into());
    tracing_subscriber::EnvFilter::try_new(&filter)
        .map_err(|e| invalid("PLADMED_LOG", format!("{filter:?}: {e}")))?;
    Ok(filter)
}

/// Shortest health or metrics code: these travel in URLs and guard operational details, so
/// they must not be guessable.
const MIN_CODE_LEN: usize = 16;

/// The health and metrics codes. In production they must differ: the health code goes to
/// every uptime monitor and status page, and must not also open the metrics (inventory,
/// traffic), which only the metrics collector should read.
fn access_codes(env: &Env, mode: Mode) -> Result<(Option<String>, Option<String>), ConfigError> {
    let health = access_code(env, "PLADMED_HEALTH_CODE", mode)?;
    let metrics = access_code(env, "PLADMED_METRICS_CODE", mode)?;
    if mode == Mode::Production && health.is_some() && health == metrics {
        return Err(invalid(
            "PLADMED_METRICS_CODE",
            "must differ from PLADMED_HEALTH_CODE in production mode",
        ));
    }
    Ok((health, metrics))
}

/// A `?code=` secret; mandatory in production, where monitoring endpoints must never be open.
fn access_code(env: &Env, name: &str, mode: Mode) -> Result<Option<String>, ConfigError> {
    match env.secret(name)? {
        None if mode == Mode::Production => Err(invalid(name, "is required in production mode")),
        Some(code) if code.len() < MIN_CODE_LEN => Err(invalid(
            name,
            format!("must be at least {MIN_CODE_LEN} characters"),
        )),
        code => Ok(code),
    }
}

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }

    /// `NAME_FILE` (read from disk) wins over `NAME`.
    fn secret(&self, name: &str) -> Result<Option<String>, ConfigError> {
        let file_var = format!("{name}_FILE");
        match self.get(&file_var) {
            Some(path) => std::fs::read_to_string(&path)
                .map(|s| Some(s.trim().to_string()))
                .map_err(|e| invalid(&file_var, format!("cannot read {path}: {e}"))),
            None => Ok(self.get(name)),
        }
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => raw
                .parse()
                .map_err(|e| invalid(name, format!("{raw:?}: {e}"))),
        }
    }

    fn bounded(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let value = self.parse(name, default)?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(invalid(
                name,
                format!("must be between {min} and {max}, not {value}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeSet, HashMap};

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_a_local_development_server_on_the_embedded_store() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:5000");
        assert_eq!(s.mode, Mode::Development);
        assert_eq!(
            s.storage,
            StorageSettings::Embedded {
                dir: "./data".into()
            }
        );
        assert_eq!(s.cors, CorsOrigins::Any);
        assert_eq!(s.max_frame_bytes, 16 << 20);
        assert_eq!(s.ingest_memory_bytes, 256 << 20);
    }

    #[test]
    fn errors_name_the_variable() {
        for (var, value) in [
            ("PLADMED_BIND", "nowhere"),
            ("PLADMED_MODE", "staging"),
            ("PLADMED_HEARTBEAT_S", "0"),
            ("PLADMED_MAX_FRAME_BYTES", "ten"),
            ("PLADMED_INGEST_MEMORY_BYTES", "1000"),
            ("PLADMED_JWT_SECRET", "short"),
            ("PLADMED_CORS_ORIGINS", "example.org"),
            ("PLADMED_NTP_SERVER", "chrony"),
            ("PLADMED_NTP_SERVER", "chrony:ntp"),
            ("PLADMED_NTP_INTERVAL", "0"),
            ("PLADMED_MAX_CLOCK_OFFSET_MS", "-1"),
            ("PLADMED_HEALTH_CODE", "short"),
            ("PLADMED_METRICS_CODE", "short"),
            ("PLADMED_LOG", "pladmed=loud"),
            ("PLADMED_AUTH_RATE_PER_MINUTE", "0"),
            ("PLADMED_WS_MAX_PER_ADDRESS", "0"),
            ("PLADMED_WS_MAX_CONNECTIONS", "0"),
            ("PLADMED_HELLO_TIMEOUT_S", "0"),
            ("PLADMED_PROBE_FRAMES_PER_S", "0"),
            ("PLADMED_HEADER_TIMEOUT_S", "0"),
            ("PLADMED_REQUEST_TIMEOUT_S", "0"),
            ("PLADMED_TRUSTED_PROXIES", "10.0.0.0/8, nginx"),
        ] {
            let err = settings(&[(var, value)]).unwrap_err();
            assert_eq!(err.variable, var);
        }
    }

    #[test]
    fn production_requires_a_secret_and_origins() {
        let err = settings(&[("PLADMED_MODE", "production")]).unwrap_err();
        assert_eq!(err.variable, "PLADMED_JWT_SECRET");
        let secret = "s".repeat(32);
        let err = settings(&[
            ("PLADMED_MODE", "production"),
            ("PLADMED_JWT_SECRET", &secret),
        ]);
        assert_eq!(err.unwrap_err().variable, "PLADMED_CORS_ORIGINS");
        let production = [
            ("PLADMED_MODE", "production"),
            ("PLADMED_JWT_SECRET", secret.as_str()),
            ("PLADMED_CORS_ORIGINS", "https://pladmed.example.org"),
        ];
        let err = settings(&production).unwrap_err();
        assert_eq!(err.variable, "PLADMED_HEALTH_CODE");
        let code = "c".repeat(16);
        let with_health = [&production[..], &[("PLADMED_HEALTH_CODE", code.as_str())]].concat();
        assert_eq!(
            settings(&with_health).unwrap_err().variable,
            "PLADMED_METRICS_CODE"
        );
        let other = "m".repeat(16);
        let complete = [
            &with_health[..],
            &[("PLADMED_METRICS_CODE", other.as_str())],
        ]
        .concat();
        assert_eq!(settings(&complete).unwrap().mode, Mode::Production);
    }

    #[test]
    fn production_refuses_one_code_for_health_and_metrics() {
        let secret = "s".repeat(32);
        let code = "c".repeat(16);
        let mut vars = vec![
            ("PLADMED_JWT_SECRET", secret.as_str()),
            ("PLADMED_CORS_ORIGINS", "https://pladmed.example.org"),
            ("PLADMED_HEALTH_CODE", code.as_str()),
            ("PLADMED_METRICS_CODE", code.as_str()),
        ];
        assert!(settings(&vars).is_ok(), "development allows it");
        vars.push(("PLADMED_MODE", "production"));
        let err = settings(&vars).unwrap_err();
        assert_eq!(err.variable, "PLADMED_METRICS_CODE");
        assert!(err.message.contains("PLADMED_HEALTH_CODE"), "{err}");
    }

    #[test]
    fn modes_are_named_as_the_variable_spells_them() {
        assert_eq!(Mode::Development.as_str(), "development");
        assert_eq!(Mode::Production.as_str(), "production");
    }

    #[test]
    fn clock_defaults_measure_against_a_local_chrony() {
        let clock = settings(&[]).unwrap().clock;
        assert_eq!(clock.ntp_server, "127.0.0.1:123");
        assert_eq!(clock.interval, Duration::from_secs(64));
        assert_eq!(clock.max_offset_ms, 100.0);
        let clock = settings(&[("PLADMED_NTP_SERVER", "chrony:123")])
            .unwrap()
            .clock;
        assert_eq!(clock.ntp_server, "chrony:123");
    }

    /// Every name `from_lookup` asks for, with and without a MongoDB URI (which decides whether
    /// the database name or the data directory is read).
    fn names_read() -> BTreeSet<String> {
        let asked = RefCell::new(BTreeSet::new());
        for uri in [None, Some("mongodb://db")] {
            let _ = Settings::from_lookup(|name| {
                asked.borrow_mut().insert(name.to_string());
                (name == "PLADMED_MONGODB_URI").then(|| uri.map(str::to_string))?
            });
        }
        asked.into_inner()
    }

    #[test]
    fn the_variable_lists_are_exactly_what_the_settings_read() {
        let mut listed: BTreeSet<String> = VARIABLES.iter().map(|v| v.to_string()).collect();
        listed.extend(SECRETS.iter().map(|s| format!("{s}_FILE")));
        assert_eq!(names_read(), listed);
        assert!(SECRETS.iter().all(|s| VARIABLES.contains(s)));
    }

    #[test]
    fn access_codes_may_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics-code");
        std::fs::write(&path, "m".repeat(20)).unwrap();
        let s = settings(&[("PLADMED_METRICS_CODE_FILE", path.to_str().unwrap())]).unwrap();
        assert_eq!(s.metrics_code.unwrap(), "m".repeat(20));
        assert_eq!(s.health_code, None);
    }

    #[test]
    fn secret_file_wins_over_variable_and_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, format!("{}\n", "f".repeat(40))).unwrap();
        let s = settings(&[
            ("PLADMED_JWT_SECRET", &"v".repeat(40)),
            ("PLADMED_JWT_SECRET_FILE", path.to_str().unwrap()),
        ])
        .unwrap();
        assert_eq!(s.jwt_secret.unwrap(), "f".repeat(40));
        let err = settings(&[("PLADMED_JWT_SECRET_FILE", "/nonexistent/secret")]).unwrap_err();
        assert_eq!(err.variable, "PLADMED_JWT_SECRET_FILE");
    }
}
