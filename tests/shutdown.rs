//! SIGTERM on the real binary: probe links are closed with 1001 (going away) and the process
//! exits 0.

use futures::{SinkExt, StreamExt};
use probe_protocol::{close, Hello, ProbeMessage, PROTOCOL_VERSION};
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const PASSWORD: &str = "Shut#Down1";

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.header("access_token", token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn sigterm_closes_probe_links_with_going_away_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_pladmed"))
        .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
        .env("PLADMED_DATA_DIR", dir.path())
        .env("PLADMED_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let credentials = json!({"email": "term@example.org", "password": PASSWORD});
    post(
        &client,
        format!("{base}/register"),
        None,
        credentials.clone(),
    )
    .await;
    let login = post(&client, format!("{base}/login"), None, credentials).await;
    let location = json!({"location": {"latitude": 0, "longitude": 0}});
    let probe = post(
        &client,
        format!("{base}/probes"),
        login["access_token"].as_str(),
        location,
    )
    .await;
    let url = format!(
        "ws://127.0.0.1:{port}/probe/ws?token={}",
        probe["token"].as_str().unwrap()
    );
    let (mut link, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let hello = ProbeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        agent: "shutdown-test".into(),
        total_credits: 10,
        in_use_credits: 0,
        clock_offset_ms: None,
    });
    link.send(Message::text(hello.encode())).await.unwrap();
    link.next().await.unwrap().unwrap(); // welcome

    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = loop {
        match tokio::time::timeout(Duration::from_secs(15), link.next())
            .await
            .expect("close frame")
        {
            Some(Ok(Message::Close(Some(frame)))) => break u16::from(frame.code),
            Some(Ok(_)) => continue,
            other => panic!("link ended without a close frame: {other:?}"),
        }
    };
    assert_eq!(code, close::GOING_AWAY);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "server still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
}
