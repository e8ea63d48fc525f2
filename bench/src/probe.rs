//! Simulated probes: real WebSockets speaking the real protocol, spread over many loopback
//! source addresses so that ephemeral ports never run out.

use futures::{SinkExt, StreamExt};
use probe_protocol::{Hello, ProbeMessage, PROTOCOL_VERSION};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Socket = WebSocketStream<TcpStream>;

/// Loopback source addresses used in turn (127.0.1.1 ..).
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
pub async fn open(server: SocketAddr, path: &str, i: usize) -> anyhow::Result<Socket> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source(i), 0))?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async(format!("ws://{server}{path}"), stream).await?;
    Ok(ws)
}

/// Opens a probe link with `token`, says hello and waits for the welcome.
pub async fn connect(server: SocketAddr, token: &str, i: usize) -> anyhow::Result<Socket> {
    tokio::time::timeout(CONNECT_TIMEOUT, async {
        let mut ws = open(server, &format!("/probe/ws?token={token}"), i).await?;
        let hello = ProbeMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            agent: "pladmed-bench/0.1".into(),
            total_credits: 1_000_000,
            in_use_credits: 0,
            clock_offset_ms: None,
        });
        ws.send(Message::text(hello.encode())).await?;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.contains("\"type\":\"welcome\"") => {
                    return Ok(ws)
                }
                Some(Ok(Message::Close(frame))) => anyhow::bail!("closed: {frame:?}"),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("closed before welcome"),
            }
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("no welcome within {CONNECT_TIMEOUT:?}"))?
}

/// Whether a server frame is an `operation` order (cheap: no JSON parse on the hot path).
pub fn is_operation(text: &str) -> bool {
    text.starts_with("{\"type\":\"operation\"")
}
