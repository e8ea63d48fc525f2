//! The broadcast hub: fans frames out to the probes connected to this instance.
//!
//! [`Hub`] is the seam for running several instances: a broker-backed hub (Redis or NATS pub/sub)
//! implements the same trait by publishing `deliver` calls and delivering what it receives to
//! its local mailboxes. [`LocalHub`] is the in-process implementation; [`RedisHub`] shares it
//! between instances through Redis (`PLADMED_REDIS_URL`).
//!
//! A frame is serialised once and shared by reference count. Each connection owns a bounded
//! queue drained by its single writer task; `deliver` never waits: a probe whose queue is full is
//! kicked (closed as too slow) instead of blocking the others or growing memory.

mod broker;
mod envelope;

pub use broker::RedisHub;

use crate::domain::ProbeId;
use crate::store::SessionId;
use probe_protocol::CloseReason;
use std::collections::HashMap;
use std::sync::RwLock;
use tokio::sync::{mpsc, watch};

/// One encoded text frame, shared by every recipient: UTF-8 bytes behind a reference count,
/// which the socket writes as they are, so fanning out to N probes copies no frame.
pub type Frame = tokio_tungstenite::tungstenite::Utf8Bytes;

/// Why the hub ends a connection: the close frames it has links send.
pub mod kick {
    use probe_protocol::{close, CloseReason};

    /// A newer link of the same probe took over.
    pub const SUPERSEDED: CloseReason = CloseReason::fixed(
        close::SUPERSEDED,
        "superseded by a newer connection of this probe",
    );
    /// The probe's outgoing queue overflowed.
    pub const TOO_SLOW: CloseReason = CloseReason::fixed(
        close::TOO_SLOW,
        "outgoing queue full: probe reads too slowly",
    );
    /// The probe's tokens were revoked: the link's token no longer authenticates it.
    pub const REVOKED: CloseReason = CloseReason::fixed(close::UNAUTHORIZED, "probe token revoked");
    /// The probe was removed by its owner or an operator.
    pub const REMOVED: CloseReason = CloseReason::fixed(close::UNAUTHORIZED, "probe removed");
    /// The server is shutting down.
    pub const SHUTDOWN: CloseReason = CloseReason::fixed(close::GOING_AWAY, "server shutting down");
}

/// The hub's handle on one connection.
#[derive(Debug, Clone)]
pub struct Mailbox {
    /// The link this mailbox belongs to.
    pub session: SessionId,
    frames: mpsc::Sender<Frame>,
    kick: watch::Sender<Option<CloseReason>>,
}

/// The connection's end of its mailbox.
pub struct MailboxReceiver {
    /// Frames to write, in order.
    pub frames: mpsc::Receiver<Frame>,
    /// Becomes `Some` when the hub ends the connection.
    pub kick: watch::Receiver<Option<CloseReason>>,
}

impl Mailbox {
    /// A mailbox holding at most `capacity` queued frames, and its receiving end.
    pub fn new(session: SessionId, capacity: usize) -> (Mailbox, MailboxReceiver) {
        let (frames_tx, frames_rx) = mpsc::channel(capacity);
        let (kick_tx, kick_rx) = watch::channel(None);
        let mailbox = Mailbox {
            session,
            frames: frames_tx,
            kick: kick_tx,
        };
        (
            mailbox,
            MailboxReceiver {
                frames: frames_rx,
                kick: kick_rx,
            },
        )
    }

    /// Queues a frame without waiting; `false` if the queue is full or the connection gone.
    pub fn offer(&self, frame: Frame) -> bool {
        self.frames.try_send(frame).is_ok()
    }

    /// Queues a frame, waiting for room (used by the connection itself for its replies).
    pub async fn send(&self, frame: Frame) -> bool {
        self.frames.send(frame).await.is_ok()
    }

    /// Tells the connection to close.
    pub fn kick(&self, kick: CloseReason) {
        self.kick.send_replace(Some(kick));
    }
}

/// Fan-out of frames to connected probes.
pub trait Hub: Send + Sync + 'static {
    /// Registers the mailbox of a probe's new link. An older link of the same probe is kicked
    /// as superseded: the newer connection wins.
    fn attach(&self, probe: ProbeId, mailbox: Mailbox);
    /// Unregisters a link, unless a newer link of the probe replaced it already.
    fn detach(&self, probe: ProbeId, session: &SessionId);
    /// Offers `frame` to each listed probe connected here; returns how many got it queued.
    /// Probes whose queue is full are kicked as too slow.
    fn deliver(&self, probes: &[ProbeId], frame: Frame) -> usize;
    /// Kicks the link of `probe`, wherever it is connected (a shared hub tells the other
    /// instances); returns whether there was one here.
    fn kick(&self, probe: ProbeId, kick: CloseReason) -> bool;
    /// Kicks the link of `probe` only if it is still `session` (a newer link stays).
    fn kick_session(&self, probe: ProbeId, session: &SessionId, kick: CloseReason) -> bool;
    /// The links connected here: each probe with its session.
    fn links(&self) -> Vec<(ProbeId, SessionId)>;
    /// Kicks every connection (shutdown).
    fn kick_all(&self, kick: CloseReason);
    /// How many probes are connected here.
    fn connected(&self) -> usize;
    /// Whether the hub can deliver, for GET /health; a broker-backed hub reports its broker
    /// connection here. The in-process hub has nothing that can fail.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The in-process hub.
#[derive(Default)]
pub struct LocalHub {
    mailboxes: RwLock<HashMap<ProbeId, Mailbox>>,
}

