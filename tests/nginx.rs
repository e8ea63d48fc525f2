//! docs/deployment.md's nginx configuration, as documented (only certificate paths, ports and
//! the upstream address substituted), run by Debian's nginx in front of the real server: a
//! login, a cross-origin call with the `access_token` header, 40 probe links from 40 client
//! addresses, a result round trip, a live stream of its events and an original (Socket.IO)
//! probe's story all pass through it. Fails, never skips, without nginx.

use futures::SinkExt;
use hyper::{Method, StatusCode};
use probe_protocol::ServerMessage;
use serde_json::{json, Value};
use std::net::IpAddr;
use testkit::legacy::LegacyClient;
use testkit::probe::{hello_frame, next_message as next, result_frame};
use testkit::process::{create_superuser, free_port, Server};
use testkit::{eventually, https, nginx, single_ping_params, JWT_SECRET, PASSWORD};

/// The browser origin of the frontend.
const FRONTEND: &str = "https://frontend.example.org";
/// Probe links opened from as many client addresses: more than the per-address cap (32) that
/// they would all share if the server saw only the proxy.
const CLIENTS: u8 = 40;

fn loopback(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// The server, as the deployment guide configures it behind nginx on the same host.
fn server(data: &tempfile::TempDir) -> (Server, Vec<(String, String)>) {
    let env: Vec<(String, String)> = [
        ("PLADMED_DATA_DIR", data.path().to_str().unwrap()),
        ("PLADMED_JWT_SECRET", JWT_SECRET),
        ("PLADMED_CORS_ORIGINS", FRONTEND),
        ("PLADMED_TRUSTED_PROXIES", "127.0.0.1/32"),
        // The links below wait for their hello while the test counts them.
        ("PLADMED_HELLO_TIMEOUT_S", "120"),
        ("PLADMED_NTP_SERVER", "127.0.0.1:9"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    create_superuser(&env);
    (Server::start(env.clone(), free_port()), env)
}

#[tokio::test]
async fn the_documented_nginx_config_carries_logins_cors_probe_links_and_results() {
    let data = tempfile::tempdir().unwrap();
    let (server, _env) = server(&data);
    server.wait_until_up().await;
    let ca = https::TestCa::new();
    let upstream = format!("127.0.0.1:{}", server.port).parse().unwrap();
    let nginx = nginx::Nginx::start(upstream, &ca.chain_pem, &ca.key_pem);
    let proxy = ca.client(nginx.https);

    // Sign-up, sign-in and credits, through the proxy.
    let credentials = json!({"email": "user@example.org", "password": PASSWORD});
    let user = proxy.post("/register", None, credentials.clone()).await;
    assert_eq!(
        user.status,
        StatusCode::CREATED,
        "{}\n{}",
        user.body,
        nginx.log()
    );
    let token = access_token(&proxy, credentials).await;
    let root = json!({"email": "root@example.org", "password": PASSWORD});
    let root = access_token(&proxy, root).await;
    let grant = json!({"id": user.body["_id"], "credits": 1000});
    let granted = proxy.post("/credits", Some(&root), grant).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);

    cross_origin_call(&proxy, &token).await;

    // 40 clients, one probe link each.
    let probe = json!({"location": {"latitude": 1, "longitude": 2}});
    let linked = proxy.post("/probes", Some(&token), probe.clone()).await;
    assert_eq!(linked.status, StatusCode::CREATED, "{}", linked.body);
    let link_token = linked.body["token"].as_str().unwrap();
    let mut links = Vec::new();
    let mut statuses = Vec::new();
    for n in 2..2 + CLIENTS {
        let (status, link) = proxy.probe_link(loopback(n), link_token).await;
        statuses.push(status);
        links.extend(link);
    }
    assert!(
        statuses.iter().all(|s| *s == 101),
        "every client's link is upgraded: {statuses:?}\n{}",
        nginx.log()
    );

    // A result round trip on another probe: operation out, result in, ack out.
    let probe = proxy.post("/probes", Some(&token), probe).await;
    let (status, link) = proxy
        .probe_link(loopback(99), probe.body["token"].as_str().unwrap())
        .await;
    assert_eq!(status, 101);
    let mut link = link.unwrap();
    link.send(hello_frame()).await.unwrap();
    assert!(matches!(next(&mut link).await, ServerMessage::Welcome(_)));
    let ping = json!({
        "probes": [probe.body["identifier"]],
        "params": single_ping_params(),
    });
    let operation = proxy.post("/ping", Some(&token), ping).await;
    assert_eq!(operation.status, StatusCode::CREATED, "{}", operation.body);
    let operation = operation.body["_id"].as_str().unwrap().to_string();
    match next(&mut link).await {
        ServerMessage::Operation(sent) => assert_eq!(sent.operation_id, operation),
        other => panic!("expected the operation, got {other:?}"),
    }
    link.send(result_frame(&operation, 1, json!({"rtt": 1.5})))
        .await
        .unwrap();
    match next(&mut link).await {
        ServerMessage::ResultAck(ack) => assert_eq!(ack.operation_id, operation),
        other => panic!("expected the result's ack, got {other:?}"),
    }

    // The live stream passes through unbuffered: its events arrive while it stays open.
    let path = format!("/operations/{operation}/stream");
    let wait = std::time::Duration::from_secs(10);
    let (status, headers, events) = proxy.read_until(&path, "event: result", wait).await;
    assert_eq!(status, StatusCode::OK, "{events}\n{}", nginx.log());
    assert_eq!(headers["content-type"], "text/event-stream");
    assert!(events.starts_with("event: progress\n"), "{events}");
    drop(links);

    original_probe_through_the_proxy(&proxy, &token, nginx.https.port()).await;
}

/// An original probe (pladmed-client's Socket.IO, its credits in headers with underscores)
/// through the proxy's `/socket.io/` location: an operation out, its result stored and acked.
async fn original_probe_through_the_proxy(proxy: &https::Https, token: &str, port: u16) {
    let location = json!({"location": {"latitude": 1, "longitude": 2}});
    let probe = proxy.post("/probes", Some(token), location).await;
    assert_eq!(probe.status, StatusCode::CREATED, "{}", probe.body);
    let base = format!("https://127.0.0.1:{port}");
    let mut client = LegacyClient::start(&base, probe.body["token"].as_str().unwrap(), &["once"]);
    client.expect("connected").await;
    // The link is recorded a moment after the Socket.IO connect; then the probe is available.
    let identifier = probe.body["identifier"].clone();
    eventually("the original probe to show connected", 20, || async {
        let from = IpAddr::from([127, 0, 0, 1]);
        let probes = proxy.request(from, Method::GET, "/probes", &[], None).await;
        let listed = probes.body.as_array().cloned().unwrap_or_default();
        let connected = |p: &Value| p["identifier"] == identifier && p["connected"] == true;
        listed.iter().any(connected).then_some(())
    })
    .await;
    let ping = json!({"probes": [identifier], "params": single_ping_params()});
    let operation = proxy.post("/ping", Some(token), ping).await;
    assert_eq!(operation.status, StatusCode::CREATED, "{}", operation.body);
    client.go().await;
    let done = client.expect("done").await;
    assert_eq!(done["operation"], operation.body["_id"]);
    client.finish().await;
}

/// Logs in through the proxy; returns the access token.
async fn access_token(proxy: &https::Https, credentials: Value) -> String {
    let login = proxy.post("/login", None, credentials).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    login.body["access_token"].as_str().unwrap().to_string()
}

/// What a browser on the frontend's origin does: a preflight asking for `access_token`, then
/// the call with it (nginx drops headers with underscores unless told not to).
async fn cross_origin_call(proxy: &https::Https, token: &str) {
    let from = loopback(1);
    let preflight = [
        ("origin", FRONTEND),
        ("access-control-request-method", "GET"),
        ("access-control-request-headers", "access_token"),
    ];
    let answer = proxy
        .request(from, Method::OPTIONS, "/users/me", &preflight, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let header = |answer: &https::Answer, name: &str| {
        answer
            .headers
            .get(name)
            .map_or(String::new(), |v| v.to_str().unwrap().to_lowercase())
    };
    assert_eq!(header(&answer, "access-control-allow-origin"), FRONTEND);
    assert!(header(&answer, "access-control-allow-headers").contains("access_token"));
    let call = [("origin", FRONTEND), ("access_token", token)];
    let me = proxy
        .request(from, Method::GET, "/users/me", &call, None)
        .await;
    assert_eq!(
        me.status,
        StatusCode::OK,
        "access_token reaches the server: {}",
        me.body
    );
    assert_eq!(me.body["email"], "user@example.org");
    assert_eq!(header(&me, "access-control-allow-origin"), FRONTEND);
}
