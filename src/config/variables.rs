//! Every environment variable, declared once: its name, type, default, bounds and meaning.
//!
//! The declaration is a clap command: each field is an option whose `env` is the variable, so
//! clap checks types and bounds and fills in defaults. [`read`] does not let clap look at the
//! process environment; it takes each value from a lookup and hands it over as `--long=value`,
//! so `Settings::from_lookup` stays hermetic in tests. Two clap flags carry our own meaning:
//! `hide_env_values` marks a secret (also readable from `NAME_FILE`), and `hide_default_value`
//! a default that depends on the machine (README describes it in words).
//!
//! To add a variable: add a field here (doc, `env`, default, bounds), and use it where
//! [`super::validate`] builds the settings; README's table row follows (a test compares them).

use super::{invalid, ConfigError, Mode};
use crate::accounts::Password;
use crate::client::TrustedProxies;
use crate::domain::Email;
use clap::builder::RangedU64ValueParser;
use clap::error::{ContextKind, ContextValue};
use clap::{CommandFactory, FromArgMatches, Parser};
use probe_protocol::NtpServer;
use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// The raw values, typed and within bounds; cross-checks come after (`validate`).
#[derive(Debug, Parser)]
#[command(no_binary_name = true, disable_help_flag = true)]
pub(super) struct Variables {
    /// Listen address.
    #[arg(long, env = "PLADMED_BIND", default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// `development` or `production`.
    #[arg(long, env = "PLADMED_MODE", value_enum, default_value_t = Mode::Development)]
    pub mode: Mode,
    /// MongoDB connection string; unset: the embedded store.
    #[arg(long, env = "PLADMED_MONGODB_URI", hide_env_values = true)]
    pub mongodb_uri: Option<String>,
    /// MongoDB database name.
    #[arg(long, env = "PLADMED_MONGODB_DATABASE", default_value = "pladmed")]
    pub mongodb_database: String,
    /// Redis connection string (`redis://[:password@]host:port[/db]`) of the hub shared by
    /// several instances; unset: the hub is in-process. Requires MongoDB.
    #[arg(long, env = "PLADMED_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Embedded store directory (used when no MongoDB URI is set).
    #[arg(long, env = "PLADMED_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// HS256 key for user and probe tokens; required in production, random in development.
    #[arg(long, env = "PLADMED_JWT_SECRET", hide_env_values = true,
          value_parser = at_least::<32>)]
    pub jwt_secret: Option<String>,
    /// Lifetime of user tokens, seconds.
    #[arg(long, env = "PLADMED_TOKEN_TTL_S", default_value_t = 86_400,
          value_parser = within::<u64>(60..=31_536_000))]
    pub token_ttl_s: u64,
    /// The original pladmed-backend's `SECRET_KEY`: its probe and user tokens (which never
    /// expire) are accepted as long as this is set; unset once they have been rotated.
    #[arg(long, env = "PLADMED_LEGACY_SECRET_KEY", hide_env_values = true)]
    pub legacy_secret_key: Option<String>,
    /// Largest WebSocket message accepted from a probe.
    #[arg(long, env = "PLADMED_MAX_FRAME_BYTES", default_value_t = 16 << 20,
          value_parser = within::<usize>(1024..=1 << 30))]
    pub max_frame_bytes: usize,
    /// Bytes of result frames in flight across all probe links, from a frame's read until its
    /// write completed; past it, links are not read until bytes are released.
    #[arg(long, env = "PLADMED_INGEST_MEMORY_BYTES", default_value_t = 256 << 20,
          value_parser = within::<u64>(1 << 20..=u64::from(u32::MAX)))]
    pub ingest_memory_bytes: u64,
    /// Ping period on probe links, seconds; a ping unanswered by the next drops the probe.
    #[arg(long, env = "PLADMED_HEARTBEAT_S", default_value_t = 20,
          value_parser = within::<u64>(1..=3600))]
    pub heartbeat_s: u64,
    /// Comma-separated browser origins allowed, or `*`; required in production.
    #[arg(long, env = "PLADMED_CORS_ORIGINS")]
    pub cors_origins: Option<String>,
    /// Name of this instance, recorded with each probe link.
    #[arg(long, env = "PLADMED_INSTANCE", default_value = "pladmed")]
    pub instance: String,
    /// Frames queued per probe before it is dropped as too slow.
    #[arg(long, env = "PLADMED_PROBE_QUEUE", default_value_t = 256,
          value_parser = within::<usize>(1..=1 << 20))]
    pub probe_queue: usize,
    /// `host[:port]` of the NTP server to measure the clock against (the co-located Chrony);
    /// port 123 when omitted. A host name is resolved at every sample, so a restarted
    /// container is found again.
    #[arg(long, env = "PLADMED_NTP_SERVER", default_value = "127.0.0.1:123")]
    pub ntp_server: NtpServer,
    /// Seconds between two clock samples.
    #[arg(long, env = "PLADMED_NTP_INTERVAL", default_value_t = 64,
          value_parser = within::<u64>(1..=86_400))]
    pub ntp_interval: u64,
    /// A larger |clock offset| (ms) is logged as a warning and makes the clock unhealthy.
    #[arg(long, env = "PLADMED_MAX_CLOCK_OFFSET_MS", default_value_t = 100,
          value_parser = within::<u64>(1..=3_600_000))]
    pub max_clock_offset_ms: u64,
    /// The `?code=` GET /health requires; required in production, open when unset.
    #[arg(long, env = "PLADMED_HEALTH_CODE", hide_env_values = true,
          value_parser = at_least::<MIN_CODE_LEN>)]
    pub health_code: Option<String>,
    /// The `?code=` GET /metrics requires; required in production (and unlike the health
    /// code), open when unset.
    #[arg(long, env = "PLADMED_METRICS_CODE", hide_env_values = true,
          value_parser = at_least::<MIN_CODE_LEN>)]
    pub metrics_code: Option<String>,
    /// Log filter in `tracing` env-filter syntax, e.g. `info,pladmed=debug`.
    #[arg(long, env = "PLADMED_LOG", default_value = "info", value_parser = log_filter)]
    pub log: String,
    /// POST /login and /register per client address and minute (also the burst); more answer
    /// 429 with Retry-After.
    #[arg(long, env = "PLADMED_AUTH_RATE_PER_MINUTE", default_value_t = 20,
          value_parser = within::<u32>(1..=1_000_000))]
    pub auth_rate_per_minute: u32,
    /// Open probe links per client address; more answer 429 before the upgrade.
    #[arg(long, env = "PLADMED_WS_MAX_PER_ADDRESS", default_value_t = 32,
          value_parser = within::<usize>(1..=1 << 20))]
    pub ws_max_per_address: usize,
    /// Open probe links in total; more answer 503 before the upgrade.
    #[arg(long, env = "PLADMED_WS_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = within::<usize>(1..=1 << 24))]
    pub ws_max_connections: usize,
    /// Seconds a probe has to say hello after the upgrade.
    #[arg(long, env = "PLADMED_HELLO_TIMEOUT_S", default_value_t = 10,
          value_parser = within::<u64>(1..=600))]
    pub hello_timeout_s: u64,
    /// Messages per second read from one probe link (also the burst); a faster probe is paced
    /// (not read until the rate allows), never closed.
    #[arg(long, env = "PLADMED_PROBE_FRAMES_PER_S", default_value_t = 500,
          value_parser = within::<u32>(1..=1_000_000))]
    pub probe_frames_per_s: u32,
    /// Seconds a connection has to send a complete request head, or it is closed.
    #[arg(long, env = "PLADMED_HEADER_TIMEOUT_S", default_value_t = 10,
          value_parser = within::<u64>(1..=600))]
    pub header_timeout_s: u64,
    /// Seconds a request has to be received and answered, or it gets 408.
    #[arg(long, env = "PLADMED_REQUEST_TIMEOUT_S", default_value_t = 60,
          value_parser = within::<u64>(1..=3600))]
    pub request_timeout_s: u64,
    /// Live result streams (GET /operations/{id}/stream) open at once on this instance; more
    /// answer 503 with Retry-After. Each reads the store about twice a second.
    #[arg(long, env = "PLADMED_MAX_STREAMS", default_value_t = 200,
          value_parser = within::<usize>(1..=100_000))]
    pub max_streams: usize,
    /// Probes one account may register; more answer 403.
    #[arg(long, env = "PLADMED_MAX_PROBES_PER_USER", default_value_t = 100,
          value_parser = within::<u32>(1..=1_000_000))]
    pub max_probes_per_user: u32,
    /// Password hashes (Argon2id, 19 MiB each) computed at once; up to four times as many
    /// wait, more answer 503 with Retry-After. Default: one per core (Argon2 is CPU-bound, so
    /// more at once only adds memory and latency).
    #[arg(long, env = "PLADMED_HASH_CONCURRENCY", hide_default_value = true,
          default_value_t = default_hash_concurrency(), value_parser = within::<usize>(1..=1024))]
    pub hash_concurrency: usize,
    /// Comma-separated CIDRs (or addresses) of reverse proxies whose forwarding headers name
    /// the client.
    #[arg(long, env = "PLADMED_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<TrustedProxies>,
    /// With the password: a superuser created at startup unless the address has an account.
    #[arg(long, env = "PLADMED_SUPERUSER_EMAIL", value_parser = Email::parse)]
    pub superuser_email: Option<Email>,
    /// That superuser's password (the /register policy).
    #[arg(long, env = "PLADMED_SUPERUSER_PASSWORD", hide_env_values = true,
          value_parser = password)]
    pub superuser_password: Option<String>,
}

