//! One connection: handshake, then operations in and results out until it ends.

use super::delivery::{Delivery, WINDOW};
use super::writer;
use super::{Context, Refused};
use crate::backoff::Backoff;
use crate::config::ServerUrl;
use futures::stream::SplitStream;
use futures::StreamExt;
use probe_protocol::{
    close, error_code, silence_limit, CloseReason, ErrorNotice, Hello, ProbeMessage, ServerMessage,
    Welcome, MISSED_HEARTBEATS, PROTOCOL_VERSION,
};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::AUTHORIZATION;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{
    connect_async_tls_with_config, Connector, MaybeTlsStream, WebSocketStream,
};
use tokio_util::sync::CancellationToken;

/// How long opening the connection (TCP, TLS, upgrade) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the coordinator has to answer `hello`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// How long closing may wait for the writer to flush.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Re-sending after a `store_unavailable` error starts after about this long.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// … and waits at most this long.
const STORE_RETRY_MAX: Duration = Duration::from_secs(30);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Stream = SplitStream<Socket>;

/// How a connection ended.
#[derive(Debug)]
pub enum Ended {
    /// The probe is shutting down.
    Shutdown,
    /// The coordinator refused the probe for good.
    Refused(Refused),
    /// The connection failed or was closed; reconnect. `welcomed`: it had worked.
    Dropped { welcomed: bool, reason: String },
}

fn dropped(reason: impl Into<String>) -> Ended {
    Ended::Dropped {
        welcomed: false,
        reason: reason.into(),
    }
}

/// Runs one connection to `server` until it ends.
pub async fn serve(context: &Context, server: &ServerUrl, cancel: &CancellationToken) -> Ended {
    let socket = tokio::select! {
        _ = cancel.cancelled() => return Ended::Shutdown,
        socket = connect(context, server) => match socket {
            Ok(socket) => socket,
            Err(reason) => return dropped(reason),
        },
    };
    let (sink, stream) = socket.split();
    let (frames, queue) = mpsc::channel(2 * WINDOW);
    let writer = tokio::spawn(writer::run(sink, queue));
    let mut session = Session {
        context,
        server,
        frames,
        delivery: Delivery::default(),
        store_backoff: Backoff::new(STORE_RETRY, STORE_RETRY_MAX),
        resend_at: None,
    };
    let ended = session.run(stream, cancel).await;
    if matches!(ended, Ended::Shutdown) {
        let goodbye = CloseReason::fixed(close::NORMAL, "probe shutting down");
        let goodbye = CloseFrame {
            code: CloseCode::from(goodbye.code),
            reason: goodbye.frame_reason().into(),
        };
        if session
            .frames
            .send(Message::Close(Some(goodbye)))
            .await
            .is_ok()
        {
            tracing::info!("link closed with {}", close::NORMAL);
        }
    }
    drop(session);
    let abort = writer.abort_handle();
    if tokio::time::timeout(CLOSE_GRACE, writer).await.is_err() {
        abort.abort();
    }
    ended
}

