//! Flow control on the probe link: a probe keeping its result window full is paced, never
//! closed, and every result is stored once; a peer that stops reading is dropped within three
//! heartbeats, whatever it keeps sending, and its link slot is freed.

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use probe_protocol::{Accepted, ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// The window of the reference probe.
const WINDOW: usize = 32;

/// A result of about 1.5 KB.
fn sized_result(operation_id: &str, n: usize) -> Message {
    let report = ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: format!("r{n:05}"),
        format: ContentFormat::Text,
        content: json!("x".repeat(1_400)).into(),
        measured_at: Utc::now(),
        error: None,
    });
    Message::text(report.encode())
}

/// Every result of the operation, through the pages of GET /operations/{id}/results.
async fn stored_results(app: &TestApp, operation: &str) -> Vec<Value> {
    let mut results = Vec::new();
    let mut path = format!("/operations/{operation}/results?limit=1000");
    loop {
        let (status, page) = app.get(&path, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        results.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => path = format!("/operations/{operation}/results?limit=1000&after={next}"),
            None => return results,
        }
    }
}

/// Creates a ping operation on the probe whose link is `link`, which receives it; returns its id.
async fn ping_operation(
    app: &TestApp,
    owner: &Account,
    probe_id: &str,
    link: &mut TestProbe,
) -> String {
    app.ping_over(&owner.token, probe_id, busy_ping_params(60), link)
        .await
}

/// A probe with a ping operation it has accepted; returns the link, the operation id and the
/// window its welcome announced.
async fn probe_with_operation(app: &TestApp, email: &str) -> (TestProbe, String, u32) {
    let owner = app.funded_user(email, 1_000_000).await;
    let (probe_id, token) = app.probe(&owner).await;
    let mut link = app.open_link(&token).await;
    link.hello(1_000_000).await;
    let window = match link.recv().await {
        ServerMessage::Welcome(welcome) => welcome.window,
        other => panic!("expected welcome, got {other:?}"),
    };
    let operation = ping_operation(app, &owner, &probe_id, &mut link).await;
    link.send(&ProbeMessage::Accepted(Accepted {
        operation_id: operation.clone(),
    }))
    .await;
    (link, operation, window)
}

/// 3,000 results of 1.5 KB, as fast as acks allow with 32 unacknowledged: more than the
/// default 500 messages per second whenever the store acks fast. Closed with 4005 before the
/// link was paced instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_keeping_its_window_full_is_paced_never_closed_and_stored_once() {
    const RESULTS: usize = 3_000;
    let app = spawn_app().await;
    let (link, operation, window) = probe_with_operation(&app, "window@example.org").await;
    assert!(
        window as usize >= WINDOW,
        "welcome announces a window of {window}"
    );
    let (mut sink, mut stream) = link.socket.split();
    let room = Arc::new(Semaphore::new(WINDOW));
    let sender = tokio::spawn({
        let (room, operation) = (room.clone(), operation.clone());
        async move {
            for n in 0..RESULTS {
                room.acquire().await.unwrap().forget();
                sink.send(sized_result(&operation, n)).await.unwrap();
            }
            sink
        }
    });
    let started = Instant::now();
    let mut acked = HashSet::new();
    while acked.len() < RESULTS {
        let frame = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("an ack within the wait")
            .expect("link open")
            .expect("frame readable");
        match frame {
            Message::Text(text) => match ServerMessage::decode(&text).unwrap() {
                ServerMessage::ResultAck(ack) => {
                    assert!(!ack.duplicate, "{ack:?}");
                    assert!(acked.insert(ack.unique_code), "acked twice");
                    room.add_permits(1);
                }
                other => panic!("unexpected {other:?}"),
            },
            Message::Close(close) => {
                panic!("closed after {} acks: {close:?}", acked.len())
            }
            _ => {}
        }
    }
    let _sink = sender.await.unwrap();
    let elapsed = started.elapsed();
    let results = stored_results(&app, &operation).await;
    let codes: HashSet<&str> = results
        .iter()
        .map(|r| r["unique_code"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), RESULTS, "every result stored once");
    assert_eq!(codes.len(), RESULTS);
    // Paced at the default 500 messages per second (the burst included).
    assert!(elapsed >= Duration::from_secs(4), "{elapsed:?}");
    app.stop().await;
}

