//! Memory stays bounded whatever probes send: 32 links (the most one address may open) each send
//! four 16 MiB results whose content is `[0,0,0,…]`, back to back and all at once, and the
//! server's peak RSS (`VmHWM`) stays under a bound computed from its settings (measured here:
//! about 710 MiB peak against an 816 MiB bound, from 48 MiB before the flood).
//!
//! Before content was kept as raw text, each such frame became about 8 million
//! `serde_json::Value`s (0.25–0.6 GiB), so 32 of them took 8 GiB or more. Now the bound is:
//!
//! - the peak before the flood (startup, Argon2 hashing of the logins);
//! - one frame per link: each link's frame is read, and decoded into its raw content, before it
//!   can be held against the budget (32 × 16 MiB);
//! - decoding in progress: a frame and its copy, on each of the runtime's worker threads;
//! - the ingest budget, twice: admitted results are encoded for the store (a second copy);
//! - 64 MiB of slack for allocator and buffer rounding.
//!
//! The results are dated outside their operation's window, so the store refuses them inside its
//! write transaction, after the whole ingest path (decode, budget, record encoding, group
//! commit): stored results would add the embedded store's page cache, a separate term bounded by
//! redb's cache size, whatever the budget.

use chrono::{Duration as TimeDelta, Utc};
use futures::{SinkExt, StreamExt};
use probe_protocol::{error_code, ServerMessage};
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use testkit::probe::hello_frame;
use testkit::process::{create_superuser, free_port, Server};
use testkit::{ping_params, JWT_SECRET};

const LINKS: usize = 32;
/// Results each link sends back to back, without waiting for answers.
const RESULTS_PER_LINK: usize = 4;
const MIB: u64 = 1 << 20;
const FRAME_BYTES: u64 = 16 * MIB;
const BUDGET_BYTES: u64 = 64 * MIB;
/// Worker threads of the server's runtime: one per core.
fn workers() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// A `VmHWM` or `VmRSS` line of the server's /proc status, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kib * 1024
}

/// A result frame of `operation` just under `FRAME_BYTES`, whose content is `[0,0,…,0]`,
/// measured a day before the operation existed.
fn huge_result(operation: &str, code: usize) -> Utf8Bytes {
    let measured_at = (Utc::now() - TimeDelta::days(1)).to_rfc3339();
    let head = format!(
        r#"{{"type":"result","operation_id":"{operation}","unique_code":"huge-{code}","format":"json","measured_at":"{measured_at}","content":["#
    );
    let zeros = (FRAME_BYTES as usize - head.len() - 16) / 2;
    let mut frame = String::with_capacity(FRAME_BYTES as usize);
    frame.push_str(&head);
    frame.push_str(&"0,".repeat(zeros));
    frame.push_str("0]}");
    assert!(frame.len() as u64 <= FRAME_BYTES);
    frame.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_links_sending_16_mib_results_keep_the_server_under_its_memory_bound() {
    let data = tempfile::tempdir().unwrap();
    let env = vec![
        ("PLADMED_DATA_DIR".into(), data.path().display().to_string()),
        ("PLADMED_JWT_SECRET".into(), JWT_SECRET.into()),
        (
            "PLADMED_INGEST_MEMORY_BYTES".into(),
            BUDGET_BYTES.to_string(),
        ),
        ("PLADMED_MAX_FRAME_BYTES".into(), FRAME_BYTES.to_string()),
        // Freed memory is returned at once, so that RSS counts what is held.
        ("MIMALLOC_PURGE_DELAY".into(), "0".into()),
    ];
    create_superuser(&env);
    let server = Server::start(env, free_port());
    let api = server.client();
    server.wait_until_up().await;
    let token = api
        .funded_by_root("memory@example.org", 1_000_000)
        .await
        .token;
    let mut probes = Vec::new();
    for _ in 0..LINKS {
        probes.push(api.register_probe(&token).await);
    }
    let mut links = Vec::new();
    for (_, probe_token) in &probes {
        let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url(probe_token))
            .await
            .unwrap();
        socket.send(hello_frame()).await.unwrap();
        let welcome = socket.next().await.unwrap().unwrap();
        assert!(
            welcome.to_text().unwrap().contains("welcome"),
            "{welcome:?}"
        );
        links.push(socket);
    }
    let ids: Vec<&str> = probes.iter().map(|(id, _)| id.as_str()).collect();
    let body = json!({"probes": ids, "params": ping_params(30)});
    let operation = api.post_ok("/ping", Some(&token), body).await;
    assert_eq!(operation["probes"].as_array().unwrap().len(), LINKS);
    let operation = operation["_id"].as_str().unwrap();
    let frames: Vec<Utf8Bytes> = (0..RESULTS_PER_LINK)
        .map(|n| huge_result(operation, n))
        .collect();

    let before = status_bytes(server.pid(), "VmHWM:");
    // Each link reads while it sends, as a probe does: heartbeats are answered (a read answers
    // a ping) and the server's answers never pile up behind the frames.
    let answers = links.into_iter().map(|socket| {
        let frames = frames.clone();
        let (mut sink, mut stream) = socket.split();
        let sender = tokio::spawn(async move {
            for frame in frames {
                sink.send(Message::Text(frame)).await.unwrap();
            }
            sink
        });
        tokio::spawn(async move {
            let mut notices = Vec::new();
            while notices.len() < RESULTS_PER_LINK {
                let next = tokio::time::timeout(Duration::from_secs(50), stream.next()).await;
                let text = match next {
                    Ok(Some(Ok(Message::Text(text)))) => text,
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    _ => panic!("link ended or timed out before the result was answered: {next:?}"),
                };
                if let Ok(ServerMessage::Error(notice)) = ServerMessage::decode(&text) {
                    notices.push(notice);
                }
            }
            // Kept open until every answer is in, so the link is not closed under the server.
            drop(sender.await.unwrap());
            notices
        })
    });
    for answer in futures::future::join_all(answers).await {
        for notice in answer.unwrap() {
            assert_eq!(notice.code, error_code::OUTSIDE_WINDOW, "{notice:?}");
        }
    }
    let peak = status_bytes(server.pid(), "VmHWM:");

    let links = LINKS as u64;
    let bound =
        before + links * FRAME_BYTES + workers() * 2 * FRAME_BYTES + 2 * BUDGET_BYTES + 64 * MIB;
    eprintln!(
        "server peak RSS {} MiB (before the flood {} MiB), bound {} MiB",
        peak / MIB,
        before / MIB,
        bound / MIB
    );
    assert!(
        peak <= bound,
        "peak RSS {} MiB is past the bound {} MiB",
        peak / MIB,
        bound / MIB
    );
}