async fn connect(context: &Context, server: &ServerUrl) -> Result<Socket, String> {
    let endpoint = server.endpoint();
    let mut request = endpoint
        .into_client_request()
        .map_err(|e| format!("bad server URL {endpoint}: {e}"))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", context.token.expose()))
        .map_err(|_| "the probe token is not a valid header value".to_string())?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    let tls = Connector::Rustls(context.tls.clone());
    let connecting = connect_async_tls_with_config(request, None, false, Some(tls));
    match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(error)) => Err(format!("cannot connect to {endpoint}: {error}")),
        Err(_) => Err(format!(
            "no connection to {endpoint} within {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

struct Session<'a> {
    context: &'a Context,
    server: &'a ServerUrl,
    frames: mpsc::Sender<Message>,
    delivery: Delivery,
    store_backoff: Backoff,
    resend_at: Option<Instant>,
}

impl Session<'_> {
    async fn run(&mut self, mut stream: Stream, cancel: &CancellationToken) -> Ended {
        if let Err(ended) = self.send(hello(self.context)).await {
            return ended;
        }
        let welcome = tokio::select! {
            _ = cancel.cancelled() => return Ended::Shutdown,
            welcome = await_welcome(&mut stream) => match welcome {
                Ok(welcome) => welcome,
                Err(ended) => return ended,
            },
        };
        self.delivery.limit_window(welcome.window);
        tracing::info!(probe = %welcome.probe_id, server = %self.server.endpoint(), window = self.delivery.window(), "link up");
        let heartbeat = Duration::from_secs(u64::from(welcome.heartbeat_s.max(1)));
        match self.connected(stream, cancel, heartbeat).await {
            Ended::Dropped { reason, .. } => Ended::Dropped {
                welcomed: true,
                reason,
            },
            other => other,
        }
    }

    async fn connected(
        &mut self,
        mut stream: Stream,
        cancel: &CancellationToken,
        heartbeat: Duration,
    ) -> Ended {
        let outgoing = self.context.outgoing.clone();
        let mut liveness = tokio::time::interval(heartbeat);
        let mut last_seen = Instant::now();
        loop {
            if let Err(ended) = self.pump().await {
                return ended;
            }
            let resend_at = self.resend_at;
            let resend = async move {
                match resend_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => return Ended::Shutdown,
                frame = stream.next() => {
                    last_seen = Instant::now();
                    match classify(frame) {
                        Incoming::Text(text) => {
                            if let Err(ended) = self.handle(&text).await {
                                return ended;
                            }
                        }
                        Incoming::Control => {}
                        Incoming::End(ended) => return ended,
                    }
                }
                _ = outgoing.notified() => {}
                _ = resend => {
                    self.resend_at = None;
                    self.delivery.resend_results();
                }
                _ = liveness.tick() => {
                    if last_seen.elapsed() > silence_limit(heartbeat) {
                        let reason = format!("the coordinator was silent for {MISSED_HEARTBEATS} heartbeats");
                        return dropped(reason);
                    }
                }
            }
        }
    }

    /// Sends whatever is due.
    async fn pump(&mut self) -> Result<(), Ended> {
        let due = self
            .delivery
            .due(&self.context.ledger, &self.context.outbox);
        for message in due {
            self.send(message).await?;
        }
        Ok(())
    }

    async fn send(&self, message: ProbeMessage) -> Result<(), Ended> {
        self.frames
            .send(Message::text(message.encode()))
            .await
            .map_err(|_| dropped("the connection can no longer be written to"))
    }

    async fn handle(&mut self, text: &str) -> Result<(), Ended> {
        let message = ServerMessage::decode(text)
            .map_err(|e| dropped(format!("unreadable message from the coordinator: {e}")))?;
        match message {
            ServerMessage::Operation(order) => {
                let id = order.operation_id.clone();
                match self.context.scheduler.take(order).await {
                    Ok(()) => self.delivery.forget_progress(&id),
                    Err(error) => tracing::error!(
                        operation = %id, %error,
                        "cannot record an operation; it is taken on when the coordinator sends it again"
                    ),
                }
            }
            ServerMessage::ResultAck(ack) => {
                if let Err(error) = self.context.outbox.acknowledge(&ack.unique_code).await {
                    tracing::error!(unique_code = %ack.unique_code, %error, "cannot delete an acknowledged result; it will be sent again");
                }
                self.delivery.acknowledged(&ack.unique_code);
                self.store_backoff.reset();
            }
            ServerMessage::Error(notice) if notice.code == error_code::STORE_UNAVAILABLE => {
                if self.resend_at.is_none() {
                    let delay = self.store_backoff.next_delay();
                    self.resend_at = Some(Instant::now() + delay);
                    tracing::warn!(message = %notice.message, retry_in_ms = delay.as_millis() as u64, "coordinator store unavailable; results will be sent again");
                }
            }
            ServerMessage::Error(notice) if notice.code == error_code::UNKNOWN_OPERATION => {
                self.unknown_operation(notice).await;
            }
            ServerMessage::Error(notice)
                if notice.code == error_code::OVER_QUOTA
                    || notice.code == error_code::OUTSIDE_WINDOW =>
            {
                self.refused_for_good(notice).await;
            }
            ServerMessage::Error(notice) => {
                tracing::warn!(code = %notice.code, message = %notice.message, "the coordinator refused a message");
            }
            ServerMessage::Welcome(_) => tracing::debug!("second welcome ignored"),
        }
        Ok(())
    }

    /// The coordinator no longer has the operation (it was deleted): nothing can store its
    /// results, and announcing it would be refused on every link, so it is withdrawn. A notice
    /// comes for each stale message sent, so the later ones usually find nothing left.
    async fn unknown_operation(&mut self, notice: ErrorNotice) {
        let Some(id) = notice.operation_id else {
            tracing::warn!(message = %notice.message, "unknown_operation naming no operation ignored");
            return;
        };
        let withdrawal = match self.context.scheduler.withdraw(&id).await {
            Ok(withdrawal) => withdrawal,
            Err(error) => {
                tracing::error!(operation = %id, %error, "cannot forget an operation the coordinator no longer has; retried at its next unknown_operation");
                return;
            }
        };
        self.delivery.withdrawn(&id, &withdrawal.discarded);
        if withdrawal.known {
            tracing::warn!(operation = %id, "the coordinator no longer has this operation; stopped and forgotten");
        }
        if !withdrawal.discarded.is_empty() {
            tracing::warn!(operation = %id, results = withdrawal.discarded.len(), "results of an operation the coordinator no longer has discarded: nothing can store them");
        }
        if !withdrawal.known && withdrawal.discarded.is_empty() {
            tracing::debug!(operation = %id, message = %notice.message, "unknown_operation for an operation the probe does not hold; ignored");
        }
    }

    /// The coordinator will never store this result (past its operation's quota, or measured
    /// outside its window): re-sending it would be refused forever, so it leaves the outbox
    /// and the window like an acknowledged one.
    async fn refused_for_good(&mut self, notice: ErrorNotice) {
        let Some(code) = notice.unique_code else {
            tracing::warn!(code = %notice.code, message = %notice.message, "refusal naming no result ignored");
            return;
        };
        if let Err(error) = self.context.outbox.acknowledge(&code).await {
            tracing::error!(unique_code = %code, %error, "cannot drop a refused result; it will be sent again");
        }
        self.delivery.acknowledged(&code);
        tracing::warn!(operation = ?notice.operation_id, unique_code = %code, reason = %notice.code, message = %notice.message, "the coordinator refused a result for good; dropped");
    }
}

