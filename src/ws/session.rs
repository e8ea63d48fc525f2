//! One probe link from handshake to close.

use super::budget::{self, Held, IngestBudget};
use super::frames::{classify, close_frame, Incoming};
use super::handshake;
use super::liveness::{self, Liveness};
use super::pacing::Pacer;
use super::upgrade::Socket;
use super::writer::{self, Control};
use crate::hub::{Frame, Mailbox};
use crate::operations::{self, IngestError};
use crate::state::AppState;
use crate::store::{AssignmentState, Insertion, Link, Probe, SessionId, StoreError};
use chrono::Utc;
use futures::stream::{FuturesUnordered, SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use probe_protocol::{
    close, error_code, CloseReason, ErrorNotice, Hello, ProbeMessage, ResultAck, ResultReport,
    ServerMessage, Welcome,
};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// How long closing may wait for the writer to flush (at most a heartbeat period).
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The result window `welcome` announces: results of one link being stored at once, and the
/// most a probe may have unacknowledged. Storing them one by one would give the store's group
/// commit one write per link per fsync; in flight together, a probe's window of unacked
/// results shares the fsync. Each is acked when its own write is durable, in any order. While
/// a link has this many being stored, the server reads nothing more from it. Capped by the
/// probe's queue (`PLADMED_PROBE_QUEUE`), so that a window of acks always fits in it.
const WINDOW: usize = 64;

/// Serves one upgraded socket until it closes; its results are held against `budget`.
pub async fn run(socket: Socket, token: Option<String>, state: AppState, budget: IngestBudget) {
    let (mut sink, mut stream) = socket.split();
    let admitted = match handshake::authenticate(&state, token.as_deref()).await {
        Ok(probe) => handshake::hello(&mut stream, state.settings.limits.hello_timeout)
            .await
            .map(|hello| (probe, hello)),
        Err(refusal) => Err(refusal),
    };
    let (probe, hello) = match admitted {
        Ok(admitted) => admitted,
        Err(refusal) => {
            tracing::info!(code = refusal.code, reason = %refusal.reason, "probe link refused");
            let refusing = sink.send(close_frame(&refusal));
            let _ = tokio::time::timeout(CLOSE_GRACE, refusing).await;
            return;
        }
    };
    let session = SessionId(format!(
        "{}-{}",
        state.settings.instance,
        bson::oid::ObjectId::new()
    ));
    serve(&state, &probe, session, hello, (sink, stream), &budget).await;
}

/// Registers the link of an admitted probe, serves it, and closes it. Everything logged
/// meanwhile carries the probe and the session.
#[tracing::instrument(name = "session", skip_all, fields(probe = %probe.id, session = %session.0))]
async fn serve(
    state: &AppState,
    probe: &Probe,
    session: SessionId,
    hello: Hello,
    (sink, mut stream): (SplitSink<Socket, Message>, SplitStream<Socket>),
    budget: &IngestBudget,
) {
    let (mailbox, mut inbox) = Mailbox::new(session.clone(), state.settings.probe_queue);
    let (control, control_rx) = mpsc::channel(4);
    state.telemetry.frames_in.inc(); // the hello
    let writer = tokio::spawn(writer::run(
        sink,
        inbox.frames,
        control_rx,
        state.telemetry.clone(),
    ));
    let link = Link {
        instance: state.settings.instance.clone(),
        session: session.clone(),
        total_credits: hello.total_credits,
        in_use_credits: hello.in_use_credits,
        clock_offset_ms: hello.clock_offset_ms,
        connected_at: Utc::now(),
    };
    let outcome = match start(state, probe, &link, &mailbox, &hello).await {
        Ok(()) => {
            tracing::info!(agent = %hello.agent, "probe connected");
            let link = Connected {
                state,
                probe,
                mailbox: &mailbox,
                budget,
            };
            link.serve(&mut stream, &mut inbox.kick, &control).await
        }
        Err(refusal) => Some(refusal),
    };
    state.hub.detach(probe.id, &session);
    if let Err(e) = state.store.link_down(probe.id, &session).await {
        tracing::warn!(error = %e, "could not record probe disconnect");
    }
    let close = outcome.unwrap_or(CloseReason::fixed(close::GOING_AWAY, ""));
    tracing::info!(code = close.code, reason = %close.reason, "probe disconnected");
    let grace = CLOSE_GRACE.min(liveness::close_grace(state.settings.heartbeat));
    if !writer::finish(control, writer, close, grace).await {
        tracing::debug!("writer did not finish closing in time: aborted");
    }
}

/// Records the link, registers with the hub, welcomes the probe and re-delivers what it missed.
/// The frames must be in the probe's queue within the time a probe has to answer a ping
/// ([`liveness::answer_time`]): one that does not read them by then is dropped like a probe
/// that stopped answering pings.
async fn start(
    state: &AppState,
    probe: &Probe,
    link: &Link,
    mailbox: &Mailbox,
    hello: &Hello,
) -> Result<(), CloseReason> {
    state
        .store
        .link_up(probe.id, link)
        .await
        .map_err(handshake::store_unavailable)?;
    state.hub.attach(probe.id, mailbox.clone());
    handshake::still_valid(state, probe).await?;
    let deadline = tokio::time::Instant::now() + liveness::answer_time(state.settings.heartbeat);
    let queue = |frame: Frame| async move {
        tokio::time::timeout_at(deadline, mailbox.send(frame))
            .await
            .map(drop)
            .map_err(|_| {
                let reason = "the probe did not read its welcome and pending operations in time";
                CloseReason::fixed(close::TOO_SLOW, reason)
            })
    };
    let welcome = ServerMessage::Welcome(Welcome {
        probe_id: probe.id.to_string(),
        server_time: Utc::now(),
        heartbeat_s: state.settings.heartbeat.as_secs() as u32,
        window: window(state) as u32,
    });
    queue(welcome.encode().into()).await?;
    let pending = state
        .store
        .pending_operations(probe.id, Utc::now())
        .await
        .map_err(handshake::store_unavailable)?;
    for operation in &pending {
        state.prices.remember(operation);
        queue(operations::order_frame(operation)).await?;
    }
    tracing::debug!(
        pending = pending.len(),
        hello_in_use = hello.in_use_credits,
        "link up"
    );
    Ok(())
}

/// The result window of this server's links.
fn window(state: &AppState) -> usize {
    WINDOW.min(state.settings.probe_queue)
}

struct Connected<'a> {
    state: &'a AppState,
    probe: &'a Probe,
    mailbox: &'a Mailbox,
    budget: &'a IngestBudget,
}

