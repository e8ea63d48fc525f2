//! Ingest: P probes each keep W results unacknowledged, sending a fixed count of realistic
//! traceroute results; acknowledged results per second and ack latency. Baseline: the same
//! documents inserted straight through the store layer (same store, same durability) by P
//! concurrent writers, so the ratio is the coordinator's overhead.

use super::connect_probes;
use crate::report::{Latencies, Report};
use crate::server;
use crate::Common;
use chrono::Utc;
use clap::Args;
use futures::{SinkExt, StreamExt};
use pladmed::domain::{Credits, OperationId, ProbeId, ResultId};
use pladmed::store::{MeasurementResult, Operation, Reward, Store};
use probe_protocol::{
    ContentFormat, OperationKind, ProbeMessage, RawContent, ResultFormat, ResultReport,
    ServerMessage,
};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::client::Api;
use testkit::probe::{self, Socket};
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
}

impl Options {
    pub fn small() -> Self {
        Options {
            probes: 20,
            window: 16,
            results_per_probe: 50,
            max_seconds: 20,
        }
    }
}

const CODE: &str = "@@CODE@@";

/// A scamper traceroute (JSON output) of 12 hops: about 3.5 KiB, like a real one.
pub fn traceroute() -> Value {
    let hops: Vec<Value> = (1..=12)
        .map(|ttl| {
            json!({
                "addr": format!("10.{ttl}.{}.1", ttl * 7 % 256), "probe_ttl": ttl, "probe_id": 1,
                "probe_size": 44, "tx": {"sec": 1_764_000_000 + ttl, "usec": 123_456},
                "rtt": 1.234 * ttl as f64, "reply_ttl": 255 - ttl, "reply_tos": 0,
                "reply_ipid": 4_000 + ttl, "reply_size": 56, "icmp_type": 11, "icmp_code": 0,
                "icmp_q_ttl": 1, "icmp_q_ipl": 44, "icmp_q_tos": 0
            })
        })
        .collect();
    json!([{
        "type": "trace", "version": "0.1", "userid": 0, "method": "icmp-echo-paris",
        "src": "192.0.2.10", "dst": "198.51.100.20", "icmp_sum": 54_321, "stop_reason": "COMPLETED",
        "stop_data": 0, "start": {"sec": 1_764_000_000, "usec": 1, "ftime": "2025-11-24 16:00:00"},
        "hop_count": 12, "attempts": 2, "hoplimit": 0, "firsthop": 1, "wait": 5, "wait_probe": 0,
        "tos": 0, "probe_size": 44, "probe_count": 12, "hops": hops
    }])
}

/// A result frame split around its unique code, so sending costs no JSON encoding.
struct Template(String, String);

impl Template {
    fn new(operation: &str) -> Template {
        let frame = ProbeMessage::Result(ResultReport {
            operation_id: operation.into(),
            unique_code: CODE.into(),
            format: ContentFormat::Json,
            content: traceroute().into(),
            measured_at: Utc::now(),
            error: None,
        })
        .encode();
        let (head, tail) = frame.split_once(CODE).expect("code in frame");
        Template(head.into(), tail.into())
    }

    fn frame(&self, code: &str) -> String {
        format!("{}{code}{}", self.0, self.1)
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

async fn through_server(common: &Common, o: &Options) -> anyhow::Result<(Outcome, usize)> {
    let server = server::start(common, &[]).await?;
    let per_probe = o.results_per_probe as u64 + 120;
    let api = Api::setup(&server, o.probes as u64 * per_probe + 1_000).await?;
    let probes = api.create_probes(o.probes).await?;
    let ids: Vec<String> = probes.iter().map(|p| p.identifier.clone()).collect();
    let sockets = connect_probes(server.addr, &probes).await?;
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
    let mut stores = vec![("embedded", None)];
    if let Some(uri) = &common.mongodb {
        stores.push(("mongodb", Some(uri.clone())));
    }
    for (label, mongodb) in stores {
        let common = Common {
            mongodb,
            ..common.clone()
        };
        let (ours, frame_bytes) = through_server(&common, o).await?;
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
    }
    Ok(())
}