/// One masked client frame (RFC 6455 §5.2) with `opcode` and `payload`.
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![0x80 | opcode];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend((n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend((n as u64).to_be_bytes());
        }
    }
    frame.extend(mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// Upgrades a raw connection with a small receive buffer, reading the response head and not
/// a byte more; retries while the previous link still holds the address's slot.
async fn deaf_upgrade(addr: SocketAddr, token: &str) -> TcpStream {
    let deadline = Instant::now() + WAIT;
    loop {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let request = format!(
            "GET /probe/ws?token={token} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8];
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        if head.starts_with(b"HTTP/1.1 101") {
            return stream;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            String::from_utf8_lossy(&head)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a new link from 127.0.0.1 is upgraded (the per-address cap is 1).
async fn admitted(addr: SocketAddr, token: &str) -> bool {
    let url = format!("ws://{addr}/probe/ws?token={token}");
    tokio_tungstenite::connect_async(url).await.is_ok()
}

/// A raw TCP client upgrades, says hello and then only writes: pings, and pongs with guessed
/// payloads, as fast as the server reads them, never reading a byte. The server's writes back
/// up and its writer blocks; the peer is dropped within three heartbeats, the close path does
/// not wait on the blocked writer, and the link slot is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_is_dropped_within_three_heartbeats_and_frees_its_slot() {
    let heartbeat = Duration::from_secs(1);
    let app = spawn_app_with(|s| {
        s.heartbeat = heartbeat;
        s.probe_queue = 2;
        s.limits.ws_per_address = 1;
        s.limits.probe_frames_per_s = 1_000_000;
    })
    .await;
    let owner = app.funded_user("deaf@example.org", 1_000_000).await;
    let (probe_id, token) = app.probe(&owner).await;
    let connected = || async {
        let (_, probes) = app.get("/probes", None).await;
        let view = probes
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["identifier"] == probe_id.as_str())
            .cloned();
        view.unwrap()["connected"] == true
    };
    // Operations it has not accepted wait for it: more than its queue holds, so that the
    // welcome and these fill it before the peer is even served.
    let mut first = app.connect(&token, 1_000_000).await;
    for _ in 0..3 {
        ping_operation(&app, &owner, &probe_id, &mut first).await;
    }
    first.socket.close(None).await.unwrap();
    while connected().await {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stream = deaf_upgrade(app.addr, &token).await;
    let hello = ProbeMessage::Hello(probe_protocol::Hello {
        protocol: probe_protocol::PROTOCOL_VERSION,
        agent: "deaf".into(),
        total_credits: 10,
        in_use_credits: 0,
        clock_offset_ms: None,
    })
    .encode();
    stream
        .write_all(&client_frame(0x1, hello.as_bytes()))
        .await
        .unwrap();
    let said_hello = Instant::now();
    let burst: Vec<u8> = (0..256u32)
        .flat_map(|n| {
            let opcode = if n % 2 == 0 { 0x9 } else { 0xA };
            let payload = [n.to_be_bytes().to_vec(), vec![0u8; 121]].concat();
            client_frame(opcode, &payload)
        })
        .collect();
    let writer = tokio::spawn(async move {
        while stream.write_all(&burst).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    let bound = heartbeat * 3 + Duration::from_millis(1_500);
    while !connected().await {
        assert!(said_hello.elapsed() < WAIT, "the link never came up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    while connected().await {
        assert!(
            said_hello.elapsed() < bound,
            "a peer that never reads is still connected after {:?}",
            said_hello.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    loop {
        if admitted(app.addr, &token).await {
            break;
        }
        assert!(
            said_hello.elapsed() < bound,
            "its link slot is still taken after {:?}",
            said_hello.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    writer.abort();
    app.stop().await;
}
