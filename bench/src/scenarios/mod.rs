//! The scenarios, and what several of them share: opening many links at once.

pub mod fanout;
pub mod idle;
pub mod ingest;
pub mod mongo_floor;
pub mod rest;
pub mod result_frame;

use futures::{stream, StreamExt, TryStreamExt};
use std::net::SocketAddr;
use testkit::client::{Api, ProbeCredentials};
use testkit::probe::{self, Socket, CONNECT_CONCURRENCY};
use testkit::process::Server;

/// Opens one welcomed link per probe, `CONNECT_CONCURRENCY` at a time.
pub async fn connect_probes(
    server: SocketAddr,
    probes: &[ProbeCredentials],
) -> anyhow::Result<Vec<Socket>> {
    connect_probes_then(server, probes, WELCOME, |socket| socket).await
}

/// How long one link may take to be welcomed, unless the scenario says otherwise.
pub const WELCOME: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens one welcomed link per probe, `CONNECT_CONCURRENCY` at a time, handing each to `then`
/// as soon as it is welcomed (a link nobody reads stops answering the server's heartbeats,
/// and is closed as dead after a minute, long before 10,000 links are open).
async fn connect_probes_then<T>(
    server: SocketAddr,
    probes: &[ProbeCredentials],
    welcome: std::time::Duration,
    then: impl Fn(Socket) -> T + Copy,
) -> anyhow::Result<Vec<T>> {
    Ok(stream::iter(probes.iter().enumerate())
        .map(|(i, p)| async move {
            probe::connect_within(server, &p.token, i, welcome)
                .await
                .map(then)
        })
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await?)
}

/// Opens the probes' links spread evenly over `servers` (instances of one deployment), in the
/// order of `probes`, each welcomed within `welcome`.
///
/// Returns once the first server lists every probe connected (or after [`LINKS_STORED`], saying
/// how many it lists): an operation created before would select only those.
pub async fn connect_spread<T>(
    servers: &[Server],
    api: &Api,
    probes: &[ProbeCredentials],
    welcome: std::time::Duration,
    then: impl Fn(Socket) -> T + Copy,
) -> anyhow::Result<Vec<T>> {
    let share = probes.len().div_ceil(servers.len());
    let mut sockets = Vec::with_capacity(probes.len());
    for (server, probes) in servers.iter().zip(probes.chunks(share)) {
        sockets.extend(connect_probes_then(server.addr, probes, welcome, then).await?);
    }
    let ids: Vec<String> = probes.iter().map(|p| p.identifier.clone()).collect();
    let connected = api.wait_connected(&ids, LINKS_STORED.max(welcome)).await?;
    if connected < ids.len() {
        eprintln!("only {connected} of {} probes listed connected", ids.len());
    }
    Ok(sockets)
}

/// Longest wait for the server to list freshly opened links as connected.
const LINKS_STORED: std::time::Duration = std::time::Duration::from_secs(120);

/// Opens `n` plain WebSockets to the floor server.
pub async fn connect_floor(server: SocketAddr, n: usize) -> anyhow::Result<Vec<Socket>> {
    Ok(stream::iter(0..n)
        .map(|i| probe::open_from(server, "/", i))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await?)
}

/// One `operation` frame a probe received.
pub struct Receipt {
    pub at: std::time::Instant,
    pub bytes: usize,
    /// Its `operation_id` (none on the floor, whose frames only look like operations).
    pub operation: Option<String>,
}

/// Where readers hand what they receive.
pub type Seen = tokio::sync::mpsc::UnboundedSender<Receipt>;

/// A task reading one link; stopped when dropped.
pub struct Reader(tokio::task::JoinHandle<()>);

impl Drop for Reader {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Reads `socket` until it closes (answering pings), handing each `operation` frame to `seen`.
pub fn watch(mut socket: Socket, seen: Seen) -> Reader {
    Reader(tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                if probe::is_operation(&text) {
                    let at = std::time::Instant::now();
                    let operation = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|frame| frame["operation_id"].as_str().map(str::to_string));
                    let bytes = text.len();
                    let _ = seen.send(Receipt {
                        at,
                        bytes,
                        operation,
                    });
                }
            }
        }
    }))
}

/// [`watch`] for every link.
pub fn watch_operations(sockets: Vec<Socket>, seen: Seen) -> Vec<Reader> {
    sockets
        .into_iter()
        .map(|socket| watch(socket, seen.clone()))
        .collect()
}
