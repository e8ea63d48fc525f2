//! Behind a reverse proxy: per-address limits key on the client a trusted proxy forwards, and
//! nobody else's forwarding headers count.

use reqwest::StatusCode;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use testkit::*;
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

/// The test's "proxy": the only trusted peer.
const PROXY: &str = "127.0.0.1";
/// A peer that is not trusted, whatever it claims.
const STRANGER: &str = "127.0.0.2";

async fn proxied_app(tweak: impl FnOnce(&mut pladmed::config::Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.trusted_proxies = PROXY.parse().unwrap();
        // Links wait for hello; none of them may time out while the test counts them.
        s.limits.hello_timeout = Duration::from_secs(120);
        tweak(s);
    })
    .await
}

/// The status of a probe link upgrade from loopback address `from` carrying `header`, and the
/// link if it was upgraded.
async fn link_from(
    server: SocketAddr,
    from: &str,
    token: &str,
    header: (&str, &str),
) -> (u16, Option<WebSocketStream<TcpStream>>) {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    let stream = socket.connect(server).await.unwrap();
    let mut request = format!("ws://{server}/probe/ws?token={token}")
        .into_client_request()
        .unwrap();
    let (name, value) = header;
    request.headers_mut().insert(
        reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
        value.parse().unwrap(),
    );
    match tokio_tungstenite::client_async(request, stream).await {
        Ok((socket, response)) => (response.status().as_u16(), Some(socket)),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            (response.status().as_u16(), None)
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

/// Opens one link per header from `from`; returns how many were upgraded (101) and how many
/// were capped (429), holding the upgraded ones open in `held`.
async fn open_links(
    app: &TestApp,
    from: &str,
    token: &str,
    headers: impl IntoIterator<Item = (&'static str, String)>,
    held: &mut Vec<WebSocketStream<TcpStream>>,
) -> (usize, usize) {
    let (mut upgraded, mut capped) = (0, 0);
    for (name, value) in headers {
        match link_from(app.addr, from, token, (name, &value)).await {
            (101, Some(socket)) => {
                held.push(socket);
                upgraded += 1;
            }
            (429, _) => capped += 1,
            (status, _) => panic!("unexpected status {status} for {name}: {value}"),
        }
    }
    (upgraded, capped)
}

fn xff(values: impl IntoIterator<Item = String>) -> Vec<(&'static str, String)> {
    values.into_iter().map(|v| ("x-forwarded-for", v)).collect()
}

#[tokio::test]
async fn probe_links_through_a_trusted_proxy_are_capped_per_forwarded_client() {
    let app = proxied_app(|_| {}).await;
    let owner = app.user("proxied-links@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let mut held = Vec::new();

    // 40 clients behind the proxy, one link each, the spoofable left part varying too.
    let forty = (1..=40).map(|n| format!("6.6.6.6, 198.51.100.{n}"));
    let (upgraded, capped) = open_links(&app, PROXY, &token, xff(forty), &mut held).await;
    assert_eq!(
        (upgraded, capped),
        (40, 0),
        "40 forwarded clients all connect"
    );

    // One client behind the proxy is capped at 32 (the default), like a direct one.
    let one = (0..33).map(|_| "203.0.113.7".to_string());
    let (upgraded, capped) = open_links(&app, PROXY, &token, xff(one), &mut held).await;
    assert_eq!(
        (upgraded, capped),
        (32, 1),
        "one forwarded client is capped"
    );

    // The same through RFC 7239 Forwarded; IPv6 clients count by their /64.
    let ipv6 = (1..=33).map(|n| ("forwarded", format!("for=\"[2001:db8:7:7::{n:x}]:4711\"")));
    let (upgraded, capped) = open_links(&app, PROXY, &token, ipv6, &mut held).await;
    assert_eq!((upgraded, capped), (32, 1), "one IPv6 /64 is one client");

    // A peer that is not a trusted proxy is its own client, whatever it forwards.
    let spoofed = (1..=40).map(|n| format!("192.0.2.{n}"));
    let (upgraded, capped) = open_links(&app, STRANGER, &token, xff(spoofed), &mut held).await;
    assert_eq!(
        (upgraded, capped),
        (32, 8),
        "an untrusted peer's header changes nothing"
    );
    drop(held);
    app.stop().await;
}

/// A wrong-password login from loopback address `from` with `header`; returns its status.
async fn login_from(app: &TestApp, from: &str, header: (&str, &str)) -> StatusCode {
    let client = reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    client
        .post(app.url("/login"))
        .header(header.0, header.1)
        .json(&json!({"email": "nobody@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_auth_rate_limit_through_a_trusted_proxy_is_per_forwarded_client() {
    let app = proxied_app(|s| s.limits.auth_rate_per_minute = 3).await;
    for n in 1..=40 {
        let forwarded = format!("198.51.100.{n}");
        let status = login_from(&app, PROXY, ("x-forwarded-for", &forwarded)).await;
        assert_eq!(
            status,
            StatusCode::NOT_FOUND,
            "client {forwarded}: {status}"
        );
    }
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(login_from(&app, PROXY, ("x-forwarded-for", "203.0.113.7")).await);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    let mut statuses = Vec::new();
    for n in 0..4 {
        let spoofed = format!("192.0.2.{n}");
        statuses.push(login_from(&app, STRANGER, ("x-forwarded-for", &spoofed)).await);
    }
    assert_eq!(
        statuses[3],
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer's header changes nothing: {statuses:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_forwarding_header_from_a_trusted_proxy_is_a_400_naming_it() {
    let app = proxied_app(|_| {}).await;
    for (header, value) in [
        ("x-forwarded-for", "198.51.100.1, not-an-address"),
        ("forwarded", "for=\"[2001:db8::1\""),
    ] {
        let client = reqwest::Client::builder()
            .local_address(PROXY.parse::<IpAddr>().unwrap())
            .build()
            .unwrap();
        let response = client
            .get(app.url("/probes"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["Error"].as_str().unwrap().to_lowercase();
        assert!(message.contains(header), "{message}");
        // From anyone else the header is only text, and ignored.
        let stranger = reqwest::Client::builder()
            .local_address(STRANGER.parse::<IpAddr>().unwrap())
            .build()
            .unwrap();
        let response = stranger
            .get(app.url("/probes"))
            .header(header, value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    app.stop().await;
}