impl LocalHub {
    /// An empty hub.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Hub for LocalHub {
    fn attach(&self, probe: ProbeId, mailbox: Mailbox) {
        let previous = self
            .mailboxes
            .write()
            .expect("hub lock")
            .insert(probe, mailbox);
        if let Some(old) = previous {
            old.kick(kick::SUPERSEDED);
        }
    }

    fn detach(&self, probe: ProbeId, session: &SessionId) {
        let mut mailboxes = self.mailboxes.write().expect("hub lock");
        if mailboxes.get(&probe).is_some_and(|m| &m.session == session) {
            mailboxes.remove(&probe);
        }
    }

    fn deliver(&self, probes: &[ProbeId], frame: Frame) -> usize {
        let mut delivered = 0;
        let mailboxes = self.mailboxes.read().expect("hub lock");
        for mailbox in probes.iter().filter_map(|p| mailboxes.get(p)) {
            if mailbox.offer(frame.clone()) {
                delivered += 1;
            } else {
                // The connection removes itself from the hub when it ends.
                mailbox.kick(kick::TOO_SLOW);
            }
        }
        delivered
    }

    fn kick(&self, probe: ProbeId, kick: CloseReason) -> bool {
        let mailboxes = self.mailboxes.read().expect("hub lock");
        mailboxes.get(&probe).map(|m| m.kick(kick)).is_some()
    }

    fn kick_session(&self, probe: ProbeId, session: &SessionId, kick: CloseReason) -> bool {
        let mailboxes = self.mailboxes.read().expect("hub lock");
        let current = mailboxes.get(&probe).filter(|m| &m.session == session);
        current.map(|m| m.kick(kick)).is_some()
    }

    fn links(&self) -> Vec<(ProbeId, SessionId)> {
        let mailboxes = self.mailboxes.read().expect("hub lock");
        mailboxes
            .iter()
            .map(|(probe, m)| (*probe, m.session.clone()))
            .collect()
    }

    fn kick_all(&self, kick: CloseReason) {
        for mailbox in self.mailboxes.read().expect("hub lock").values() {
            mailbox.kick(kick.clone());
        }
    }

    fn connected(&self) -> usize {
        self.mailboxes.read().expect("hub lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: &str) -> SessionId {
        SessionId(name.into())
    }

    #[tokio::test]
    async fn delivers_one_shared_frame_to_each_listed_probe() {
        let hub = LocalHub::new();
        let (a, b, absent) = (
            ProbeId::generate(),
            ProbeId::generate(),
            ProbeId::generate(),
        );
        let (mailbox_a, mut rx_a) = Mailbox::new(session("a"), 4);
        let (mailbox_b, mut rx_b) = Mailbox::new(session("b"), 4);
        hub.attach(a, mailbox_a);
        hub.attach(b, mailbox_b);
        let frame = Frame::from("{\"type\":\"x\"}".to_string());
        assert_eq!(hub.deliver(&[a, b, absent], frame.clone()), 2);
        let got_a = rx_a.frames.recv().await.unwrap();
        let got_b = rx_b.frames.recv().await.unwrap();
        let shared = |got: &Frame| got.as_str().as_ptr() == frame.as_str().as_ptr();
        assert!(shared(&got_a) && shared(&got_b), "each probe got a copy");
    }

    #[test]
    fn a_full_queue_kicks_only_that_probe() {
        let hub = LocalHub::new();
        let (slow, fast) = (ProbeId::generate(), ProbeId::generate());
        let (slow_box, slow_rx) = Mailbox::new(session("s"), 1);
        let (fast_box, fast_rx) = Mailbox::new(session("f"), 8);
        hub.attach(slow, slow_box);
        hub.attach(fast, fast_box);
        let frame = Frame::from("f");
        assert_eq!(hub.deliver(&[slow, fast], frame.clone()), 2);
        assert_eq!(hub.deliver(&[slow, fast], frame), 1);
        assert_eq!(*slow_rx.kick.borrow(), Some(kick::TOO_SLOW));
        assert_eq!(*fast_rx.kick.borrow(), None);
    }

    #[test]
    fn kicking_one_probe_leaves_the_others() {
        let hub = LocalHub::new();
        let (target, other) = (ProbeId::generate(), ProbeId::generate());
        let (target_box, target_rx) = Mailbox::new(session("t"), 1);
        let (other_box, other_rx) = Mailbox::new(session("o"), 1);
        hub.attach(target, target_box);
        hub.attach(other, other_box);
        assert!(!hub.kick_session(target, &session("older"), kick::REMOVED));
        assert_eq!(
            *target_rx.kick.borrow(),
            None,
            "another session is left alone"
        );
        assert!(hub.kick(target, kick::REVOKED));
        assert!(!hub.kick(ProbeId::generate(), kick::REVOKED));
        assert_eq!(*target_rx.kick.borrow(), Some(kick::REVOKED));
        assert_eq!(*other_rx.kick.borrow(), None);
    }

    #[test]
    fn a_newer_link_supersedes_and_the_old_detach_keeps_it() {
        let hub = LocalHub::new();
        let probe = ProbeId::generate();
        let (old, old_rx) = Mailbox::new(session("old"), 1);
        let (new, new_rx) = Mailbox::new(session("new"), 1);
        hub.attach(probe, old);
        hub.attach(probe, new);
        assert_eq!(*old_rx.kick.borrow(), Some(kick::SUPERSEDED));
        hub.detach(probe, &session("old"));
        assert_eq!(hub.connected(), 1);
        assert_eq!(*new_rx.kick.borrow(), None);
        hub.detach(probe, &session("new"));
        assert_eq!(hub.connected(), 0);
    }
}
