//! Moving an original pladmed-backend deployment over: its MongoDB database, written here in
//! the original's exact schema (pymongo documents, passlib hashes, results pushed inside the
//! operations), imported with the real binary's `pladmed import` into the embedded store and
//! into MongoDB, twice; then the server on the imported data: old passwords, the original's
//! user and probe tokens (on the v1 link and on the original's Socket.IO link, driven by
//! python-socketio as pladmed-client drives it), a new operation on an imported probe, and the
//! imported history.

use bson::oid::ObjectId;
use bson::{doc, Document};
use pladmed::config::{Settings, StorageSettings};
use probe_protocol::{close, ServerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Stdio;
use testkit::probe::result_frame;
use testkit::process::Server;
use testkit::{mongo, ping_params, TestApp};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The original's `SECRET_KEY`.
const SECRET_KEY: &str = "original-secret-key";
const OWNER: &str = "5f1b2c3d4e5f60718293a4b1";
const ROOT: &str = "5f1b2c3d4e5f60718293a4b2";
const PROBE: &str = "5f1b2c3d4e5f60718293a4b5";
const PING: &str = "5f1b2c3d4e5f60718293a4c1";
const DNS: &str = "5f1b2c3d4e5f60718293a4c2";
const OWNER_EMAIL: &str = "old@example.org";
const OLD_PASSWORD: &str = "Legacy1!pass";
/// passlib 1.7.4's `pbkdf2_sha256.hash(OLD_PASSWORD)`, as the original stored it.
const OLD_HASH: &str =
    "$pbkdf2-sha256$29000$gbDWOmeslbIW4lyLsba21g$EYqXfTCtnbXwaWhm0qSsxCShl1dB/VGWTKb5LlVfyiE";
/// What the original's POST /probes answered for PROBE: PyJWT 1.7.1, HS256, SECRET_KEY.
const PROBE_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpZGVudGlmaWVyIjoiNWYxYjJjM2Q0ZTVmNjA3MTgyOTNhNGI1Iiwib3duZXJfaWQiOiI1ZjFiMmMzZDRlNWY2MDcxODI5M2E0YjEiLCJsb2NhdGlvbiI6eyJsb25naXR1ZGUiOi01OC4zOCwibGF0aXR1ZGUiOi0zNC42fX0.GhJ1fDgyzaf6X3RwLd29XDAFE5oygioOCCzOudc5yw4";
/// What the original's POST /login answered for OWNER (a browser session's stored token).
const USER_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJfaWQiOiI1ZjFiMmMzZDRlNWY2MDcxODI5M2E0YjEiLCJlbWFpbCI6Im9sZEBleGFtcGxlLm9yZyIsImNyZWRpdHMiOjEyMCwiaXNfc3VwZXJ1c2VyIjpmYWxzZX0.0Xa2oprWf8BQbQmKHd9xf91vhHR4NYIVPSrr0UKcotc";

fn oid(hex: &str) -> ObjectId {
    ObjectId::parse_str(hex).unwrap()
}

/// The original's collections, as its code wrote them.
fn original_documents() -> [(&'static str, Vec<Document>); 3] {
    let users = vec![
        doc! { "_id": oid(OWNER), "email": OWNER_EMAIL, "credits": 120.5, "is_superuser": false, "password": OLD_HASH },
        doc! { "_id": oid(ROOT), "email": "admin@example.org", "credits": 0, "is_superuser": true,
        "password": "$pbkdf2-sha256$1000$..//..//..//..//..//AQ$arkaidM5yCfN1tY1UTKhldWuZBDO1O1qAagY0PPHT40" },
    ];
    let probes = vec![doc! {
        "_id": oid(PROBE), "owner": oid(OWNER),
        "location": { "coordinates": [-58.38, -34.6], "type": "Point" },
    }];
    let timing =
        doc! { "cron": "*/5 * * * *", "stop_time": "01/03/2021 12:00", "times_per_minute": 1 };
    let mut ping_params = doc! { "ips": ["192.0.2.1"], "probecount": 3 };
    ping_params.extend(timing.clone());
    let mut dns_params = doc! { "fqdns": ["example.org"] };
    dns_params.extend(timing);
    let operations = vec![
        doc! {
            "_id": oid(PING), "operation": "ping", "params": ping_params, "probes": [oid(PROBE)],
            "owner": oid(OWNER), "credits": 37.5, "result_format": "json",
            "results": [
                { "probe": oid(PROBE), "results": [{ "type": "ping", "dst": "192.0.2.1", "ping_sent": 3 }], "unique_code": "c1" },
                { "probe": oid(PROBE), "results": [{ "type": "ping", "dst": "192.0.2.1", "ping_sent": 3 }], "unique_code": "c2" },
                // Unreadable: skipped and counted, never fatal.
                { "probe": oid(PROBE), "results": "" },
            ],
        },
        doc! {
            "_id": oid(DNS), "operation": "dns", "params": dns_params, "probes": [oid(PROBE)],
            "owner": oid(OWNER), "credits": 12, "result_format": "text",
            "results": [{ "probe": oid(PROBE), "results": ";; ANSWER SECTION:\nexample.org. 300 IN A 192.0.2.7\n", "unique_code": "d1" }],
        },
    ];
    [
        ("users", users),
        ("probes", probes),
        ("operations", operations),
    ]
}

/// A fresh original database on the test MongoDB; its URI and name.
async fn original_database(uri: &str) -> String {
    let name = mongo::unique_db_name("original");
    let db = mongodb::Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(&name);
    for (collection, documents) in original_documents() {
        db.collection::<Document>(collection)
            .insert_many(documents)
            .await
            .unwrap();
    }
    name
}

/// `pladmed import` with `env`; returns the summary it printed.
fn import(env: &[(String, String)], uri: &str, database: &str) -> String {
    let output = Server::command(env)
        .args(["import", "--from-mongodb", uri, "--database", database])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "import failed: {stdout}\n{stderr}");
    stdout
}

/// Checks the summary line: (new, already there, skipped) of users, probes, operations and
/// results.
fn expect_summary(printed: &str, tallies: [(u64, u64, u64); 4]) {
    let kinds = ["users", "probes", "operations", "results"];
    let parts: Vec<String> = kinds
        .iter()
        .zip(tallies)
        .map(|(kind, (new, there, skipped))| {
            format!("{kind}: {new} new, {there} already there, {skipped} skipped")
        })
        .collect();
    let expected = format!("imported {}", parts.join("; "));
    assert!(
        printed.contains(&expected),
        "expected {expected}
printed {printed}"
    );
}

/// Imports twice into the store `env` names (which `target` sets on the server's settings),
/// then checks the server on the imported data.
async fn migrates(uri: &str, env: Vec<(String, String)>, target: StorageSettings) {
    let original = original_database(uri).await;
    let first = import(&env, uri, &original);
    expect_summary(&first, [(2, 0, 0), (1, 0, 0), (2, 0, 0), (3, 0, 1)]);
    let second = import(&env, uri, &original);
    expect_summary(&second, [(0, 2, 0), (0, 1, 0), (0, 2, 0), (0, 3, 1)]);

    // The embedded store's directory, or one for the server's admin socket only.
    let scratch = tempfile::tempdir().unwrap();
    let data = match &target {
        StorageSettings::Embedded { dir } => dir.clone(),
        StorageSettings::Mongo { .. } => scratch.path().to_path_buf(),
    };
    let app = TestApp::start_with(&data, |settings| {
        settings.storage = target;
        settings.legacy_secret_key = Some(SECRET_KEY.into());
    })
    .await;

    let token = old_password_signs_in_and_is_rehashed(&app).await;
    imported_history_is_there(&app, &token).await;
    original_tokens_work_until_rotated(&app, &token).await;
    app.stop().await;
}

/// The passlib hash verifies once, and is Argon2id from then on.
async fn old_password_signs_in_and_is_rehashed(app: &TestApp) -> String {
    let login = json!({"email": OWNER_EMAIL, "password": OLD_PASSWORD});
    let wrong = json!({"email": OWNER_EMAIL, "password": "Legacy1!pasS"});
    assert_eq!(
        app.post("/login", None, wrong.clone()).await.0,
        StatusCode::NOT_FOUND
    );
    let owner = oid(OWNER).into();
    let stored = || async { app.store.user(owner).await.unwrap().unwrap().password_hash };
    assert_eq!(stored().await, OLD_HASH, "a wrong password changes nothing");

    let (status, body) = app.post("/login", None, login.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        stored().await.starts_with("$argon2id$"),
        "rehashed at the first sign-in"
    );
    let (status, body) = app.post("/login", None, login).await;
    assert_eq!(status, StatusCode::OK, "the Argon2id hash verifies: {body}");
    assert_eq!(
        app.post("/login", None, wrong).await.0,
        StatusCode::NOT_FOUND
    );
    body["access_token"].as_str().unwrap().to_owned()
}

/// The operations, their results and the owner's balance, as the original had them.
async fn imported_history_is_there(app: &TestApp, token: &str) {
    let me = app.get_ok("/users/me", Some(token)).await;
    assert_eq!(
        (me["_id"].as_str(), me["credits"].as_u64()),
        (Some(OWNER), Some(120))
    );
    let mine = app.get_ok("/operations/me", Some(token)).await;
    let ids: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [PING, DNS]);

    let ping = app.operation(PING).await;
    assert_eq!(ping["operation"], "ping");
    assert_eq!(ping["params"]["probecount"], 3);
    assert_eq!(ping["probes"], json!([{"identifier": PROBE}]));
    assert_eq!(ping["credits"], 38);
    let results = ping["results"].as_array().unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["unique_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["c1", "c2"]);
    assert_eq!(results[0]["probe"], PROBE);
    assert_eq!(results[0]["format"], "json");
    assert_eq!(results[0]["results"][0]["ping_sent"], 3);

    let dns = app.operation(DNS).await;
    assert_eq!(dns["results"][0]["format"], "text");
    assert!(dns["results"][0]["results"]
        .as_str()
        .unwrap()
        .contains("192.0.2.7"));
}

/// The original's user token opens the account; its probe token links the imported probe,
/// which takes a new operation (and none of the imported ones again), until its owner rotates
/// the token.
async fn original_tokens_work_until_rotated(app: &TestApp, token: &str) {
    let me = app.get_ok("/users/me", Some(USER_TOKEN)).await;
    assert_eq!(me["email"], OWNER_EMAIL);

    let mut link = app.connect(PROBE_TOKEN, 1000).await;
    app.wait_connected(PROBE).await;
    let operation = app.ping_over(token, PROBE, ping_params(5), &mut link).await;
    link.send_raw(result_frame(&operation, 1, json!([{"type": "ping"}])))
        .await;
    match link.recv().await {
        ServerMessage::ResultAck(ack) => assert_eq!(ack.unique_code, "result-00001"),
        other => panic!("expected the result's ack, got {other:?}"),
    }
    assert_eq!(app.first_result(&operation).await["probe"], PROBE);

    // The same token on the original's Socket.IO link, as pladmed-client connects: it gets the
    // operation the v1 link never took on, then a new one; never an imported one.
    let mut client = SocketIoProbe::connect(app, PROBE_TOKEN).await;
    assert_eq!(client.said().await["event"], "connected");
    app.wait_connected(PROBE).await;
    let pending = client.said().await;
    let created = app.ping(token, &[PROBE], ping_params(5)).await;
    let received = client.said().await;
    let ids = [&pending["id"], &received["id"]];
    assert_eq!(
        ids,
        [&json!(operation), &json!(created)],
        "{pending} {received}"
    );
    client.stop().await;

    let rotated = app
        .post(&format!("/probes/{PROBE}/token"), Some(token), json!({}))
        .await;
    assert_eq!(rotated.0, StatusCode::OK, "{}", rotated.1);
    let (code, _) = app.open_link(PROBE_TOKEN).await.closed().await;
    assert_eq!(
        code,
        close::UNAUTHORIZED,
        "a rotated legacy token is refused"
    );
    let mut client = SocketIoProbe::connect(app, PROBE_TOKEN).await;
    let refused = client.said().await;
    assert_eq!(refused["event"], "refused", "{refused}");
    client.stop().await;
}

/// pladmed-client's way of connecting (python-socketio 5.x, `total_credits` and
/// `in_use_credits` headers, `?token=`), saying `connected` or `refused`, then each `ping`
/// operation it receives, one JSON object a line, until its stdin closes.
const SOCKETIO_CLIENT: &str = r#"
import json, sys, threading, socketio
url, token = sys.argv[1], sys.argv[2]
sio = socketio.Client(reconnection=False)
# python-socketio runs each handler on a thread of its own: one lock keeps each line whole
# (print() writes text and newline apart), and `ping` waits until `connected` was said.
saying, connected = threading.Lock(), threading.Event()
def say(**fields):
    with saying:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()
def on_connect():
    say(event="connected")
    connected.set()
def on_ping(data):
    connected.wait(30)
    say(event="ping", id=data["_id"])
sio.on("connect", on_connect)
sio.on("connect_error", lambda message=None: say(event="refused", message=str(message)))
sio.on("ping", on_ping)
try:
    sio.connect(url + "/?token=" + token, transports="websocket",
                headers={"total_credits": "1000", "in_use_credits": "0"})
except socketio.exceptions.ConnectionError as refused:
    say(event="refused", message=str(refused))
sys.stdin.readline()
sio.disconnect()
"#;

/// An original probe, run by the Python with python-socketio that `scripts/test.sh` installs
/// (`PLADMED_TEST_SOCKETIO_PYTHON`, as for `tests/legacy_probe.rs`).
struct SocketIoProbe {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl SocketIoProbe {
    async fn connect(app: &TestApp, token: &str) -> SocketIoProbe {
        let python = std::env::var_os("PLADMED_TEST_SOCKETIO_PYTHON").unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/legacy-venv/bin/python").into()
        });
        let mut child = tokio::process::Command::new(python)
            .args([
                "-c",
                SOCKETIO_CLIENT,
                &format!("http://{}", app.addr),
                token,
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "python-socketio: run `bash scripts/test.sh`, or set PLADMED_TEST_SOCKETIO_PYTHON",
            );
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        SocketIoProbe { child, lines }
    }

    /// The next thing the client says.
    async fn said(&mut self) -> Value {
        let line = tokio::time::timeout(testkit::WAIT, self.lines.next_line())
            .await
            .expect("the Socket.IO client says something within the wait")
            .unwrap()
            .expect("the Socket.IO client is still running");
        serde_json::from_str(&line).unwrap()
    }

    /// Disconnects it (closing its stdin) and waits until it exits.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        let exited = tokio::time::timeout(testkit::WAIT, self.child.wait()).await;
        assert!(exited.expect("the client exits").unwrap().success());
    }
}

