//! A v1 test probe: a raw WebSocket client of the probe link speaking the probe-protocol
//! crate, so that tests choose every frame (and can send wrong ones). Also the many simulated
//! probes of the benchmark, spread over loopback source addresses.

use crate::wait::WAIT;
use crate::Error;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use probe_protocol::{
    ContentFormat, Hello, ProbeMessage, ResultReport, ServerMessage, PROTOCOL_VERSION,
};
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The probe link's URL on the server at `addr`, with the probe's `token`.
pub fn link_url(addr: SocketAddr, token: &str) -> String {
    format!("ws://{addr}{}?token={token}", probe_protocol::LINK_PATH)
}

/// A `hello` from `agent` offering `total_credits`, none in use.
pub fn hello(agent: &str, total_credits: u64, clock_offset_ms: Option<f64>) -> ProbeMessage {
    ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: agent.into(),
        total_credits,
        in_use_credits: 0,
        clock_offset_ms,
    })
}

/// The `hello` frame of a probe with plenty of credits and no clock offset.
pub fn hello_frame() -> Message {
    Message::text(hello("process-test", 1_000_000, None).encode())
}

/// Result number `n` of `operation` (unique code `result-nnnnn`), with JSON `content`.
pub fn result_frame(operation: &str, n: usize, content: Value) -> Message {
    let report = ProbeMessage::Result(ResultReport {
        operation_id: operation.into(),
        unique_code: format!("result-{n:05}"),
        format: ContentFormat::Json,
        content: content.into(),
        measured_at: Utc::now(),
        error: None,
    });
    Message::text(report.encode())
}

/// The next protocol message on `link`, over any transport (control frames skipped); panics
/// when none comes within [`WAIT`] or the link closes.
pub async fn next_message<S>(link: &mut WebSocketStream<S>) -> ServerMessage
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, link.next())
            .await
            .expect("a frame within the wait")
            .expect("link open")
            .expect("frame readable");
        match frame {
            Message::Text(text) => return ServerMessage::decode(&text).expect("protocol message"),
            Message::Close(close) => panic!("link closed: {close:?}"),
            _ => continue,
        }
    }
}

/// An open probe link.
pub struct TestProbe {
    pub socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl TestProbe {
    /// Opens the probe link of the server at `addr` with `token` (no hello yet).
    pub async fn open(addr: SocketAddr, token: &str) -> TestProbe {
        let (socket, _) = tokio_tungstenite::connect_async(link_url(addr, token))
            .await
            .expect("websocket handshake");
        TestProbe { socket }
    }

    pub async fn hello(&mut self, total_credits: u64) {
        self.send(&hello("pladmed-tests", total_credits, Some(0.5)))
            .await;
    }

    /// Says hello with `total_credits` and reads the welcome.
    pub async fn welcomed(mut self, total_credits: u64) -> TestProbe {
        self.hello(total_credits).await;
        match self.recv().await {
            ServerMessage::Welcome(_) => self,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    pub async fn send(&mut self, message: &ProbeMessage) {
        self.send_raw(Message::text(message.encode())).await;
    }

    pub async fn send_raw(&mut self, message: Message) {
        self.socket.send(message).await.expect("frame sent");
    }

    /// The next protocol message (control frames skipped).
    pub async fn recv(&mut self) -> ServerMessage {
        next_message(&mut self.socket).await
    }

    /// Waits for the server to close the link; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let frame = tokio::time::timeout(WAIT, self.socket.next())
                .await
                .expect("close within the wait");
            match frame {
                Some(Ok(Message::Close(Some(close)))) => {
                    return (u16::from(close.code), close.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => {
                    return (u16::from(CloseCode::Status), String::new())
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("link failed without a close frame: {e}"),
                None => panic!("link ended without a close frame"),
            }
        }
    }
}

/// A simulated probe's link, opened from a chosen loopback source address.
pub type Socket = WebSocketStream<TcpStream>;

/// Loopback source addresses used in turn (127.0.1.1 ..), so that ephemeral ports never run
/// out when thousands of links are open.
const SOURCES: u32 = 64;
/// Concurrent connection attempts while opening many links.
pub const CONNECT_CONCURRENCY: usize = 128;
/// How long one link may take to open and be welcomed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(60);

fn source(i: usize) -> IpAddr {
    let n = (i as u32) % SOURCES;
    IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + n as u8))
}

/// Opens a WebSocket to `server` at `path` from the `i`-th source address.
pub async fn open_from(server: SocketAddr, path: &str, i: usize) -> Result<Socket, Error> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source(i), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}{path}"), stream).await?;
    Ok(ws)
}

/// Opens a probe link with `token` from the `i`-th source address, says hello and waits for
/// the welcome (a minute at most).
pub async fn connect_from(server: SocketAddr, token: &str, i: usize) -> Result<Socket, Error> {
    connect_within(server, token, i, CONNECT_TIMEOUT).await
}

/// [`connect_from`], waiting up to `timeout` (a server on a slow database answers thousands of
/// hellos slowly).
pub async fn connect_within(
    server: SocketAddr,
    token: &str,
    i: usize,
    timeout: Duration,
) -> Result<Socket, Error> {
    tokio::time::timeout(timeout, async {
        let mut ws = open_from(
            server,
            &format!("{}?token={token}", probe_protocol::LINK_PATH),
            i,
        )
        .await?;
        let hello = hello("pladmed-bench/0.1", 1_000_000, None);
        ws.send(Message::text(hello.encode())).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"type\":\"welcome\"") => {
                    return Ok(ws)
                }
                Some(Ok(Message::Close(frame))) => {
                    return Err(Error::Harness(format!("closed: {frame:?}")))
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => return Err(Error::Harness("closed before welcome".into())),
            }
        }
    })
    .await
    .map_err(|_| Error::Harness(format!("no welcome within {timeout:?}")))?
}

/// Whether a server frame is an `operation` order (cheap: no JSON parse on the hot path).
pub fn is_operation(text: &str) -> bool {
    text.starts_with("{\"type\":\"operation\"")
}
