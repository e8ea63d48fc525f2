//! Several `pladmed` instances sharing one MongoDB database and one `redis-server` of their
//! own, and raw probe links to them.
//!
//! `redis-server` (Debian's `redis-server`, or `valkey-server`) must be
//! installed: `.ci/run` installs it; a missing one fails the test with that advice. The binary
//! can be named with `PLADMED_TEST_REDIS_SERVER`.
use crate::daemon::Daemon;
use crate::mongo;
use crate::process::{create_superuser, free_port, Server};
use crate::JWT_SECRET;
use futures::{SinkExt, StreamExt};
use probe_protocol::{OperationOrder, ServerMessage};
use std::process::Command;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A raw probe link.
pub type Link = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A `redis-server` on a loopback port, without persistence; killed when dropped.
pub struct RedisServer {
    pub port: u16,
    daemon: Daemon,
}

impl RedisServer {
    /// Starts one and waits until it accepts connections.
    pub fn start() -> RedisServer {
        let binary = std::env::var("PLADMED_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            ["redis-server", "valkey-server"]
                .into_iter()
                .find(|name| Command::new(name).arg("--version").output().is_ok())
                .expect(
                    "neither redis-server nor valkey-server is installed: `apt-get install \
                     redis-server` (.ci/run does), or name one in PLADMED_TEST_REDIS_SERVER",
                )
                .to_string()
        });
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--daemonize", "no"]);
        let daemon = Daemon::start("redis-server", command, port, Duration::from_secs(20));
        RedisServer { port, daemon }
    }

    /// The URL instances connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again on the same port (empty: it keeps nothing).
    pub fn restart(&mut self) {
        self.daemon.restart();
    }
}

/// Instances sharing one database and one Redis.
pub struct Cluster {
    pub redis: RedisServer,
    pub servers: Vec<Server>,
    env: Vec<(String, String)>,
}

impl Cluster {
    /// `instances` servers, up and serving, with the superuser `root@example.org` created;
    /// `None` when MongoDB tests are deliberately skipped (see [`mongo::mongo_uri`]).
    pub async fn start(instances: usize, extra: &[(&str, &str)]) -> Option<Cluster> {
        let uri = mongo::mongo_uri()?;
        let redis = RedisServer::start();
        let mut env: Vec<(String, String)> = [
            ("PLADMED_MONGODB_URI", uri.as_str()),
            ("PLADMED_REDIS_URL", redis.url().as_str()),
            ("PLADMED_JWT_SECRET", JWT_SECRET),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let database = mongo::unique_db_name("scale_out");
        env.push(("PLADMED_MONGODB_DATABASE".into(), database));
        create_superuser(&env);
        let mut cluster = Cluster {
            redis,
            servers: Vec::new(),
            env,
        };
        for _ in 0..instances {
            cluster.add_instance().await;
        }
        Some(cluster)
    }

    /// One more instance, up and serving; returns its index.
    pub async fn add_instance(&mut self) -> usize {
        let index = self.servers.len();
        let mut env = self.env.clone();
        env.push(("PLADMED_INSTANCE".into(), format!("instance-{index}")));
        let server = Server::start(env, free_port());
        server.wait_until_up().await;
        self.servers.push(server);
        index
    }

    /// Instance `index`.
    pub fn server(&self, index: usize) -> &Server {
        &self.servers[index]
    }
}

/// What [`link`] announces in its `hello`: credits and clock offset.
pub const TOTAL_CREDITS: u64 = 1_000_000;
pub const CLOCK_OFFSET_MS: f64 = 2.5;

/// A probe link to `server` with `token`, welcomed.
pub async fn link(server: &Server, token: &str) -> Link {
    let (mut socket, _) = tokio_tungstenite::connect_async(server.ws_url(token))
        .await
        .expect("upgrade");
    let hello = crate::probe::hello("scale-out-test", TOTAL_CREDITS, Some(CLOCK_OFFSET_MS));
    socket
        .send(Message::text(hello.encode()))
        .await
        .expect("hello");
    let welcome = next_message(&mut socket, Duration::from_secs(10)).await;
    assert!(
        matches!(welcome, Some(ServerMessage::Welcome(_))),
        "{welcome:?}"
    );
    socket
}

/// The next server message within `wait`, skipping pings; `None` on timeout or close.
pub async fn next_message(socket: &mut Link, wait: Duration) -> Option<ServerMessage> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        match frame.ok()? {
            Message::Text(text) => return Some(ServerMessage::decode(&text).expect("decodes")),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// The next `operation` order within `wait`, skipping other messages.
pub async fn next_order(socket: &mut Link, wait: Duration) -> Option<OperationOrder> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match next_message(socket, left).await? {
            ServerMessage::Operation(order) => return Some(order),
            _ => continue,
        }
    }
}

/// The close code the server ends `socket` with within `wait` (other frames are skipped).
pub async fn close_code(socket: &mut Link, wait: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        if let Message::Close(close) = frame.ok()? {
            return close.map(|c| u16::from(c.code));
        }
    }
}