impl Connected<'_> {
    /// Handles messages until the probe leaves (`None`) or the link must be closed. The link is
    /// read only while it has room in its window and its frame rate a token: otherwise TCP
    /// pushes back on the probe until acks or tokens free room.
    async fn serve(
        &self,
        stream: &mut SplitStream<Socket>,
        kick: &mut tokio::sync::watch::Receiver<Option<CloseReason>>,
        control: &mpsc::Sender<Control>,
    ) -> Option<CloseReason> {
        let period = self.state.settings.heartbeat;
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut liveness = Liveness::new(period);
        let mut rate = Pacer::new(self.state.settings.limits.probe_frames_per_s);
        let mut bytes = budget::LinkShare::new(self.budget.clone());
        let window = window(self.state);
        let mut storing = FuturesUnordered::new();
        loop {
            // Room in the link's window and in the global ingest budget; while either is
            // missing the link is not read, and that time is not held against the probe.
            let room = storing.len() < window && bytes.may_read();
            liveness.server_reads(room, tokio::time::Instant::now());
            tokio::select! {
                Some(stored) = storing.next(), if !storing.is_empty() => {
                    if let Err(refusal) = stored {
                        return Some(refusal);
                    }
                }
                (report, held) = bytes.admitted(), if !bytes.may_read() => {
                    storing.push(self.store_result(report, held));
                }
                () = rate.refilled(), if !rate.ready() => rate.take(),
                item = stream.next(), if room && rate.ready() => {
                    rate.take();
                    match classify(item) {
                        Incoming::Text(text) => {
                            self.state.telemetry.frames_in.inc();
                            match self.handle(text.as_str()).await {
                                Ok(Some(report)) => {
                                    if let Some((report, held)) = bytes.admit(text.len(), report) {
                                        storing.push(self.store_result(report, held));
                                    }
                                }
                                Ok(None) => {}
                                Err(refusal) => return Some(refusal),
                            }
                        }
                        Incoming::Pong(payload) => liveness.pong(&payload),
                        Incoming::Alive => {}
                        Incoming::Gone => return None,
                        Incoming::Refuse(refusal) => return Some(refusal),
                    }
                }
                changed = kick.changed() => {
                    let kicked = kick.borrow().clone();
                    return changed.ok().and(kicked);
                }
                tick = heartbeat.tick() => {
                    if liveness.overdue(tick) {
                        tracing::info!("probe did not answer a ping within a heartbeat: dropped");
                        let reason = "no pong within a heartbeat period: the probe does not read";
                        return Some(CloseReason::fixed(close::TOO_SLOW, reason));
                    }
                    let _ = control.try_send(Control::Ping(liveness.ping(tick)));
                }
            }
        }
    }

    /// Handles a message; a result is handed back to be stored alongside others.
    async fn handle(&self, text: &str) -> Result<Option<ResultReport>, CloseReason> {
        let violation = |reason| CloseReason::new(close::PROTOCOL_VIOLATION, reason);
        let message = ProbeMessage::decode(text).map_err(|e| violation(e.to_string()))?;
        let (operation, to) = match message {
            ProbeMessage::Hello(_) => {
                return Err(violation("hello was already sent on this link".into()))
            }
            ProbeMessage::Accepted(a) => (a.operation_id, AssignmentState::Accepted),
            ProbeMessage::Finished(f) => (f.operation_id, AssignmentState::Finished),
            ProbeMessage::Result(report) => return Ok(Some(report)),
        };
        let store = self.state.store.as_ref();
        let outcome =
            operations::record_progress(store, &self.state.prices, self.probe, &operation, to)
                .await;
        self.settle(outcome).map(|()| None)
    }

    /// Stores one result and acks it once durable; its frame's bytes are `held` against the
    /// ingest budget until then.
    async fn store_result(&self, report: ResultReport, held: Held) -> Result<(), CloseReason> {
        let received = Instant::now();
        let telemetry = &self.state.telemetry;
        telemetry.results_received.inc();
        let (operation_id, unique_code) = (report.operation_id.clone(), report.unique_code.clone());
        let outcome = operations::ingest(self.state.store.as_ref(), self.probe, report)
            .await
            .map(|insertion| {
                let duplicate = insertion == Insertion::Duplicate;
                let ack = ServerMessage::ResultAck(ResultAck {
                    operation_id,
                    unique_code,
                    duplicate,
                });
                self.reply(ack);
                telemetry.ack_latency.observe(received.elapsed());
                telemetry.results_acked.inc();
                if duplicate {
                    telemetry.results_duplicate.inc();
                }
            });
        drop(held);
        self.settle(outcome)
    }

    /// Closes the link on a protocol violation; tells the probe when the store failed.
    fn settle(&self, outcome: Result<(), IngestError>) -> Result<(), CloseReason> {
        match outcome {
            Ok(()) => Ok(()),
            Err(IngestError::Violation(reason)) => {
                Err(CloseReason::new(close::PROTOCOL_VIOLATION, reason))
            }
            Err(unknown @ IngestError::UnknownOperation(operation)) => {
                tracing::info!(%operation, "probe reported for an operation that does not exist");
                self.reply(ServerMessage::Error(ErrorNotice {
                    code: error_code::UNKNOWN_OPERATION.into(),
                    message: unknown.to_string(),
                    operation_id: Some(operation.to_string()),
                    unique_code: None,
                }));
                Ok(())
            }
            Err(IngestError::Refused(refused)) => {
                tracing::debug!(operation = %refused.operation, unique_code = %refused.unique_code, cause = %refused.cause, "result refused for good");
                self.reply(ServerMessage::Error(ErrorNotice {
                    code: refused.code().into(),
                    message: refused.cause.to_string(),
                    operation_id: Some(refused.operation.to_string()),
                    unique_code: Some(refused.unique_code),
                }));
                Ok(())
            }
            Err(IngestError::Store(error)) => {
                let code = match error {
                    // The store logs an outage itself, once; per message it is detail.
                    StoreError::Unavailable(_) => {
                        tracing::debug!(%error, "probe message not stored");
                        error_code::STORE_UNAVAILABLE
                    }
                    _ => {
                        tracing::warn!(%error, "probe message refused by the store");
                        error_code::INVALID_FIELD
                    }
                };
                self.reply(ServerMessage::Error(ErrorNotice {
                    code: code.into(),
                    message: error.to_string(),
                    operation_id: None,
                    unique_code: None,
                }));
                Ok(())
            }
        }
    }

    /// Queues a reply; if the queue is full the probe is not reading, and the hub's kick for
    /// slow probes applies just the same.
    fn reply(&self, message: ServerMessage) {
        let frame: Frame = message.encode().into();
        if !self.mailbox.offer(frame) {
            self.mailbox.kick(crate::hub::kick::TOO_SLOW);
        }
    }
}