/// Shortest health or metrics code: these travel in URLs and guard operational details, so
/// they must not be guessable.
const MIN_CODE_LEN: usize = 16;

/// A whole number of the field's type in `range`.
fn within<T: TryFrom<u64>>(range: RangeInclusive<u64>) -> RangedU64ValueParser<T> {
    RangedU64ValueParser::new().range(range)
}

/// A secret of at least `N` characters.
fn at_least<const N: usize>(raw: &str) -> Result<String, String> {
    if raw.len() < N {
        return Err(format!("must be at least {N} characters"));
    }
    Ok(raw.to_string())
}

fn log_filter(raw: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(raw).map_err(|e| e.to_string())?;
    Ok(raw.to_string())
}

fn password(raw: &str) -> Result<String, &'static str> {
    Password::parse(raw).map(|_| raw.to_string())
}

/// One hash per core.
fn default_hash_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(1024))
}

/// One declared variable, as README's configuration table and the deployment tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// The environment variable, e.g. `PLADMED_BIND`.
    pub name: String,
    /// A secret: may also be given as `NAME_FILE`.
    pub secret: bool,
    /// The default as it is written in the environment; `None` when there is none, or when it
    /// depends on the machine or on other variables.
    pub default: Option<String>,
    /// What it is for (the declaration's doc comment).
    pub help: String,
}

