//! Ingest: P probes each keep W results unacknowledged, sending a fixed count of realistic
//! traceroute results; acknowledged results per second and ack latency. Baseline: the same
//! documents inserted straight through the store layer (same store, same durability) by P
//! concurrent writers, so the ratio is the coordinator's overhead.
//!
//! With `--instances K --redis URL` (and `--mongodb`), the same P probes are also spread over K
//! instances sharing the MongoDB database and a Redis hub, the operation created on the first;
//! those figures are printed beside the single-instance run's on MongoDB.

use super::connect_spread;
use super::result_frame::{traceroute, Template};
use crate::report::{Latencies, Report};
use crate::server;
use crate::Common;
use chrono::Utc;
use clap::Args;
use futures::{SinkExt, StreamExt};
use pladmed::domain::{Credits, OperationId, ProbeId, ResultId};
use pladmed::store::{MeasurementResult, Operation, Reward, Store};
use probe_protocol::{ContentFormat, OperationKind, RawContent, ResultFormat, ServerMessage};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::client::Api;
use testkit::probe::{self, Socket};
use testkit::process::Server;
use tokio_tungstenite::tungstenite::Message;

#[derive(Args, Clone)]
pub struct Options {
    /// Probes sending at once.
    #[arg(long, default_value_t = 100)]
    probes: usize,
    /// Unacknowledged results each probe keeps in flight.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Results each probe sends.
    #[arg(long, default_value_t = 200)]
    results_per_probe: usize,
    /// Longest the sending may take.
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
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
            probes: 20,
            window: 16,
            results_per_probe: 50,
            max_seconds: 20,
            instances: 1,
            redis: None,
        }
    }
}

#[derive(Default)]
struct Sent {
    acked: usize,
    errors: usize,
    latencies: Vec<Duration>,
    first_send: Option<Instant>,
    last_ack: Option<Instant>,
}

/// Waits for the operation, then streams `o.results_per_probe` results with a window.
async fn stream(
    mut ws: Socket,
    index: usize,
    template: Arc<Template>,
    o: Options,
    deadline: Instant,
) -> Sent {
    let mut sent = Sent::default();
    let until = tokio::time::Instant::from_std(deadline);
    loop {
        match tokio::time::timeout_at(until, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if probe::is_operation(&t) => break,
            Ok(Some(Ok(_))) => {}
            _ => return sent,
        }
    }
    let mut in_flight: HashMap<String, Instant> = HashMap::new();
    let mut next = 0;
    while sent.acked + sent.errors < o.results_per_probe {
        while in_flight.len() < o.window && next < o.results_per_probe {
            let code = format!("p{index}-r{next}");
            let now = Instant::now();
            sent.first_send.get_or_insert(now);
            if ws.send(Message::text(template.frame(&code))).await.is_err() {
                return sent;
            }
            in_flight.insert(code, now);
            next += 1;
        }
        let text = match tokio::time::timeout_at(until, ws.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => text,
            Ok(Some(Ok(_))) => continue,
            _ => return sent,
        };
        match ServerMessage::decode(&text) {
            Ok(ServerMessage::ResultAck(ack)) => {
                if let Some(at) = in_flight.remove(&ack.unique_code) {
                    let now = Instant::now();
                    sent.latencies.push(now - at);
                    sent.last_ack = Some(now);
                    sent.acked += 1;
                }
            }
            Ok(ServerMessage::Error(e)) => {
                eprintln!("ingest: probe {index}: {}", e.message);
                sent.errors += 1;
            }
            _ => {}
        }
    }
    sent
}

struct Outcome {
    per_second: f64,
    latencies: Latencies,
    count: usize,
}

/// The probes spread evenly over `servers`, the operation created on the first.
async fn through_server(servers: &[Server], o: &Options) -> anyhow::Result<(Outcome, usize)> {
    let per_probe = o.results_per_probe as u64 + 120;
    let api = Api::setup(&servers[0], o.probes as u64 * per_probe + 1_000).await?;
    let probes = api.create_probes(o.probes).await?;
    let ids: Vec<String> = probes.iter().map(|p| p.identifier.clone()).collect();
    let sockets = connect_spread(servers, &api, &probes, super::WELCOME, |socket| socket).await?;
    let deadline = Instant::now() + Duration::from_secs(o.max_seconds);
    let params = testkit::params::ping_producing(o.results_per_probe);
    let operation = api.ping_with(&ids, params).await?;
    let template = Arc::new(Template::new(&operation));
    let frame_bytes = template.frame("p0-r0").len();
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(stream(ws, i, template.clone(), o.clone(), deadline)))
        .collect();
    let mut all = Sent::default();
    for task in tasks {
        let sent = task.await?;
        all.acked += sent.acked;
        all.errors += sent.errors;
        all.latencies.extend(sent.latencies);
        all.first_send = all.first_send.min(sent.first_send).or(sent.first_send);
        all.last_ack = all.last_ack.max(sent.last_ack);
    }
    let span = match (all.first_send, all.last_ack) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => f64::INFINITY,
    };
    let outcome = Outcome {
        per_second: all.acked as f64 / span,
        latencies: Latencies::new(all.latencies),
        count: all.acked,
    };
    Ok((outcome, frame_bytes))
}

