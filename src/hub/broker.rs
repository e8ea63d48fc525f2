//! [`RedisHub`]: several instances sharing one hub through Redis pub/sub.
//!
//! Each instance keeps its own probes' mailboxes in a [`LocalHub`] and acts on its own calls
//! at once. What other instances must also do is published once on one channel: an operation's
//! frame with the list of its probes (encoded once, whatever the number of probes or
//! instances), a probe's new link so that an older link elsewhere is closed with 4003, and a
//! kick (tokens revoked, probe removed) so that its link is closed wherever it is.
//! Every instance subscribes and delivers to the mailboxes it holds, through the same
//! [`LocalHub::deliver`] as local calls, so a slow probe is handled as before.
//!
//! Redis carries no state. Presence (connected, credits, clock offset) is the probe's link in
//! the store, which every instance reads; operations are assignments in the store before they
//! are published. So a broker outage loses nothing: what an instance could not publish waits in
//! its bounded queue and goes out once it reconnects (covering an outage of its own connection
//! only), and on reconnecting each instance also re-sends the pending operations of the probes
//! linked to it (covering what pub/sub dropped on the way to it), as a link-up does. A probe
//! treats an operation it already has as a no-op.

use super::envelope::Envelope;
use super::{kick, Frame, Hub, LocalHub, Mailbox};
use crate::domain::ProbeId;
use crate::store::{SessionId, Store};
use chrono::Utc;
use futures::StreamExt;
use probe_protocol::CloseReason;
use redis::aio::{MultiplexedConnection, PubSubStream};
use redis::AsyncCommands;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest wait for Redis to answer a connect, publish or ping before the broker counts as
/// down.
const BROKER_TIMEOUT: Duration = Duration::from_secs(3);
/// How often an idle connection is pinged, to notice a broker that vanished silently.
const PING_PERIOD: Duration = Duration::from_secs(2);
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Messages kept for the broker while it is slow or down; past it they are dropped, and the
/// re-sending of pending operations on reconnection delivers what they carried.
const QUEUE: usize = 10_000;

/// A hub whose deliveries and link changes reach the other instances through Redis.
pub struct RedisHub {
    shared: Arc<Shared>,
    outbox: mpsc::Sender<Vec<u8>>,
}

/// What the hub and its broker task share.
struct Shared {
    local: LocalHub,
    /// Names this process in its messages (unique even if two instances share a name).
    origin: String,
    /// Why the broker is unusable, or `None` while connected and subscribed.
    down: RwLock<Option<String>>,
    store: Arc<dyn Store>,
}

impl RedisHub {
    /// A hub publishing on `channel` of the Redis at `url`. It starts disconnected and
    /// connects in the background, retrying until the process ends; [`Hub::check`] says
    /// whether it is connected.
    pub fn start(
        url: &str,
        channel: String,
        store: Arc<dyn Store>,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let shared = Arc::new(Shared {
            local: LocalHub::new(),
            origin: bson::oid::ObjectId::new().to_hex(),
            down: RwLock::new(Some("not connected yet".into())),
            store,
        });
        let (outbox, queued) = mpsc::channel(QUEUE);
        tokio::spawn(run(client, channel, shared.clone(), queued));
        Ok(Self { shared, outbox })
    }

    /// Queues `envelope` for the other instances, without waiting.
    fn publish(&self, envelope: Envelope) {
        if self
            .outbox
            .try_send(envelope.encode(&self.shared.origin))
            .is_err()
        {
            tracing::debug!(
                "broker queue full: message dropped, re-sent from the store on reconnection"
            );
        }
    }
}

impl Hub for RedisHub {
    fn attach(&self, probe: ProbeId, mailbox: Mailbox) {
        let session = mailbox.session.clone();
        self.shared.local.attach(probe, mailbox);
        self.publish(Envelope::Supersede { probe, session });
    }

    fn detach(&self, probe: ProbeId, session: &SessionId) {
        self.shared.local.detach(probe, session);
    }

    fn deliver(&self, probes: &[ProbeId], frame: Frame) -> usize {
        let delivered = self.shared.local.deliver(probes, frame.clone());
        // Every probe linked here already has it: nothing for the other instances.
        if delivered < probes.len() {
            self.publish(Envelope::Deliver {
                probes: probes.to_vec(),
                frame,
            });
        }
        delivered
    }

    fn kick(&self, probe: ProbeId, kick: CloseReason) -> bool {
        let here = self.shared.local.kick(probe, kick.clone());
        // The probe may be linked to another instance: it closes that link at once, rather
        // than at its next link audit.
        self.publish(Envelope::Kick {
            probe,
            reason: kick,
        });
        here
    }

    fn kick_session(&self, probe: ProbeId, session: &SessionId, kick: CloseReason) -> bool {
        self.shared.local.kick_session(probe, session, kick)
    }

    fn links(&self) -> Vec<(ProbeId, SessionId)> {
        self.shared.local.links()
    }

    fn kick_all(&self, kick: CloseReason) {
        self.shared.local.kick_all(kick);
    }

    fn connected(&self) -> usize {
        self.shared.local.connected()
    }

    fn check(&self) -> Result<(), String> {
        match &*self.shared.down.read().expect("broker state") {
            None => Ok(()),
            Some(why) => Err(format!("redis: {why}")),
        }
    }
}

impl LocalHub {
    /// The session of the link of `probe` held here, if any.
    fn session(&self, probe: ProbeId) -> Option<SessionId> {
        let mailboxes = self.mailboxes.read().expect("hub lock");
        mailboxes.get(&probe).map(|m| m.session.clone())
    }
}

