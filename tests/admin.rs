//! The admin commands of the real binary beside a running server on the embedded store (through
//! its admin socket), without one (on the store directly), and the superuser the environment
//! asks for at startup.

use futures::{SinkExt, StreamExt};
use probe_protocol::close;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use testkit::probe::hello_frame;
use testkit::process::{free_port, Server};
use testkit::{mongo, Client, JWT_SECRET, PASSWORD};
use tokio_tungstenite::tungstenite::Message;

/// How long a test waits for a log line, a close frame or the process to exit.
const WAIT: Duration = Duration::from_secs(60);

/// A data directory and the environment of a server on it.
struct Setup {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![
            ("PLADMED_DATA_DIR".into(), dir.path().display().to_string()),
            ("PLADMED_JWT_SECRET".into(), JWT_SECRET.into()),
        ];
        Setup { dir, env }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("admin.sock")
    }

    /// Runs `pladmed ARGS` on this data directory.
    fn admin(&self, args: &[&str]) -> Output {
        Server::command(&self.env).args(args).output().unwrap()
    }

    /// Runs `pladmed ARGS`, which must succeed; returns what it printed.
    fn admin_ok(&self, args: &[&str]) -> String {
        let output = self.admin(args);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{args:?}: {stdout}\n{stderr}");
        stdout
    }
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The server with its log at `info` captured line by line; SIGKILLed when dropped.
struct Logged {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    /// Every line received so far.
    seen: std::cell::RefCell<Vec<String>>,
}

impl Logged {
    fn start(env: &[(String, String)]) -> Logged {
        let port = free_port();
        let mut child = Server::command(env)
            .env("PLADMED_LOG", "info")
            .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let server = Logged {
            child,
            port,
            lines,
            seen: Default::default(),
        };
        server.log_line("serving");
        server
    }

