//! Fan-out: N connected probes, one POST /ping selecting all of them; for each probe the time
//! from sending the request to receiving its `operation` frame. Floor: the same N clients on a
//! minimal tokio broadcast server, timed from the trigger message to each receipt.
//!
//! With `--instances K --redis URL` (and `--mongodb`), the same N probes are also spread over K
//! instances sharing the store and a Redis hub, the operations created on the first; those
//! figures are printed beside the single-instance run's.

use super::{connect_floor, connect_spread, watch, watch_operations, Receipt};
use crate::floor::Floor;
use crate::report::{Latencies, Report};
use crate::server;
use crate::Common;
use clap::Args;
use futures::SinkExt;
use std::time::{Duration, Instant};
use testkit::client::{Api, ProbeCredentials};
use testkit::probe;
use testkit::process::Server;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Args, Clone)]
pub struct Options {
    /// Connected probes.
    #[arg(long, default_value_t = 10_000)]
    probes: usize,
    /// Operations created one after the other.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Longest wait for every probe's frame in one round, and for each probe's welcome.
    #[arg(long, default_value_t = 60)]
    round_timeout_s: u64,
    /// Also run the probes spread over this many instances sharing a Redis hub (needs
    /// `--redis` and `--mongodb`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    instances: u16,
    /// The Redis the instances share (`redis://127.0.0.1:6379`).
    #[arg(long)]
    redis: Option<String>,
}

impl Options {
    pub fn small() -> Self {
        Options {
            probes: 500,
            rounds: 3,
            round_timeout_s: 20,
            instances: 1,
            redis: None,
        }
    }
}

/// Receipt times of one round, relative to `start`: of the frames of `operation` (any, if
/// `None`), until `expected` or the timeout. Frames of other operations (a reconnected probe's
/// pending ones) are not counted.
async fn collect(
    seen: &mut mpsc::UnboundedReceiver<Receipt>,
    round: Round<'_>,
    expected: usize,
    timeout: Duration,
    samples: &mut Vec<Duration>,
) -> usize {
    let deadline = tokio::time::Instant::from_std(round.start + timeout);
    let mut got = 0;
    let mut size = 0;
    while got < expected {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(receipt)) => {
                if round.operation.is_some() && receipt.operation.as_deref() != round.operation {
                    continue;
                }
                samples.push(receipt.at.saturating_duration_since(round.start));
                size = receipt.bytes;
                got += 1;
            }
            _ => break,
        }
    }
    if got < expected {
        eprintln!("fanout: only {got} of {expected} frames within {timeout:?}");
    }
    size
}

/// When a round started, and the operation it created (none on the floor).
#[derive(Clone, Copy)]
struct Round<'a> {
    start: Instant,
    operation: Option<&'a str>,
}

/// Receipt times over `rounds` operations created on the first of `servers`, the `probes`
/// (registered by `api`'s user) spread evenly over all of them; and the size of the operation
/// frame.
async fn measure(
    servers: &[Server],
    api: &Api,
    probes: &[ProbeCredentials],
    o: &Options,
) -> anyhow::Result<(Latencies, usize)> {
    let timeout = Duration::from_secs(o.round_timeout_s);
    let api = api.on(&servers[0]);
    let ids: Vec<String> = probes.iter().map(|p| p.identifier.clone()).collect();
    let (tx, mut seen) = mpsc::unbounded_channel();
    let _readers = connect_spread(servers, &api, probes, timeout, |socket| {
        watch(socket, tx.clone())
    })
    .await?;
    let (mut samples, mut frame_bytes) = (Vec::new(), 0);
    for _ in 0..o.rounds {
        let start = Instant::now();
        let operation = api.ping(&ids).await?;
        let round = Round {
            start,
            operation: Some(&operation),
        };
        frame_bytes = collect(&mut seen, round, o.probes, timeout, &mut samples).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok((Latencies::new(samples), frame_bytes))
}

/// With `--instances K`, the single server runs on the database the cluster takes over after
/// it, so that the cluster links the probes the single run registered instead of registering
/// as many again (on a slow database, most of a large run).
pub async fn run(common: &Common, o: &Options, report: &mut Report) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(o.round_timeout_s);
    let database = server::fresh_database();
    let single = if o.instances > 1 {
        server::start_single_on(common, &database).await?
    } else {
        server::start(common, &[]).await?
    };
    let phases = if o.instances > 1 { 2 } else { 1 };
    let credits = (o.probes * o.rounds * phases) as u64 + 1_000;
    let api = Api::setup(&single, credits).await?;
    let probes = api.create_probes(o.probes).await?;
    let (ours, frame_bytes) = measure(&[single], &api, &probes, o).await?;
    let floor = {
        let floor = Floor::start(64, 64)?;
        let sockets = connect_floor(floor.ws, o.probes).await?;
        let mut trigger = probe::open_from(floor.ws, "/", o.probes).await?;
        let (tx, mut seen) = mpsc::unbounded_channel();
        let _readers = watch_operations(sockets, tx);
        let mut samples = Vec::new();
        for _ in 0..o.rounds {
            let start = Instant::now();
            trigger
                .send(Message::text(frame_bytes.max(64).to_string()))
                .await?;
            let round = Round {
                start,
                operation: None,
            };
            collect(&mut seen, round, o.probes, timeout, &mut samples).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Latencies::new(samples)
    };
    let name = format!("fanout n={}", o.probes);
    add_figures(report, &name, o, &ours, &floor);
    report.add(&name, "operation frame size", "B", frame_bytes as f64, None);
    if o.instances > 1 {
        let redis = o
            .redis
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("--instances needs --redis URL (and --mongodb)"))?;
        let servers =
            server::start_cluster_on(common, redis, o.instances.into(), &database).await?;
        let (spread, _) = measure(&servers, &api, &probes, o).await?;
        add_figures(
            report,
            &format!("fanout n={} instances={}", o.probes, o.instances),
            o,
            &spread,
            &ours,
        );
    }
    Ok(())
}

/// Frames received and receipt latencies of `ours` beside `baseline` (the floor, or one
/// instance).
fn add_figures(
    report: &mut Report,
    name: &str,
    o: &Options,
    ours: &Latencies,
    baseline: &Latencies,
) {
    let expected = (o.probes * o.rounds) as f64;
    report.add(
        name,
        "frames received",
        "%",
        ours.count() as f64 / expected * 100.0,
        Some(baseline.count() as f64 / expected * 100.0),
    );
    for (metric, q) in [("p50", 0.5), ("p99", 0.99), ("max", 1.0)] {
        report.add(
            name,
            &format!("request→frame {metric}"),
            "ms",
            ours.ms(q),
            Some(baseline.ms(q)),
        );
    }
}
