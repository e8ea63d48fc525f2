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
    Ok(stream::iter(probes.iter().enumerate())
        .map(|(i, p)| probe::connect_from(server, &p.token, i))
        .buffer_unordered(CONNECT_CONCURRENCY)
        .try_collect()
        .await?)
}

/// Opens the probes' links spread evenly over `servers` (instances of one deployment), in the
/// order of `probes`.
///
/// Returns once the first server lists every probe connected (or after [`LINKS_STORED`], saying
/// how many it lists): an operation created before would select only those.
pub async fn connect_spread(
    servers: &[Server],
    api: &Api,
    probes: &[ProbeCredentials],
) -> anyhow::Result<Vec<Socket>> {
    let share = probes.len().div_ceil(servers.len());
    let mut sockets = Vec::with_capacity(probes.len());
    for (server, probes) in servers.iter().zip(probes.chunks(share)) {
        sockets.extend(connect_probes(server.addr, probes).await?);
    }
    let ids: Vec<String> = probes.iter().map(|p| p.identifier.clone()).collect();
    let connected = api.wait_connected(&ids, LINKS_STORED).await?;
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

/// Reads every link until it closes (answering pings), handing each `operation` frame's arrival
/// time and size to `seen`. The tasks end when the set is dropped.
pub fn watch_operations(
    sockets: Vec<Socket>,
    seen: tokio::sync::mpsc::UnboundedSender<(std::time::Instant, usize)>,
) -> tokio::task::JoinSet<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for mut socket in sockets {
        let seen = seen.clone();
        tasks.spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                    if probe::is_operation(&text) {
                        let _ = seen.send((std::time::Instant::now(), text.len()));
                    }
                }
            }
        });
    }
    tasks
}