/// Every variable, in declaration order.
pub fn variables() -> Vec<Variable> {
    Variables::command()
        .get_arguments()
        .filter_map(|arg| {
            let name = arg.get_env()?.to_str()?.to_string();
            let default = match arg.get_default_values() {
                [value] if !arg.is_hide_default_value_set() => {
                    Some(value.to_string_lossy().into_owned())
                }
                _ => None,
            };
            Some(Variable {
                name,
                secret: arg.is_hide_env_values_set(),
                default,
                help: arg.get_help().map(ToString::to_string).unwrap_or_default(),
            })
        })
        .collect()
}

/// The variables through `lookup`: an empty value counts as unset, and a secret's `NAME_FILE`
/// (read from disk, trimmed) wins over `NAME`, so container secrets override stray defaults.
pub(super) fn read(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Variables, ConfigError> {
    let mut declared = Variables::command();
    // Built, so that each argument displays as clap's errors name it (`blame`).
    declared.build();
    let mut args: Vec<OsString> = Vec::new();
    for arg in declared.get_arguments() {
        let (Some(name), Some(long)) = (arg.get_env().and_then(OsStr::to_str), arg.get_long())
        else {
            continue;
        };
        let from_file = match arg.is_hide_env_values_set() {
            true => secret_file(lookup, name)?,
            false => None,
        };
        let value = from_file.or_else(|| lookup(name).filter(|v| !v.is_empty()));
        if let Some(value) = value {
            args.push(format!("--{long}={value}").into());
        }
    }
    let matches = hermetic(&declared)
        .try_get_matches_from(args)
        .map_err(|e| blame(&declared, &e))?;
    Variables::from_arg_matches(&matches).map_err(|e| blame(&declared, &e))
}

/// The declared command without its `env` links: the arguments [`read`] builds are all clap
/// sees, so the process environment never slips past the lookup.
pub(super) fn hermetic(declared: &clap::Command) -> clap::Command {
    declared.clone().mut_args(|arg| arg.env(None))
}

/// The content of the secret's `NAME_FILE`, when that variable is set.
fn secret_file(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &str,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match lookup(&file_var).filter(|path| !path.is_empty()) {
        None => Ok(None),
        Some(path) => std::fs::read_to_string(&path)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| invalid(&file_var, format!("cannot read {path}: {e}"))),
    }
}

/// A clap error as a [`ConfigError`] naming the variable whose value it refused.
fn blame(declared: &clap::Command, error: &clap::Error) -> ConfigError {
    let text = |kind| match error.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let arg = text(ContextKind::InvalidArg)
        .and_then(|shown| declared.get_arguments().find(|a| a.to_string() == shown));
    let variable = arg.and_then(|a| a.get_env()).map_or_else(
        || "environment".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    // A secret's value is never repeated: the message goes to the logs.
    let value = match arg.is_some_and(|a| a.is_hide_env_values_set()) {
        true => String::new(),
        false => text(ContextKind::InvalidValue).map_or_else(String::new, |v| format!("{v:?}: ")),
    };
    let message = match (
        error.get(ContextKind::ValidValue),
        std::error::Error::source(error),
    ) {
        (Some(ContextValue::Strings(valid)), _) => {
            format!("{value}must be {}", valid.join(" or "))
        }
        (_, Some(reason)) => format!("{value}{reason}"),
        (_, None) => format!("{value}{}", error.kind()),
    };
    invalid(&variable, message)
}
