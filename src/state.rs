//! What every request handler and probe link shares.

use crate::accounts::{PasswordHashing, TokenKeys};
use crate::clock::Clock;
use crate::config::Settings;
use crate::hub::Hub;
use crate::probes::ProbeListCache;
use crate::store::Store;
use crate::telemetry::Telemetry;
use std::sync::Arc;
use tokio_util::task::TaskTracker;

/// Shared services of one server instance. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Persistence, observed (`store::ObservedStore`): failures are counted into `telemetry`,
    /// probe changes invalidate `probe_list`.
    pub store: Arc<dyn Store>,
    /// Fan-out to connected probes.
    pub hub: Arc<dyn Hub>,
    /// Token signing and checking.
    pub tokens: TokenKeys,
    /// Settings the server started with.
    pub settings: Arc<Settings>,
    /// Every probe link task, so that shutdown can wait for them to finish their writes.
    pub links: TaskTracker,
    /// Counters reported by GET /metrics.
    pub telemetry: Arc<Telemetry>,
    /// The server's clock against the NTP server, for GET /health and /metrics.
    pub clock: Clock,
    /// The bound on concurrent password hashes (register, login).
    pub hashing: PasswordHashing,
    /// Live result streams: their cap, and their end at shutdown.
    pub streams: crate::api::Streams,
    /// GET /probes, rendered once per change of the probes.
    pub probe_list: Arc<ProbeListCache>,
    /// The per-probe price of recent operations, for `accepted` and `finished`.
    pub prices: crate::operations::Prices,
}