fn hello(context: &Context) -> ProbeMessage {
    ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: concat!("pladmed-probe/", env!("CARGO_PKG_VERSION")).to_string(),
        total_credits: context.total_credits.get(),
        in_use_credits: context.ledger.in_use_credits(),
        clock_offset_ms: context.clock.offset_ms(),
    })
}

async fn await_welcome(stream: &mut Stream) -> Result<Welcome, Ended> {
    let deadline = Instant::now() + WELCOME_TIMEOUT;
    loop {
        let frame = tokio::time::timeout_at(deadline, stream.next())
            .await
            .map_err(|_| dropped("no welcome within 10 s of hello"))?;
        match classify(frame) {
            Incoming::Text(text) => {
                return match ServerMessage::decode(&text) {
                    Ok(ServerMessage::Welcome(welcome)) => Ok(welcome),
                    Ok(other) => Err(dropped(format!("expected welcome, got {other:?}"))),
                    Err(error) => Err(dropped(format!("unreadable welcome: {error}"))),
                }
            }
            Incoming::Control => continue,
            Incoming::End(ended) => return Err(ended),
        }
    }
}

enum Incoming {
    Text(String),
    Control,
    End(Ended),
}

fn classify(frame: Option<Result<Message, tungstenite::Error>>) -> Incoming {
    match frame {
        Some(Ok(Message::Text(text))) => Incoming::Text(text.as_str().to_string()),
        Some(Ok(Message::Close(frame))) => Incoming::End(closed(frame)),
        Some(Ok(Message::Binary(_))) => {
            tracing::warn!("binary frame from the coordinator ignored");
            Incoming::Control
        }
        Some(Ok(_)) => Incoming::Control,
        Some(Err(error)) => Incoming::End(dropped(format!("link failed: {error}"))),
        None => Incoming::End(dropped("the connection closed")),
    }
}

fn closed(frame: Option<CloseFrame>) -> Ended {
    let close = frame.map_or(CloseReason::fixed(CloseCode::Status.into(), ""), |f| {
        CloseReason::new(f.code.into(), f.reason.to_string())
    });
    match close.code {
        close::UNAUTHORIZED => Ended::Refused(Refused::Unauthorized(close.reason.into_owned())),
        close::SUPERSEDED => Ended::Refused(Refused::Superseded(close.reason.into_owned())),
        _ => dropped(format!("closed by the coordinator with {close}")),
    }
}
