//! One original probe's Socket.IO connection, from admission to disconnect.
//!
//! Admission (a connect middleware, so a refused probe gets the `connect_error` the original
//! sent) checks the `?token=` and the credit headers and registers the event handlers before
//! the client can send anything. Once connected, one task per link does what a v1 session does
//! around its socket: records the link, takes a hub mailbox, emits the pending operations, then
//! turns each operation frame the hub delivers into the original's event until the probe leaves
//! or the hub kicks it.

use super::events::{operation_event, LegacyOperation};
use super::reports::Reports;
use crate::client::ClientAddr;
use crate::domain::{OperationId, ProbeId};
use crate::hub::{Frame, Mailbox};
use crate::state::AppState;
use crate::store::{Link, Probe, SessionId};
use crate::ws::{Full, LinkSlots, Slot};
use chrono::Utc;
use probe_protocol::{OperationOrder, ServerMessage};
use socketioxide::extract::{AckSender, SocketRef, TryData};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// The headers the original reads at connect, as pladmed-client sends them (`total_credits`;
/// the original's server looked them up as `Total-Credits`, which its WSGI layer matched).
const TOTAL_CREDITS: [&str; 2] = ["total_credits", "total-credits"];
const IN_USE_CREDITS: [&str; 2] = ["in_use_credits", "in-use-credits"];

/// Why a connect is refused; its text is the `connect_error` message the client gets.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// Missing, malformed, revoked or unknown token: the original's message.
    #[error("Invalid token")]
    Token,
    /// A credit header is missing or not a number; named as the client sends it.
    #[error("{0}: missing, or not a whole number of credits")]
    Header(&'static str),
    /// This address, or the server, holds as many probe links as it may (as for v1 links:
    /// `PLADMED_WS_MAX_PER_ADDRESS`, `PLADMED_WS_MAX_CONNECTIONS`).
    #[error("{}", match .0 {
        Full::Address => "too many probe links from this address",
        Full::Server => "the server holds as many probe links as it may",
    })]
    Full(Full),
    /// The store could not be read: try again later.
    #[error("store unavailable, try again later")]
    Store,
}

/// What the server knows of one legacy link.
pub struct LegacyLink {
    pub(super) state: AppState,
    pub(super) probe: Probe,
    session: SessionId,
    total_credits: u64,
    in_use_credits: u64,
    /// Counts this link against the link limits until it is dropped.
    _slot: Slot,
    /// Set when the socket is gone, whoever closed it.
    closed: CancellationToken,
    /// Operations emitted on this link, oldest first, not yet taken on (`new_operation`).
    pub(super) offered: Mutex<Vec<(OperationId, u64)>>,
    /// Operations taken on through this server's legacy links, not yet finished.
    pub(super) running: Arc<Running>,
}

/// Per probe, the operations it took on through a legacy link of this server and has not
/// finished: kept across its reconnects, since `finish_operation` often comes on a later link
/// than `new_operation` (an operation runs for days; links drop).
pub type Running = Mutex<HashMap<ProbeId, Vec<(OperationId, u64)>>>;

/// The connect middleware: admits the probe or refuses the connect.
pub async fn admit(
    state: AppState,
    running: Arc<Running>,
    slots: &LinkSlots,
    socket: SocketRef,
) -> Result<(), Refusal> {
    let parts = socket.req_parts();
    let client = parts.extensions.get::<ClientAddr>().copied();
    let slot = slots
        .take(client.map(ClientAddr::limit_key))
        .map_err(Refusal::Full)?;
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(parts.uri.query().unwrap_or("")).unwrap_or_default();
    let total_credits = credits_header(&parts.headers, TOTAL_CREDITS)?;
    let in_use_credits = credits_header(&parts.headers, IN_USE_CREDITS)?;
    let probe = crate::ws::authenticate(&state, query.get("token").map(String::as_str))
        .await
        .map_err(|refusal| {
            tracing::info!(code = refusal.code, reason = %refusal.reason, "legacy probe refused");
            if refusal.code == probe_protocol::close::UNAUTHORIZED {
                Refusal::Token
            } else {
                Refusal::Store
            }
        })?;
    let session = SessionId(format!(
        "{}-{}",
        state.settings.instance,
        bson::oid::ObjectId::new()
    ));
    let link = Arc::new(LegacyLink {
        state,
        probe,
        session,
        total_credits,
        in_use_credits,
        _slot: slot,
        closed: CancellationToken::new(),
        offered: Mutex::new(Vec::new()),
        running,
    });
    listen(&socket, &link);
    socket.extensions.insert(link);
    Ok(())
}

