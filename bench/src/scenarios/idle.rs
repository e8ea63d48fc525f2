//! Idle: N connected probes that only answer heartbeats; server memory per probe and CPU use
//! over a window. Baseline: the same N connections held by the floor server.

use super::{connect_floor, connect_probes, watch_operations};
use crate::floor::Floor;
use crate::report::Report;
use crate::server;
use crate::system::{cpu_percent, rss_bytes};
use crate::Common;
use clap::Args;
use std::time::Duration;
use testkit::client::Api;

#[derive(Args, Clone)]
pub struct Options {
    /// Connected probes.
    #[arg(long, default_value_t = 10_000)]
    probes: usize,
    /// CPU measuring window.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
}

impl Options {
    pub fn small() -> Self {
        Options {
            probes: 500,
            seconds: 5,
        }
    }
}

/// Settling time after connecting, before memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// Both processes use mimalloc, which returns freed memory to the system lazily, when the
/// freeing thread next allocates. The server's setup (argon2 hashing of passwords: 19 MiB each)
/// left over 10 MiB freed but not returned when "before" was read, which made the per-probe
/// figure look smaller than it is. Returned at once, RSS counts what is held.
const PURGE_AT_ONCE: (&str, &str) = ("MIMALLOC_PURGE_DELAY", "0");

struct Usage {
    before: u64,
    after: u64,
    cpu: f64,
}

async fn measure<F>(pid: u32, connect: F, window: Duration) -> anyhow::Result<Usage>
where
    F: std::future::Future<Output = anyhow::Result<Vec<testkit::probe::Socket>>>,
{
    tokio::time::sleep(SETTLE).await;
    let before = rss_bytes(pid)?;
    let sockets = connect.await?;
    let (tx, _seen) = tokio::sync::mpsc::unbounded_channel();
    let _readers = watch_operations(sockets, tx);
    tokio::time::sleep(SETTLE).await;
    let after = rss_bytes(pid)?;
    let cpu = cpu_percent(pid, window).await?;
    Ok(Usage { before, after, cpu })
}

pub async fn run(common: &Common, o: &Options, report: &mut Report) -> anyhow::Result<()> {
    let window = Duration::from_secs(o.seconds);
    let ours = {
        // Heartbeats at 20 s (the default): the window sees them.
        let (name, value) = PURGE_AT_ONCE;
        let server = server::start(common, &[(name, value.into())]).await?;
        let api = Api::setup(&server, 1_000).await?;
        let probes = api.create_probes(o.probes).await?;
        measure(server.pid(), connect_probes(server.addr, &probes), window).await?
    };
    let floor = {
        let floor = Floor::start_with_env(64, 64, &[PURGE_AT_ONCE])?;
        measure(floor.pid(), connect_floor(floor.ws, o.probes), window).await?
    };
    let name = format!("idle n={}", o.probes);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let per_probe = |u: &Usage| u.after.saturating_sub(u.before) as f64 / 1024.0 / o.probes as f64;
    report.add(
        &name,
        "server RSS before probes",
        "MiB",
        mib(ours.before),
        Some(mib(floor.before)),
    );
    report.add(
        &name,
        "server RSS with probes",
        "MiB",
        mib(ours.after),
        Some(mib(floor.after)),
    );
    report.add(
        &name,
        "RSS per idle probe",
        "KiB",
        per_probe(&ours),
        Some(per_probe(&floor)),
    );
    report.add(
        &name,
        &format!("server CPU over {}s", o.seconds),
        "% core",
        ours.cpu,
        Some(floor.cpu),
    );
    Ok(())
}