/// The store's own write rate: the same documents, P concurrent writers, no coordinator.
async fn through_store(common: &Common, o: &Options) -> anyhow::Result<Outcome> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = match &common.mongodb {
        Some(uri) => {
            let database = format!("pladmed_bench_raw_{}", std::process::id());
            Arc::new(pladmed::store::mongo::MongoStore::connect(uri, &database).await?)
        }
        None => Arc::new(pladmed::store::embedded::EmbeddedStore::open(dir.path())?),
    };
    let user = pladmed::accounts::register(
        store.as_ref(),
        &pladmed::accounts::PasswordHashing::new(1),
        "raw@bench.example.org",
        testkit::PASSWORD,
        false,
    )
    .await?;
    let reward = Reward {
        user: user.id,
        credits: Credits::new(10).expect("small"),
    };
    // One operation assigned to every writer, as the server's is to every probe: a result is
    // stored only for an assigned probe.
    let probes: Vec<ProbeId> = (0..o.probes).map(|_| ProbeId::generate()).collect();
    let operation = Operation {
        id: OperationId::generate(),
        owner: user.id,
        kind: OperationKind::Ping,
        params: serde_json::Map::new(),
        probes: probes.clone(),
        credits: Credits::ZERO,
        credits_per_probe: 0,
        result_format: ResultFormat::Json,
        stop_time: Utc::now() + chrono::Duration::hours(1),
        created_at: Utc::now(),
        max_results_per_probe: o.results_per_probe as u64,
    };
    store.create_operation(&operation).await?;
    let (operation, content) = (operation.id, RawContent::from(traceroute()));
    let deadline = Instant::now() + Duration::from_secs(o.max_seconds);
    let start = Instant::now();
    let writers: Vec<_> = probes
        .into_iter()
        .map(|probe| {
            let (store, content, count) = (store.clone(), content.clone(), o.results_per_probe);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                for n in 0..count {
                    if Instant::now() > deadline {
                        break;
                    }
                    let result = MeasurementResult {
                        id: ResultId::generate(),
                        operation,
                        probe,
                        unique_code: format!("r{n}"),
                        format: ContentFormat::Json,
                        content: content.clone(),
                        error: None,
                        measured_at: Utc::now(),
                        received_at: Utc::now(),
                    };
                    let at = Instant::now();
                    store.insert_result(&result, &reward).await?;
                    latencies.push(at.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for writer in writers {
        latencies.extend(writer.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(Outcome {
        per_second: latencies.len() as f64 / elapsed,
        count: latencies.len(),
        latencies: Latencies::new(latencies),
    })
}

pub async fn run(common: &Common, o: &Options, report: &mut Report) -> anyhow::Result<()> {
    anyhow::ensure!(
        o.instances == 1 || (common.mongodb.is_some() && o.redis.is_some()),
        "--instances needs --redis URL and --mongodb URI (a shared store)"
    );
    let mut stores = vec![("embedded", None)];
    if let Some(uri) = &common.mongodb {
        stores.push(("mongodb", Some(uri.clone())));
    }
    for (label, mongodb) in stores {
        let common = Common {
            mongodb,
            ..common.clone()
        };
        let single = server::start(&common, &[]).await?;
        let (ours, frame_bytes) = through_server(std::slice::from_ref(&single), o).await?;
        drop(single);
        let raw = through_store(&common, o).await?;
        let name = format!("ingest {label} p={} w={}", o.probes, o.window);
        if let Some(uri) = &common.mongodb {
            let floor = super::mongo_floor::insert_one_rate(
                uri,
                o.probes,
                o.results_per_probe,
                o.max_seconds,
            )
            .await?;
            report.add(
                &name,
                "acked results/s (vs bare insert_one/s, w:majority j:true)",
                "1/s",
                ours.per_second,
                Some(floor),
            );
        }
        report.add(
            &name,
            "results acked / stored",
            "n",
            ours.count as f64,
            Some(raw.count as f64),
        );
        report.add(
            &name,
            "acked results/s (vs store writes/s)",
            "1/s",
            ours.per_second,
            Some(raw.per_second),
        );
        for (metric, q) in [("p50", 0.5), ("p99", 0.99)] {
            report.add(
                &name,
                &format!("ack latency {metric} (vs insert)"),
                "ms",
                ours.latencies.ms(q),
                Some(raw.latencies.ms(q)),
            );
        }
        report.add(&name, "result frame size", "B", frame_bytes as f64, None);
        if let (Some(redis), Some(_), true) = (&o.redis, &common.mongodb, o.instances > 1) {
            let servers = server::start_cluster(&common, redis, o.instances.into()).await?;
            let (spread, _) = through_server(&servers, o).await?;
            let name = format!("{name} instances={}", o.instances);
            add_spread(report, &name, &spread, &ours);
        }
    }
    Ok(())
}

/// The run over several instances beside the single-instance run on the same store.
fn add_spread(report: &mut Report, name: &str, spread: &Outcome, single: &Outcome) {
    let (count, rate) = (
        "results acked (vs one instance)",
        "acked results/s (vs one instance)",
    );
    report.add(
        name,
        count,
        "n",
        spread.count as f64,
        Some(single.count as f64),
    );
    report.add(
        name,
        rate,
        "1/s",
        spread.per_second,
        Some(single.per_second),
    );
    for (metric, q) in [("p50", 0.5), ("p99", 0.99)] {
        let (ours, one) = (spread.latencies.ms(q), single.latencies.ms(q));
        report.add(
            name,
            &format!("ack latency {metric} (vs one instance)"),
            "ms",
            ours,
            Some(one),
        );
    }
}