    /// The first log line containing `needle`, waiting for it if need be.
    fn log_line(&self, needle: &str) -> String {
        let mut seen = self.seen.borrow_mut();
        if let Some(line) = seen.iter().find(|l| l.contains(needle)) {
            return line.clone();
        }
        loop {
            match self.lines.recv_timeout(WAIT) {
                Ok(line) => {
                    seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line with {needle:?}: {e}\n{}", seen.join("\n")),
            }
        }
    }

    fn client(&self) -> Client {
        Client::new(format!("http://127.0.0.1:{}", self.port))
    }

    /// SIGTERM, then waits for the exit.
    fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = std::time::Instant::now() + WAIT;
        while self.child.try_wait().unwrap().is_none() {
            assert!(std::time::Instant::now() < deadline, "server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_private_socket(path: &Path) {
    let meta = std::fs::symlink_metadata(path).expect("the admin socket exists");
    assert!(
        meta.file_type().is_socket(),
        "{} is a socket",
        path.display()
    );
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "owner only");
}

async fn login(api: &Client, email: &str, password: &str) -> (u16, Value) {
    let credentials = json!({"email": email, "password": password});
    let (status, body) = api.post("/login", None, credentials).await;
    (status.as_u16(), body)
}

#[tokio::test]
async fn superuser_create_beside_a_running_server_goes_through_its_admin_socket() {
    let setup = Setup::new();
    let server = Server::start(setup.env.clone(), free_port());
    let api = server.client();
    server.wait_until_up().await;
    assert_private_socket(&setup.socket());

    let printed = setup.admin_ok(&["superuser", "create", "root@example.org", PASSWORD]);

    assert!(
        printed.contains("superuser root@example.org created"),
        "{printed}"
    );
    // The superuser signs in over HTTP and grants credits (POST /credits).
    let user = api.funded_by_root("user@example.org", 500).await.token;
    let again = setup.admin(&["superuser", "create", "root@example.org", PASSWORD]);
    assert!(!again.status.success());
    assert!(
        text(&again).1.contains("already registered"),
        "{:?}",
        text(&again)
    );
    let printed = setup.admin_ok(&["credits", "grant", "user@example.org", "25"]);
    assert!(printed.contains("now holds 525"), "{printed}");
    let me = api.get("/users/me", Some(&user)).await.1;
    assert_eq!(me["credits"], 525);
    let refused = setup.admin(&["credits", "grant", "nobody@example.org", "1"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused).1.contains("no account"),
        "{:?}",
        text(&refused)
    );
}

#[tokio::test]
async fn probe_revoke_and_remove_beside_a_running_server_close_the_link_with_4001() {
    let setup = Setup::new();
    let LinkedProbe {
        server,
        api,
        owner,
        probe_id,
        token,
        mut link,
    } = LinkedProbe::start(&setup).await;

    let printed = setup.admin_ok(&["probe", "revoke", &probe_id]);

    assert!(printed.contains("tokens revoked"), "{printed}");
    assert!(printed.contains("its link was closed"), "{printed}");
    assert_eq!(close_code(&mut link).await, close::UNAUTHORIZED);
    let (mut stale, _) = tokio_tungstenite::connect_async(server.ws_url(&token))
        .await
        .unwrap();
    assert_eq!(close_code(&mut stale).await, close::UNAUTHORIZED);
    let mine = api.get("/probes/me", Some(&owner)).await.1;
    let renewed = mine[0]["token"].as_str().unwrap().to_string();
    let mut link = open_link(&server, &renewed).await;
    let printed = setup.admin_ok(&["probe", "remove", &probe_id]);
    assert!(
        printed.contains("removed; its link was closed"),
        "{printed}"
    );
    assert_eq!(close_code(&mut link).await, close::UNAUTHORIZED);
    let listed = api.get("/probes", None).await.1;
    assert_eq!(listed, json!([]));
    let unknown = setup.admin(&["probe", "revoke", &probe_id]);
    assert!(!unknown.status.success());
    assert!(
        text(&unknown).1.contains("doesn't exist"),
        "{:?}",
        text(&unknown)
    );
    let malformed = setup.admin(&["probe", "revoke", "not-an-id"]);
    assert!(
        text(&malformed).1.contains("probe: \"not-an-id\""),
        "{:?}",
        text(&malformed)
    );
}

type Link =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A server on `setup`'s data, its superuser (made with the CLI), an owner and their probe,
/// connected.
struct LinkedProbe {
    server: Server,
    api: Client,
    owner: String,
    probe_id: String,
    token: String,
    link: Link,
}

impl LinkedProbe {
    async fn start(setup: &Setup) -> LinkedProbe {
        let server = Server::start(setup.env.clone(), free_port());
        let api = server.client();
        server.wait_until_up().await;
        setup.admin_ok(&["superuser", "create", "root@example.org", PASSWORD]);
        let owner = api.funded_by_root("owner@example.org", 1).await.token;
        let (probe_id, token) = api.register_probe(&owner).await;
        let link = open_link(&server, &token).await;
        LinkedProbe {
            server,
            api,
            owner,
            probe_id,
            token,
            link,
        }
    }
}

/// Connects with `token`, says hello and reads the welcome.
async fn open_link(server: &Server, token: &str) -> Link {
    let (mut link, _) = tokio_tungstenite::connect_async(server.ws_url(token))
        .await
        .unwrap();
    link.send(hello_frame()).await.unwrap();
    let welcome = tokio::time::timeout(WAIT, link.next()).await.unwrap();
    assert!(matches!(welcome, Some(Ok(Message::Text(_)))), "{welcome:?}");
    link
}

/// The close code the server ends `link` with.
async fn close_code<S>(link: &mut tokio_tungstenite::WebSocketStream<S>) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame = tokio::time::timeout(WAIT, link.next())
            .await
            .expect("closed within the wait");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => return u16::from(close.code),
            Some(Ok(_)) => continue,
            other => panic!("link ended without a close code: {other:?}"),
        }
    }
}

