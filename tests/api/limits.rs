//! Abuse limits: each one answers its documented status or close code, and a well-behaved
//! probe keeps being served while others flood.

use chrono::Utc;
use futures::{SinkExt, StreamExt};
use probe_protocol::{close, ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use reqwest::StatusCode;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use testkit::*;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;

/// Status of a WebSocket upgrade of /probe/ws from the loopback address `from`, and the socket
/// if it was upgraded.
async fn upgrade_from(
    server: SocketAddr,
    from: &str,
    token: &str,
) -> (u16, Option<tokio_tungstenite::WebSocketStream<TcpStream>>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let stream = socket.connect(server).await.unwrap();
    let url = format!("ws://{server}/probe/ws?token={token}");
    match tokio_tungstenite::client_async(url, stream).await {
        Ok((socket, response)) => (response.status().as_u16(), Some(socket)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            (response.status().as_u16(), None)
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

async fn close_code(socket: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, socket.next()).await.ok()?? {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn login_and_register_are_rate_limited_per_client_address() {
    let app = spawn_app_with(|s| s.limits.auth_rate_per_minute = 3).await;
    let wrong = json!({"email": "nobody@example.org", "password": PASSWORD});
    for _ in 0..2 {
        let (status, _) = app.post("/login", None, wrong.clone()).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let (status, _) = app
        .post_credentials("/register", "x@example.org", PASSWORD)
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "login and register share the quota"
    );
    let response = app
        .client
        .post(app.url("/login"))
        .json(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=60).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["Error"]
        .as_str()
        .unwrap()
        .contains("too many requests"));
    let (status, _) = app
        .post_credentials("/register", "y@example.org", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, _) = app.get("/probes", None).await;
    assert_eq!(status, StatusCode::OK, "other endpoints are not limited");
    app.stop().await;
}

#[tokio::test]
async fn probe_links_are_capped_per_address_and_in_total_before_the_upgrade() {
    let app = spawn_app_with(|s| {
        s.limits.ws_per_address = 2;
        s.limits.ws_total = 3;
    })
    .await;
    let owner = app.user("links@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let (first, mut a1) = upgrade_from(app.addr, "127.0.0.1", &token).await;
    let (second, _a2) = upgrade_from(app.addr, "127.0.0.1", &token).await;
    assert_eq!((first, second), (101, 101));
    assert_eq!(upgrade_from(app.addr, "127.0.0.1", &token).await.0, 429);
    let (third, _b1) = upgrade_from(app.addr, "127.0.0.2", &token).await;
    assert_eq!(third, 101);
    assert_eq!(upgrade_from(app.addr, "127.0.0.3", &token).await.0, 503);
    a1.as_mut().unwrap().close(None).await.unwrap();
    drop(a1);
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, _socket) = upgrade_from(app.addr, "127.0.0.3", &token).await;
        if status == 101 {
            break;
        }
        assert!(Instant::now() < deadline, "a closed link frees its slot");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn a_probe_that_never_says_hello_is_closed_after_the_hello_timeout() {
    let app = spawn_app_with(|s| s.limits.hello_timeout = Duration::from_secs(1)).await;
    let owner = app.user("silent@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let started = Instant::now();
    let (status, socket) = upgrade_from(app.addr, "127.0.0.1", &token).await;
    assert_eq!(status, 101);
    assert_eq!(
        close_code(&mut socket.unwrap()).await,
        Some(close::PROTOCOL_VIOLATION)
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}

#[tokio::test]
async fn request_bodies_over_the_limit_are_refused_with_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(2 << 20);
    let response = app
        .client
        .post(app.url("/login"))
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

fn result(operation_id: &str, code: &str) -> ProbeMessage {
    ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: json!({"rtt": 1.5}).into(),
        measured_at: Utc::now(),
        error: None,
    })
}

/// Median time from sending a result to reading its ack, over `count` results.
async fn median_ack_latency(
    probe: &mut TestProbe,
    operation: &str,
    tag: &str,
    count: usize,
) -> Duration {
    let mut latencies = Vec::with_capacity(count);
    for n in 0..count {
        let sent = Instant::now();
        probe.send(&result(operation, &format!("{tag}-{n}"))).await;
        match probe.recv().await {
            ServerMessage::ResultAck(_) => latencies.push(sent.elapsed()),
            other => panic!("expected an ack, got {other:?}"),
        }
    }
    latencies.sort();
    latencies[count / 2]
}

/// A link sending pings at several thousand a second for `duration`, reading what comes back:
/// returns how many pings it sent, how many pongs came back and how long that took, or the
/// close code if it was closed. The server answers each ping it reads, so the pongs count what
/// it read.
async fn flood_pings(
    addr: std::net::SocketAddr,
    token: String,
    duration: Duration,
) -> Result<(usize, usize, Duration), Option<u16>> {
    let url = format!("ws://{addr}/probe/ws?token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = probe_protocol::Hello {
        protocol: probe_protocol::PROTOCOL_VERSION,
        agent: "flood".into(),
        total_credits: 10,
        in_use_credits: 0,
        clock_offset_ms: None,
    };
    let hello = ProbeMessage::Hello(hello).encode();
    socket.send(Message::text(hello)).await.unwrap();
    let (mut sink, mut stream) = socket.split();
    let started = Instant::now();
    let pings = tokio::spawn(async move {
        let mut sent = 0;
        while started.elapsed() < duration {
            for _ in 0..10 {
                if sink.feed(Message::Ping(Vec::new().into())).await.is_err() {
                    return sent;
                }
            }
            if sink.flush().await.is_err() {
                return sent;
            }
            sent += 10;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        sent
    });
    let mut pongs = 0;
    while let Ok(frame) = tokio::time::timeout_at((started + duration).into(), stream.next()).await
    {
        match frame {
            Some(Ok(Message::Pong(_))) => pongs += 1,
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Err(None),
        }
    }
    let elapsed = started.elapsed();
    Ok((pings.await.unwrap(), pongs, elapsed))
}

/// Floods of frames are paced, floods of connections and logins refused by their limits, and
/// a well-behaved probe's median ack latency meanwhile stays within twice its quiet value
/// (with a 5 ms floor, below which scheduler noise dominates).
#[tokio::test]
async fn floods_are_paced_or_refused_and_a_well_behaved_probe_stays_fast() {
    const RATE: u32 = 200;
    const FLOOD: Duration = Duration::from_secs(2);
    let app = spawn_app_with(|s| {
        s.limits.probe_frames_per_s = RATE;
        s.limits.ws_per_address = 4;
        s.limits.auth_rate_per_minute = 5;
    })
    .await;
    let owner = app.funded_user("calm@example.org", 100_000).await;
    let (calm_id, calm_token) = app.probe(&owner).await;
    let (_, flood_token) = app.probe(&owner).await;
    let mut calm = app.connect(&calm_token, 1_000_000).await;
    let operation = app
        .ping_over(&owner.token, &calm_id, busy_ping_params(5), &mut calm)
        .await;
    let quiet = median_ack_latency(&mut calm, &operation, "quiet", 40).await;

    let flood = tokio::spawn(flood_pings(app.addr, flood_token.clone(), FLOOD));
    let connections = tokio::spawn({
        let (addr, token) = (app.addr, flood_token.clone());
        async move {
            let mut refused = 0;
            let mut held = Vec::new();
            for _ in 0..40 {
                match upgrade_from(addr, "127.0.0.2", &token).await {
                    (101, socket) => held.push(socket),
                    (status, _) => {
                        assert_eq!(status, 429);
                        refused += 1;
                    }
                }
            }
            refused
        }
    });
    let logins = tokio::spawn({
        let (client, url) = (app.client.clone(), app.url("/login"));
        async move {
            let mut limited = 0;
            for _ in 0..40 {
                let response = client
                    .post(&url)
                    .json(&json!({"email": "calm@example.org", "password": "wrong-Pass#1"}))
                    .send()
                    .await
                    .unwrap();
                limited += usize::from(response.status() == StatusCode::TOO_MANY_REQUESTS);
            }
            limited
        }
    });
    let loaded = median_ack_latency(&mut calm, &operation, "loaded", 40).await;
    let (pings, pongs, flooded) = flood
        .await
        .unwrap()
        .expect("a flooding link is paced, not closed");
    // The burst, then the rate: the server read no more than that (plus 10% for timing).
    let allowed = f64::from(RATE) * (1.0 + flooded.as_secs_f64()) * 1.1;
    assert!(
        pongs > 0 && (pongs as f64) <= allowed && pings as f64 > 2.0 * allowed,
        "{pongs} of {pings} pings read in {flooded:?} at {RATE} a second"
    );
    assert!(
        connections.await.unwrap() >= 30,
        "connections beyond the cap are refused"
    );
    assert!(
        logins.await.unwrap() >= 30,
        "logins beyond the quota answer 429"
    );
    let bound = quiet.max(Duration::from_millis(5)) * 2;
    assert!(
        loaded <= bound,
        "ack latency under flood {loaded:?} exceeds twice the quiet {quiet:?}"
    );
    app.stop().await;
}

/// Reads from a raw connection until the server closes it; returns what it sent.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection in time");
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn slow_loris_headers_and_bodies_are_cut_and_others_are_served() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|s| {
        s.limits.header_timeout = Duration::from_secs(1);
        s.limits.request_timeout = Duration::from_secs(1);
    })
    .await;
    let started = Instant::now();
    let mut slow_head = TcpStream::connect(app.addr).await.unwrap();
    slow_head
        .write_all(b"GET /probes HTTP/1.1\r\nHost: pladmed\r\n")
        .await
        .unwrap();
    let mut slow_body = TcpStream::connect(app.addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: pladmed\r\nContent-Length: 100\r\n\r\n{\"email\"",
        )
        .await
        .unwrap();
    let (status, _) = app.get("/probes", None).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a normal client is served meanwhile"
    );
    let head_reply = read_until_closed(&mut slow_head).await;
    assert!(!head_reply.contains("200 OK"), "{head_reply}");
    let body_reply = read_until_closed(&mut slow_body).await;
    assert!(body_reply.starts_with("HTTP/1.1 408"), "{body_reply}");
    assert!(
        body_reply.contains("not received and answered within 1 s"),
        "{body_reply}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    app.stop().await;
}
