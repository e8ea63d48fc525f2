//! From the declared variables to [`Settings`]: what one variable alone cannot decide.
//!
//! Production makes the JWT secret, the CORS origins and the health and metrics codes
//! mandatory; the MongoDB URI chooses the store; the superuser needs both its variables.

use super::variables::Variables;
use super::{
    invalid, ClockSettings, ConfigError, CorsOrigins, Limits, Mode, Settings, StorageSettings,
    SuperuserSettings,
};
use std::time::Duration;

/// A shared hub needs a shared store: the embedded one belongs to one process. The URL is
/// parsed now so that a typo fails startup, not every reconnection; the error does not repeat
/// it (it may hold a password).
fn redis_url(url: Option<String>, mongodb: bool) -> Result<Option<String>, ConfigError> {
    let Some(url) = url else { return Ok(None) };
    if !mongodb {
        return Err(invalid(
            "PLADMED_REDIS_URL",
            "requires PLADMED_MONGODB_URI: instances sharing a hub must share the store, and the embedded store belongs to one process",
        ));
    }
    redis::Client::open(url.as_str()).map_err(|e| {
        invalid(
            "PLADMED_REDIS_URL",
            format!("is not a redis:// URL ({:?})", e.kind()),
        )
    })?;
    Ok(Some(url))
}

pub(super) fn settings(v: Variables) -> Result<Settings, ConfigError> {
    let mode = v.mode;
    let production = mode == Mode::Production;
    if production && v.jwt_secret.is_none() {
        return Err(invalid(
            "PLADMED_JWT_SECRET",
            "is required in production mode",
        ));
    }
    let cors = cors(v.cors_origins.as_deref(), mode)?;
    for (name, code) in [
        ("PLADMED_HEALTH_CODE", &v.health_code),
        ("PLADMED_METRICS_CODE", &v.metrics_code),
    ] {
        if production && code.is_none() {
            return Err(invalid(name, "is required in production mode"));
        }
    }
    // The health code goes to every uptime monitor and status page, and must not also open the
    // metrics (inventory, traffic), which only the metrics collector should read.
    if production && v.health_code == v.metrics_code {
        return Err(invalid(
            "PLADMED_METRICS_CODE",
            "must differ from PLADMED_HEALTH_CODE in production mode",
        ));
    }
    let redis_url = redis_url(v.redis_url, v.mongodb_uri.is_some())?;
    Ok(Settings {
        bind: v.bind,
        mode,
        storage: match v.mongodb_uri {
            Some(uri) => StorageSettings::Mongo {
                uri,
                database: v.mongodb_database,
            },
            None => StorageSettings::Embedded { dir: v.data_dir },
        },
        jwt_secret: v.jwt_secret,
        token_ttl: Duration::from_secs(v.token_ttl_s),
        legacy_secret_key: v.legacy_secret_key,
        max_frame_bytes: v.max_frame_bytes,
        ingest_memory_bytes: v.ingest_memory_bytes,
        heartbeat: Duration::from_secs(v.heartbeat_s),
        cors,
        instance: v.instance,
        redis_url,
        probe_queue: v.probe_queue,
        clock: ClockSettings {
            ntp_server: v.ntp_server,
            interval: Duration::from_secs(v.ntp_interval),
            max_offset_ms: v.max_clock_offset_ms as f64,
        },
        health_code: v.health_code,
        metrics_code: v.metrics_code,
        log_filter: v.log,
        limits: Limits {
            auth_rate_per_minute: v.auth_rate_per_minute,
            ws_per_address: v.ws_max_per_address,
            ws_total: v.ws_max_connections,
            hello_timeout: Duration::from_secs(v.hello_timeout_s),
            probe_frames_per_s: v.probe_frames_per_s,
            header_timeout: Duration::from_secs(v.header_timeout_s),
            request_timeout: Duration::from_secs(v.request_timeout_s),
            probes_per_user: v.max_probes_per_user,
            streams: v.max_streams,
            hash_concurrency: v.hash_concurrency,
        },
        trusted_proxies: v.trusted_proxies.unwrap_or_default(),
        superuser: superuser(v.superuser_email, v.superuser_password)?,
    })
}

/// `*` or origins like `https://host[:port]`; unset means any origin, in development only.
fn cors(raw: Option<&str>, mode: Mode) -> Result<CorsOrigins, ConfigError> {
    const VAR: &str = "PLADMED_CORS_ORIGINS";
    match raw.map(str::trim) {
        None | Some("") if mode == Mode::Development => Ok(CorsOrigins::Any),
        None | Some("") => Err(invalid(
            VAR,
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
                    VAR,
                    format!("{bad:?} is not an origin like https://host[:port]"),
                )),
                None => Ok(CorsOrigins::List(origins)),
            }
        }
    }
}

/// Both variables or neither (each is already checked against the /register rules).
fn superuser(
    email: Option<crate::domain::Email>,
    password: Option<String>,
) -> Result<Option<SuperuserSettings>, ConfigError> {
    const EMAIL: &str = "PLADMED_SUPERUSER_EMAIL";
    const PASSWORD: &str = "PLADMED_SUPERUSER_PASSWORD";
    match (email, password) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(PASSWORD, format!("is required with {EMAIL}"))),
        (None, Some(_)) => Err(invalid(EMAIL, format!("is required with {PASSWORD}"))),
        (Some(email), Some(password)) => Ok(Some(SuperuserSettings { email, password })),
    }
}
