//! The link to the coordinator: one WebSocket at a time, reopened after every drop.
//!
//! `session` runs one connection (hello, welcome, then operations in and results out),
//! `delivery` decides what is due on it, `writer` is the single task writing to it. Between
//! connections the probe keeps measuring: results wait in the outbox and go out on the next
//! link. Only two refusals end the probe: a token the coordinator does not accept (4001) and
//! a newer link of the same probe (4003); retrying either would never help, and the second
//! would make two probe processes push each other off forever.

mod delivery;
mod session;
mod writer;

use crate::backoff::Backoff;
use crate::clock::Clock;
use crate::config::{ProbeToken, ServerUrl};
use crate::ledger::Ledger;
use crate::outbox::Outbox;
use crate::scheduler::Scheduler;
use session::Ended;
use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// First delay before reconnecting.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// Everything a link needs.
#[derive(Debug, Clone)]
pub struct Context {
    /// Where to connect: instances of one deployment, tried in turn (never empty).
    pub servers: Vec<ServerUrl>,
    /// The certificates trusted for wss:// servers.
    pub tls: Arc<rustls::ClientConfig>,
    /// The probe's token.
    pub token: ProbeToken,
    /// Capacity offered in `hello`.
    pub total_credits: NonZeroU64,
    /// For `hello.clock_offset_ms`.
    pub clock: Clock,
    /// Operations taken on (their progress is announced).
    pub ledger: Arc<Ledger>,
    /// Results to deliver.
    pub outbox: Arc<Outbox>,
    /// Where received operations go.
    pub scheduler: Scheduler,
    /// Notified when the ledger or the outbox has something to send.
    pub outgoing: Arc<Notify>,
    /// Longest wait between reconnection attempts.
    pub max_reconnect: Duration,
}

/// The coordinator refused this probe for good.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Close code 4001.
    #[error("the coordinator refused the probe token ({0}); ask the probe's owner for its current token")]
    Unauthorized(String),
    /// Close code 4003.
    #[error("another connection of this probe replaced this one ({0}); is a second probe running with the same token?")]
    Superseded(String),
}

/// Keeps a link up until `cancel` (then `Ok`) or a refusal. After a drop the next server of
/// the list is tried: when an instance dies, its probes move to the others, and it is tried
/// again only after them.
pub async fn run(context: &Context, cancel: &CancellationToken) -> Result<(), Refused> {
    let mut backoff = Backoff::new(FIRST_RETRY, context.max_reconnect);
    let mut servers = context.servers.iter().cycle();
    loop {
        let server = servers.next().expect("at least one server");
        match session::serve(context, server, cancel).await {
            Ended::Shutdown => return Ok(()),
            Ended::Refused(refused) => return Err(refused),
            Ended::Dropped { welcomed, reason } => {
                if welcomed {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "link down");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}