#[tokio::test]
async fn without_a_server_the_cli_opens_the_store_and_a_stale_socket_is_replaced() {
    let setup = Setup::new();
    let killed = Logged::start(&setup.env);
    drop(killed); // SIGKILL: the socket file stays behind, nobody listens on it
    assert_private_socket(&setup.socket());

    setup.admin_ok(&["superuser", "create", "root@example.org", PASSWORD]);

    let server = Logged::start(&setup.env);
    assert_private_socket(&setup.socket());
    let printed = setup.admin_ok(&["credits", "grant", "root@example.org", "7"]);
    assert!(printed.contains("now holds 7"), "{printed}");
    let (status, body) = login(&server.client(), "root@example.org", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    server.terminate();
    assert!(!setup.socket().exists(), "removed at shutdown");
    let printed = setup.admin_ok(&["credits", "grant", "root@example.org", "1"]);
    assert!(printed.contains("now holds 8"), "{printed}");
}

#[tokio::test]
async fn the_superuser_from_the_environment_is_created_once_and_then_left_as_it_is() {
    let mut setup = Setup::new();
    let password_file = setup.dir.path().join("superuser-password");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    setup.env.extend([
        ("PLADMED_SUPERUSER_EMAIL".into(), "boot@example.org".into()),
        // The file wins over the variable.
        ("PLADMED_SUPERUSER_PASSWORD".into(), "Ignored#Pass1".into()),
        (
            "PLADMED_SUPERUSER_PASSWORD_FILE".into(),
            password_file.display().to_string(),
        ),
    ]);

    let first = Logged::start(&setup.env);
    first.log_line("superuser from PLADMED_SUPERUSER_EMAIL created");
    let (status, token) = login(&first.client(), "boot@example.org", PASSWORD).await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap();
    let me = first.client().get("/users/me", Some(token)).await.1;
    assert_eq!(me["is_superuser"], true, "{me}");
    first.terminate();

    std::fs::write(&password_file, "Changed#Pass2").unwrap();
    let second = Logged::start(&setup.env);

    let line = second.log_line("PLADMED_SUPERUSER_EMAIL has an account already");
    assert!(line.contains("left as it is"), "{line}");
    let (status, _) = login(&second.client(), "boot@example.org", PASSWORD).await;
    assert_eq!(status, 200, "the existing account kept its password");
    let (status, _) = login(&second.client(), "boot@example.org", "Changed#Pass2").await;
    assert_eq!(status, 404, "the new password was not applied");
}

#[tokio::test]
async fn an_incomplete_or_invalid_superuser_environment_stops_startup_naming_the_variable() {
    for (extra, variable) in [
        (
            vec![("PLADMED_SUPERUSER_EMAIL", "boot@example.org")],
            "PLADMED_SUPERUSER_PASSWORD",
        ),
        (
            vec![("PLADMED_SUPERUSER_PASSWORD", PASSWORD)],
            "PLADMED_SUPERUSER_EMAIL",
        ),
        (
            vec![
                ("PLADMED_SUPERUSER_EMAIL", "boot@example.org"),
                ("PLADMED_SUPERUSER_PASSWORD", "short"),
            ],
            "PLADMED_SUPERUSER_PASSWORD",
        ),
    ] {
        let mut setup = Setup::new();
        setup
            .env
            .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let output = setup.admin(&["serve"]);
        assert!(!output.status.success());
        let (_, stderr) = text(&output);
        assert!(stderr.contains(variable), "{extra:?}: {stderr}");
    }
}

/// On MongoDB the CLI writes to the database itself; the server, which did not see the
/// revocation, closes the link at its next link audit (one heartbeat period) and refuses the
/// old token from then on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mongodb_probe_revoke_writes_the_database_and_the_server_closes_the_link_within_a_heartbeat(
) {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let setup = Setup {
        dir: tempfile::tempdir().unwrap(),
        env: vec![
            ("PLADMED_MONGODB_URI".into(), uri),
            (
                "PLADMED_MONGODB_DATABASE".into(),
                mongo::unique_db_name("admin_cli"),
            ),
            ("PLADMED_JWT_SECRET".into(), JWT_SECRET.into()),
            ("PLADMED_HEARTBEAT_S".into(), "2".into()),
        ],
    };
    let LinkedProbe {
        server,
        probe_id,
        token,
        mut link,
        ..
    } = LinkedProbe::start(&setup).await;
    let closed = tokio::spawn(async move { close_code(&mut link).await });

    let printed = setup.admin_ok(&["probe", "revoke", &probe_id]);

    assert!(printed.contains("tokens revoked"), "{printed}");
    assert!(!setup.socket().exists(), "no admin socket on MongoDB");
    assert_eq!(closed.await.unwrap(), close::UNAUTHORIZED);
    let (mut stale, _) = tokio_tungstenite::connect_async(server.ws_url(&token))
        .await
        .unwrap();
    assert_eq!(close_code(&mut stale).await, close::UNAUTHORIZED);
}
