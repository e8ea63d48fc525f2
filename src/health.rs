//! GET /health: whether this instance can do its work, in the shape of the EOSC backup
//! repository service's health endpoint, so the same monitoring probes read both:
//!
//! `{"status": [{"database": true, "ntp": true, "hub": true}], "messages": [{"database": [],
//! "ntp": ["offset 0.4 ms, ..."], "hub": []}], "global_status": true, "ident": ["pladmed 0.1.0",
//! "INSTANCE"]}`.
//!
//! Each check does real work (a database round trip and a marker written and deleted, the age
//! of the last NTP sample) within [`CHECK_TIMEOUT`], so a hung database answers "unhealthy"
//! instead of hanging the monitor.

use crate::state::AppState;
use chrono::Utc;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// How long the database may take to answer a ping and a marker write (and, for GET /metrics,
/// to count its records).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The health document.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthReport {
    /// One object with each check's verdict.
    pub status: [CheckStatus; 1],
    /// One object with each check's messages: problems, or the clock measurement.
    pub messages: [CheckMessages; 1],
    /// Every check passed.
    pub global_status: bool,
    /// `pladmed VERSION` and the instance name.
    pub ident: [String; 2],
}

/// Each check's verdict.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckStatus {
    /// The store answered a ping and wrote (then deleted) a marker, in time.
    pub database: bool,
    /// A recent NTP sample exists and its offset is within `PLADMED_MAX_CLOCK_OFFSET_MS`.
    pub ntp: bool,
    /// The hub can deliver to probes.
    pub hub: bool,
}

/// Each check's messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckMessages {
    /// Why the database check failed, if it did.
    pub database: Vec<String>,
    /// The last clock measurement, or why there is none.
    pub ntp: Vec<String>,
    /// Why the hub check failed, if it did.
    pub hub: Vec<String>,
}

/// One check's outcome.
struct Verdict {
    ok: bool,
    messages: Vec<String>,
}

impl Verdict {
    fn from_result(result: Result<(), String>) -> Self {
        match result {
            Ok(()) => Verdict {
                ok: true,
                messages: Vec::new(),
            },
            Err(message) => Verdict {
                ok: false,
                messages: vec![message],
            },
        }
    }
}

/// Runs every check.
pub async fn check(state: &AppState) -> HealthReport {
    let database = Verdict::from_result(database(state).await);
    let clock = state.clock.health(Utc::now());
    let ntp = Verdict {
        ok: clock.healthy,
        messages: vec![clock.message],
    };
    let hub = Verdict::from_result(state.hub.check());
    if !(database.ok && ntp.ok && hub.ok) {
        tracing::warn!(
            database = database.ok,
            ntp = ntp.ok,
            hub = hub.ok,
            "health check failed"
        );
    }
    HealthReport {
        status: [CheckStatus {
            database: database.ok,
            ntp: ntp.ok,
            hub: hub.ok,
        }],
        global_status: database.ok && ntp.ok && hub.ok,
        messages: [CheckMessages {
            database: database.messages,
            ntp: ntp.messages,
            hub: hub.messages,
        }],
        ident: [
            format!("pladmed {}", env!("CARGO_PKG_VERSION")),
            state.settings.instance.clone(),
        ],
    }
}

/// A ping, then a marker written and deleted: a store that answers but cannot write (full
/// disk, lost primary, refused writes) cannot store results, so it is not healthy.
async fn database(state: &AppState) -> Result<(), String> {
    let marker = format!(
        "health-{}-{:016x}",
        state.settings.instance,
        rand::random::<u64>()
    );
    let check = async {
        state.store.ping().await.map_err(|e| e.to_string())?;
        state
            .store
            .write_marker(&marker)
            .await
            .map_err(|e| format!("answers but cannot write: {e}"))
    };
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "no answer within {} s",
            CHECK_TIMEOUT.as_secs_f64()
        )),
    }
}
