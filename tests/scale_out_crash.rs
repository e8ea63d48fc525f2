//! An instance crash with scale-out: 100 probes linked to instance A (99 simulated ones and the
//! reference probe, each given both instances' URLs), A killed with SIGKILL while results are in
//! flight; the probes move to B, an operation created on B reaches every one of them, and every
//! result is stored exactly once. Needs MongoDB, `redis-server`, scamper (the reference probe
//! pings 127.0.0.1) and the `pladmed-probe` binary (built if missing).

use futures::{SinkExt, StreamExt};
use probe_protocol::ServerMessage;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

use testkit::cluster::Cluster;
use testkit::probe::{hello_frame, result_frame};
use testkit::process::Server;

const SIMULATED: usize = 99;

/// What one simulated probe went through.
#[derive(Default)]
struct Seen {
    /// Whether a link is welcomed now.
    linked: bool,
    /// Operations received.
    orders: HashSet<String>,
    /// Results sent and not yet acknowledged, by operation.
    unacked: BTreeMap<String, Message>,
    /// The last `error` the server sent.
    error: Option<String>,
}

/// A probe that answers each new operation with one result (code `result-<index>`), re-sends
/// unacknowledged results on every new link and a second after an `error`, and after each
/// drop tries the next URL.
fn simulate(index: usize, urls: Vec<String>, seen: Arc<Mutex<Seen>>) {
    tokio::spawn(async move {
        for url in urls.iter().cycle() {
            if let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await {
                let _ = serve(index, &mut socket, &seen).await;
            }
            seen.lock().unwrap().linked = false;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

async fn serve(
    index: usize,
    socket: &mut testkit::cluster::Link,
    seen: &Mutex<Seen>,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    socket.send(hello_frame()).await?;
    let mut resend_at = None;
    loop {
        let resend = async {
            match resend_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let text = tokio::select! {
            frame = socket.next() => match frame {
                Some(frame) => match frame? {
                    Message::Text(text) => text,
                    _ => continue,
                },
                None => return Ok(()),
            },
            () = resend => {
                resend_at = None;
                let unacked: Vec<Message> = seen.lock().unwrap().unacked.values().cloned().collect();
                for frame in unacked {
                    socket.send(frame).await?;
                }
                continue;
            }
        };
        let mut out = Vec::new();
        {
            let mut seen = seen.lock().unwrap();
            match ServerMessage::decode(&text).expect("decodes") {
                ServerMessage::Welcome(_) => {
                    seen.linked = true;
                    out.extend(seen.unacked.values().cloned());
                }
                ServerMessage::Operation(order) => {
                    let id = order.operation_id;
                    if seen.orders.insert(id.clone()) {
                        let content = json!([{"type": "ping", "seq": index, "rtt": 0.042}]);
                        let frame = result_frame(&id, index, content);
                        seen.unacked.insert(id, frame.clone());
                        out.push(frame);
                    }
                }
                ServerMessage::ResultAck(ack) => {
                    seen.unacked.remove(&ack.operation_id);
                }
                // Not stored (e.g. a transaction clash): re-sent a second later, as the
                // reference probe does.
                ServerMessage::Error(error) => {
                    seen.error = Some(format!("{error:?}"));
                    let later = tokio::time::Instant::now() + Duration::from_secs(1);
                    resend_at.get_or_insert(later);
                }
            }
        }
        for frame in out {
            socket.send(frame).await?;
        }
    }
}

/// The `pladmed-probe` binary beside the server's; built when absent (a workspace build
/// has it).
fn reference_probe_binary() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_pladmed")).with_file_name("pladmed-probe");
    if !path.exists() {
        let built = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "pladmed-probe", "--bin", "pladmed-probe"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(built.success(), "cargo build -p pladmed-probe");
    }
    path
}

/// `pladmed_probes_connected` of `server`'s GET /metrics.
async fn links_held(client: &reqwest::Client, server: &Server) -> Option<f64> {
    let text = client.get(server.url("/metrics")).send().await.ok()?;
    let text = text.text().await.ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("pladmed_probes_connected "))?
        .parse()
        .ok()
}

/// Waits up to `limit` for `done`, polling; `done` says what is still missing.
async fn eventually(
    limit: Duration,
    what: &str,
    mut done: impl AsyncFnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + limit;
    while let Err(missing) = done().await {
        assert!(
            Instant::now() < deadline,
            "not within {limit:?}: {what} ({missing})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `Ok` if no simulated probe is `what`; else how many are, and what the server last said to
/// a few of them.
fn none(sims: &[Arc<Mutex<Seen>>], what: &str, is: impl Fn(&Seen) -> bool) -> Result<(), String> {
    let sims: Vec<_> = sims.iter().map(|s| s.lock().unwrap()).collect();
    let found: Vec<_> = sims.iter().filter(|s| is(s)).collect();
    let said: Vec<_> = found
        .iter()
        .take(3)
        .map(|s| (s.linked, s.unacked.keys().collect::<Vec<_>>(), &s.error))
        .collect();
    expect(found.len(), 0).map_err(|e| {
        format!("simulated probes {what}: {e}; (linked, unacked, last error) of some: {said:?}")
    })
}

/// `Ok` if `actual` is `expected`, else both.
fn expect<T: PartialEq + std::fmt::Debug>(actual: T, expected: T) -> Result<(), String> {
    match actual == expected {
        true => Ok(()),
        false => Err(format!("{actual:?}, not {expected:?}")),
    }
}

/// A ping of `probes` created on `server`, 60 runs a minute for the reference probe. A 503 (a
/// transaction clashing with the results being stored) is retried, as a client would.
async fn ping(server: &Server, token: &str, probes: &[String]) -> String {
    let stop = testkit::stop_time_in(1);
    let params = json!({"cron": "* * * * *", "stop_time": stop, "times_per_minute": 60, "ips": ["127.0.0.1"]});
    let body = json!({"probes": probes, "params": params});
    for _ in 0..30 {
        let (status, answer) = server
            .client()
            .post("/ping", Some(token), body.clone())
            .await;
        match (status.as_u16(), answer) {
            (503, _) => tokio::time::sleep(Duration::from_millis(300)).await,
            (201, operation) => return operation["_id"].as_str().unwrap().to_string(),
            (status, answer) => panic!("{status}: {answer}"),
        }
    }
    panic!("POST /ping answered 503 thirty times");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_of_a_killed_instance_move_to_another_and_nothing_is_stored_twice() {
    let limits = [
        ("PLADMED_WS_MAX_PER_ADDRESS", "1000"),
        ("PLADMED_MAX_PROBES_PER_USER", "1000"),
    ];
    let Some(mut cluster) = Cluster::start(2, &limits).await else {
        return;
    };
    let client = reqwest::Client::new();
    let (a, b) = (cluster.server(0), cluster.server(1));
    // Results pay the probes' owner: another account than the one paying for operations, so
    // that creating one does not clash with the rewards being written.
    let token = a
        .client()
        .funded_by_root("user@example.org", 10_000_000)
        .await
        .token;
    let owner = a
        .client()
        .funded_by_root("owner@example.org", 1)
        .await
        .token;
    let mut ids = Vec::new();
    let mut sims = Vec::new();
    for index in 0..SIMULATED {
        let (id, probe_token) = a.client().register_probe(&owner).await;
        let seen = Arc::new(Mutex::new(Seen::default()));
        simulate(
            index,
            vec![a.ws_url(&probe_token), b.ws_url(&probe_token)],
            seen.clone(),
        );
        ids.push(id);
        sims.push(seen);
    }
    let (reference_id, reference_token) = a.client().register_probe(&owner).await;
    ids.push(reference_id);
    let state = tempfile::tempdir().unwrap();
    let _reference = tokio::process::Command::new(reference_probe_binary())
        .args(["--server", &format!("{},{}", a.url(""), b.url(""))])
        .args([
            "--token",
            &reference_token,
            "--credits",
            "1000000",
            "--no-ntp",
        ])
        .args(["--max-reconnect-s", "1"])
        .arg("--state-dir")
        .arg(state.path())
        .env("PLADMED_PROBE_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the reference probe starts");
    eventually(
        Duration::from_secs(60),
        "100 probes linked to A",
        async || expect(links_held(&client, a).await, Some(100.0)),
    )
    .await;

    let before = ping(a, &token, &ids).await;
    eventually(Duration::from_secs(60), "results in flight", async || {
        let stored = b.client().stored_codes(&before).await.len();
        expect(stored >= 10, true)
    })
    .await;
    drop(cluster.servers.remove(0)); // SIGKILL: no close frame, no flush
    let b = cluster.server(0);
    eventually(
        Duration::from_secs(60),
        "100 probes moved to B",
        async || expect(links_held(&client, b).await, Some(100.0)),
    )
    .await;

    let after = ping(b, &token, &ids).await;
    let reference_code = |codes: &[String]| codes.iter().any(|c| !c.starts_with("result-"));
    // Results are acknowledged once stored: the bound is the store's speed.
    eventually(
        Duration::from_secs(120),
        "every result stored",
        async || {
            none(&sims, "unlinked", |s| !s.linked)?;
            none(&sims, "without the new operation", |s| {
                !s.orders.contains(&after)
            })?;
            none(&sims, "with unacknowledged results", |s| {
                !s.unacked.is_empty()
            })?;
            let codes = b.client().stored_codes(&after).await;
            expect(reference_code(&codes), true).map_err(|e| format!("reference probe: {e}"))
        },
    )
    .await;
    for operation in [&before, &after] {
        let mut count: HashMap<String, usize> = HashMap::new();
        for code in b.client().stored_codes(operation).await {
            *count.entry(code).or_default() += 1;
        }
        assert!(count.values().all(|&n| n == 1), "a result stored twice");
        for index in 0..SIMULATED {
            let code = format!("result-{index:05}");
            assert_eq!(count.get(&code), Some(&1), "{operation}: {code}");
        }
    }
}