/// Connects, serves until the connection fails, and again, until the process ends.
async fn run(
    client: redis::Client,
    channel: String,
    shared: Arc<Shared>,
    mut queued: mpsc::Receiver<Vec<u8>>,
) {
    let mut backoff = Duration::from_millis(100);
    let mut unsent = None;
    loop {
        let failure = match connect(&client, &channel).await {
            Ok((publisher, messages)) => {
                *shared.down.write().expect("broker state") = None;
                tracing::info!("connected to redis");
                backoff = Duration::from_millis(100);
                // Alongside: with thousands of links it takes a while, and new messages must
                // not wait for it.
                tokio::spawn(resend_pending(shared.clone()));
                let queue = Outgoing {
                    queued: &mut queued,
                    unsent: &mut unsent,
                };
                serve(&shared, &channel, publisher, messages, queue).await
            }
            Err(error) => error,
        };
        if shared
            .down
            .write()
            .expect("broker state")
            .replace(failure.clone())
            .is_none()
        {
            tracing::error!(error = %failure, "redis unreachable: other instances' probes get new operations when it is back");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// A publishing connection and the subscription to `channel`, once Redis confirmed it.
async fn connect(
    client: &redis::Client,
    channel: &str,
) -> Result<(MultiplexedConnection, PubSubStream), String> {
    let connecting = async {
        let publisher = client.get_multiplexed_async_connection().await?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>((publisher, pubsub.into_on_message()))
    };
    match tokio::time::timeout(BROKER_TIMEOUT, connecting).await {
        Ok(Ok(connected)) => Ok(connected),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer to connect".into()),
    }
}

/// What this instance has to publish: the queue, and the message whose publishing failed
/// with the last connection (sent first on the next).
struct Outgoing<'a> {
    queued: &'a mut mpsc::Receiver<Vec<u8>>,
    unsent: &'a mut Option<Vec<u8>>,
}

/// Publishes what this instance queues and acts on what the others publish; returns why the
/// connection ended.
async fn serve(
    shared: &Arc<Shared>,
    channel: &str,
    mut publisher: MultiplexedConnection,
    mut messages: PubSubStream,
    out: Outgoing<'_>,
) -> String {
    let mut ping = tokio::time::interval(PING_PERIOD);
    if let Some(payload) = out.unsent.take() {
        let publishing = publisher.publish::<_, _, usize>(channel, &payload[..]);
        if let Err(error) = answered(publishing).await {
            *out.unsent = Some(payload);
            return error;
        }
    }
    loop {
        let outcome = tokio::select! {
            message = messages.next() => match message {
                Some(message) => {
                    receive(shared, message.get_payload_bytes());
                    continue;
                }
                None => return "subscription closed".into(),
            },
            Some(payload) = out.queued.recv() => {
                let publishing = publisher.publish::<_, _, usize>(channel, &payload[..]);
                let outcome = answered(publishing).await;
                if outcome.is_err() {
                    *out.unsent = Some(payload);
                }
                outcome
            }
            _ = ping.tick() => {
                answered(redis::cmd("PING").query_async::<()>(&mut publisher)).await
            }
        };
        if let Err(error) = outcome {
            return error;
        }
    }
}

/// Waits for Redis to answer a command, at most [`BROKER_TIMEOUT`].
async fn answered<T>(
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<(), String> {
    match tokio::time::timeout(BROKER_TIMEOUT, command).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer within the timeout".into()),
    }
}

/// Acts on another instance's message for the links held here.
fn receive(shared: &Arc<Shared>, payload: &[u8]) {
    let Some((origin, envelope)) = Envelope::decode(payload) else {
        tracing::debug!("ignored a malformed message on the hub channel");
        return;
    };
    if origin == shared.origin {
        return;
    }
    match envelope {
        Envelope::Deliver { probes, frame } => {
            shared.local.deliver(&probes, frame);
        }
        Envelope::Kick { probe, reason } => {
            shared.local.kick(probe, reason);
        }
        Envelope::Supersede { probe, session } => {
            if let Some(held) = shared.local.session(probe).filter(|held| *held != session) {
                let shared = shared.clone();
                tokio::spawn(async move {
                    close_if_older(shared.store.as_ref(), &shared.local, probe, held).await
                });
            }
        }
    }
}

/// Closes the link `held` of `probe` unless the store says it is the probe's latest: messages
/// of two instances may arrive in any order, but each link is recorded in the store before it
/// is announced, so the store knows which is newer.
async fn close_if_older(store: &dyn Store, local: &LocalHub, probe: ProbeId, held: SessionId) {
    let latest = match store.probe(probe).await {
        Ok(stored) => stored.and_then(|p| p.link).map(|link| link.session),
        Err(error) => {
            tracing::debug!(%error, "supersede check deferred to the link audit: store unavailable");
            return;
        }
    };
    let newer_elsewhere = latest.is_some_and(|latest| latest != held);
    if newer_elsewhere && local.kick_session(probe, &held, kick::SUPERSEDED) {
        tracing::info!(probe = %probe, session = %held.0, "probe linked to another instance: older link closed");
    }
}

/// Re-sends the pending operations of every probe linked here: those published while the
/// broker was down reached no other instance.
async fn resend_pending(shared: Arc<Shared>) {
    let now = Utc::now();
    for (probe, _) in shared.local.links() {
        match shared.store.pending_operations(probe, now).await {
            Ok(pending) => {
                for operation in &pending {
                    shared
                        .local
                        .deliver(&[probe], crate::operations::order_frame(operation));
                }
            }
            Err(error) => {
                tracing::warn!(probe = %probe, %error, "pending operations not re-sent after the broker came back: the probe gets them when it reconnects");
            }
        }
    }
}
