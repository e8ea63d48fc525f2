//! Closes the links of this instance whose probe changed behind its back: revoked or removed
//! through another instance, or by `pladmed probe revoke` writing to MongoDB directly. What
//! this instance does itself it kicks at once (`revocation`); this catches the rest within one
//! period.
//!
//! The store is the judge: revoking clears a probe's link, removing deletes the probe, and a
//! newer link elsewhere replaces the session. A link this hub holds whose probe's stored link
//! is not that session is stale and is closed. One `probes_by_id` round trip per period for all
//! the links here.

use crate::hub::{kick, Hub};
use crate::store::{Store, StoreResult};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Audits every `period` until `shutdown` resolves.
pub async fn run(
    store: Arc<dyn Store>,
    hub: Arc<dyn Hub>,
    period: Duration,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if let Err(error) = audit(store.as_ref(), hub.as_ref()).await {
                    tracing::debug!(%error, "link audit skipped: store unavailable");
                }
            }
            () = &mut shutdown => return,
        }
    }
}

/// Closes the stale links held here; returns how many.
pub async fn audit(store: &dyn Store, hub: &dyn Hub) -> StoreResult<usize> {
    let links = hub.links();
    if links.is_empty() {
        return Ok(0);
    }
    let ids: Vec<_> = links.iter().map(|(probe, _)| *probe).collect();
    let stored = store.probes_by_id(&ids).await?;
    let mut closed = 0;
    for ((probe, session), stored) in links.iter().zip(stored) {
        let close = match stored {
            None => kick::REMOVED,
            Some(p) => match p.link {
                None => kick::REVOKED,
                Some(link) if &link.session != session => kick::SUPERSEDED,
                Some(_) => continue,
            },
        };
        let reason = close.reason.clone();
        if hub.kick_session(*probe, session, close) {
            tracing::info!(probe = %probe, session = %session.0, %reason, "stale probe link closed");
            closed += 1;
        }
    }
    Ok(closed)
}