#[tokio::test]
async fn an_original_database_moves_into_the_embedded_store() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = vec![("PLADMED_DATA_DIR".into(), data.display().to_string())];
    migrates(&uri, env, StorageSettings::Embedded { dir: data }).await;
}

#[tokio::test]
async fn an_original_database_moves_into_mongodb() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let database = mongo::unique_db_name("imported");
    let env = vec![
        ("PLADMED_MONGODB_URI".into(), uri.clone()),
        ("PLADMED_MONGODB_DATABASE".into(), database.clone()),
    ];
    migrates(
        &uri,
        env,
        StorageSettings::Mongo {
            uri: uri.clone(),
            database,
        },
    )
    .await;
}

#[tokio::test]
async fn import_refuses_its_own_database_and_a_running_server() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let original = original_database(&uri).await;
    let same = vec![
        ("PLADMED_MONGODB_URI".into(), uri.clone()),
        ("PLADMED_MONGODB_DATABASE".into(), original.clone()),
    ];
    let output = Server::command(&same)
        .args(["import", "--from-mongodb", &uri, "--database", &original])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("import into another database"));

    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start(dir.path()).await;
    let env = vec![("PLADMED_DATA_DIR".into(), dir.path().display().to_string())];
    let output = Server::command(&env)
        .args(["import", "--from-mongodb", &uri, "--database", &original])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a server is running"), "{stderr}");
    app.stop().await;
}

/// `Settings` must carry the legacy key; without it the original's tokens are refused.
#[tokio::test]
async fn without_the_legacy_key_original_tokens_are_refused() {
    let app = testkit::spawn_app_with(|settings: &mut Settings| {
        assert_eq!(settings.legacy_secret_key, None);
    })
    .await;
    assert_eq!(
        app.get("/users/me", Some(USER_TOKEN)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (code, _) = app.open_link(PROBE_TOKEN).await.closed().await;
    assert_eq!(code, close::UNAUTHORIZED);
    let mut client = SocketIoProbe::connect(&app, PROBE_TOKEN).await;
    assert_eq!(client.said().await["event"], "refused");
    client.stop().await;
}