/// A whole number of credits from the first of `names` present.
fn credits_header(
    headers: &warp::http::HeaderMap,
    names: [&'static str; 2],
) -> Result<u64, Refusal> {
    let value = names.iter().find_map(|name| headers.get(*name));
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or(Refusal::Header(names[0]))
}

/// Registers the handlers of the events the client emits, before it can emit any.
fn listen(socket: &SocketRef, link: &Arc<LegacyLink>) {
    let reports = Reports(link.clone());
    socket.on("results", {
        let reports = reports.clone();
        move |TryData(result): TryData<_>, ack: AckSender| async move {
            reports.result(result, ack).await
        }
    });
    socket.on("new_operation", {
        let reports = reports.clone();
        move |TryData(change): TryData<_>| async move { reports.taken_on(change).await }
    });
    socket.on("finish_operation", {
        let reports = reports.clone();
        move |TryData(change): TryData<_>| async move { reports.finished(change).await }
    });
    let closed = link.closed.clone();
    socket.on_disconnect(move || async move { closed.cancel() });
}

/// The connect handler: serves the admitted link until it closes.
pub async fn connected(socket: SocketRef) {
    let Some(link) = socket.extensions.get::<Arc<LegacyLink>>() else {
        tracing::error!("legacy link connected without admission");
        let _ = socket.disconnect();
        return;
    };
    let links = link.state.links.clone();
    links.spawn(async move { link.serve(socket).await });
}

impl LegacyLink {
    #[tracing::instrument(name = "legacy_session", skip_all, fields(probe = %self.probe.id, session = %self.session.0))]
    async fn serve(&self, socket: SocketRef) {
        let state = &self.state;
        let (mailbox, mut inbox) = Mailbox::new(self.session.clone(), state.settings.probe_queue);
        let record = Link {
            instance: state.settings.instance.clone(),
            session: self.session.clone(),
            total_credits: self.total_credits,
            in_use_credits: self.in_use_credits,
            clock_offset_ms: None,
            connected_at: Utc::now(),
        };
        let started = self.start(&socket, &record, mailbox).await;
        if started.is_ok() {
            tracing::info!("legacy probe connected");
            loop {
                tokio::select! {
                    frame = inbox.frames.recv() => match frame {
                        Some(frame) if self.forward(&socket, &frame) => {}
                        _ => break,
                    },
                    changed = inbox.kick.changed() => {
                        let kick = inbox.kick.borrow().clone();
                        if changed.is_err() || kick.is_some() {
                            tracing::info!(reason = ?kick.map(|k| k.reason), "legacy probe kicked");
                            break;
                        }
                    }
                    () = self.closed.cancelled() => break,
                }
            }
        }
        state.hub.detach(self.probe.id, &self.session);
        if let Err(error) = state.store.link_down(self.probe.id, &self.session).await {
            tracing::warn!(%error, "could not record legacy probe disconnect");
        }
        if !self.closed.is_cancelled() {
            let _ = socket.disconnect();
        }
        tracing::info!("legacy probe disconnected");
    }

    /// Records the link, joins the hub and emits what the probe has not taken on yet.
    async fn start(&self, socket: &SocketRef, record: &Link, mailbox: Mailbox) -> Result<(), ()> {
        let state = &self.state;
        let logged = |error: crate::store::StoreError| {
            tracing::warn!(%error, "legacy probe link not started");
        };
        state
            .store
            .link_up(self.probe.id, record)
            .await
            .map_err(logged)?;
        state.hub.attach(self.probe.id, mailbox);
        if let Err(refusal) = crate::ws::still_valid(state, &self.probe).await {
            tracing::info!(reason = %refusal.reason, "legacy probe refused");
            return Err(());
        }
        let pending = state
            .store
            .pending_operations(self.probe.id, Utc::now())
            .await
            .map_err(logged)?;
        for operation in &pending {
            state.prices.remember(operation);
            if !self.forward(socket, &crate::operations::order_frame(operation)) {
                return Err(());
            }
        }
        tracing::debug!(pending = pending.len(), "legacy link up");
        Ok(())
    }

    /// Emits the operation a hub frame carries (other frames are not for legacy probes);
    /// `false` if the socket cannot take it (closed, or its buffer full: too slow).
    fn forward(&self, socket: &SocketRef, frame: &Frame) -> bool {
        let order = match ServerMessage::decode(frame.as_str()) {
            Ok(ServerMessage::Operation(order)) => order,
            Ok(_) => return true,
            Err(error) => {
                tracing::warn!(%error, "hub frame not understood: not forwarded");
                return true;
            }
        };
        self.offer(&order);
        match socket.emit(operation_event(&order), &LegacyOperation::of(&order)) {
            Ok(()) => true,
            Err(error) => {
                tracing::info!(%error, "legacy probe cannot take an operation: closing");
                false
            }
        }
    }

    fn offer(&self, order: &OperationOrder) {
        if let Ok(id) = order.operation_id.parse() {
            let mut offered = self.offered.lock().expect("offered lock");
            if !offered.iter().any(|(o, _)| *o == id) {
                offered.push((id, order.credits));
            }
        }
    }
}
