//! The real `pladmed` binary as a child process, configured for benchmarking.

use crate::Common;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const ROOT_EMAIL: &str = "root@bench.example.org";
pub const PASSWORD: &str = "Bench#Pass1";
const SECRET: &str = "pladmed-bench-secret-pladmed-bench-secret";
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server; killed and its data removed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    _data: tempfile::TempDir,
}

/// The server binary: `--server-bin`, else `pladmed` next to this executable. Under `cargo run`
/// (which sets `CARGO`), that one is built first, so that the harness never measures a server
/// older than its own source.
fn binary(common: &Common) -> anyhow::Result<PathBuf> {
    if let Some(path) = &common.server_bin {
        return Ok(path.clone());
    }
    let here = std::env::current_exe()?;
    if let Some(cargo) = std::env::var_os("CARGO") {
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml");
        let mut build = Command::new(cargo);
        build.args(["build", "-q", "-p", "pladmed", "--manifest-path", manifest]);
        // The same profile as this executable's: target/release or target/debug.
        if here.parent().and_then(|dir| dir.file_name()) == Some("release".as_ref()) {
            build.arg("--release");
        }
        anyhow::ensure!(
            build.status()?.success(),
            "building the pladmed server failed"
        );
    }
    let path = here.with_file_name("pladmed");
    anyhow::ensure!(
        path.exists(),
        "{} not found: build it (cargo build --release -p pladmed -p pladmed-bench) or pass --server-bin",
        path.display()
    );
    Ok(path)
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A MongoDB database name no other server of this run has used.
fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("pladmed_bench_{}_{n}", std::process::id())
}

impl Server {
    /// Creates the superuser, starts the server with `extra` settings and waits until it answers.
    pub async fn start(common: &Common, extra: &[(&str, String)]) -> anyhow::Result<Server> {
        Self::start_in(common, extra, &fresh_database(), true).await
    }

    /// `n` instances sharing one MongoDB database and the hub at `redis`, each with its own
    /// name; the first creates the superuser.
    pub async fn start_cluster(
        common: &Common,
        redis: &str,
        n: usize,
    ) -> anyhow::Result<Vec<Server>> {
        anyhow::ensure!(
            common.mongodb.is_some(),
            "several instances need a shared store: pass --mongodb"
        );
        let database = fresh_database();
        let mut servers = Vec::with_capacity(n);
        for i in 0..n {
            let extra = [
                ("PLADMED_REDIS_URL", redis.to_string()),
                ("PLADMED_INSTANCE", format!("bench-{i}")),
            ];
            servers.push(Self::start_in(common, &extra, &database, i == 0).await?);
        }
        Ok(servers)
    }

    async fn start_in(
        common: &Common,
        extra: &[(&str, String)],
        database: &str,
        superuser: bool,
    ) -> anyhow::Result<Server> {
        let data = tempfile::tempdir()?;
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let mut env: Vec<(String, String)> = vec![
            ("PLADMED_BIND".into(), addr.to_string()),
            ("PLADMED_JWT_SECRET".into(), SECRET.into()),
            ("PLADMED_LOG".into(), "warn".into()),
            (
                "PLADMED_NTP_SERVER".into(),
                format!("127.0.0.1:{}", free_port()?),
            ),
            ("PLADMED_WS_MAX_PER_ADDRESS".into(), "1048576".into()),
            ("PLADMED_WS_MAX_CONNECTIONS".into(), "1048576".into()),
            ("PLADMED_AUTH_RATE_PER_MINUTE".into(), "1000000".into()),
            ("PLADMED_MAX_PROBES_PER_USER".into(), "1000000".into()),
            ("PLADMED_PROBE_FRAMES_PER_S".into(), "1000000".into()),
            ("PLADMED_HELLO_TIMEOUT_S".into(), "120".into()),
        ];
        match &common.mongodb {
            Some(uri) => {
                env.push(("PLADMED_MONGODB_URI".into(), uri.clone()));
                env.push(("PLADMED_MONGODB_DATABASE".into(), database.to_string()));
            }
            None => env.push((
                "PLADMED_DATA_DIR".into(),
                data.path().join("data").display().to_string(),
            )),
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        let bin = binary(common)?;
        if superuser {
            let status = Command::new(&bin)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .args(["superuser", "create", ROOT_EMAIL, PASSWORD])
                .stdout(Stdio::null())
                .status()?;
            anyhow::ensure!(status.success(), "superuser create failed");
        }
        let log = std::fs::File::create(data.path().join("server.log"))?;
        let child = Command::new(&bin)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()?;
        let server = Server {
            child,
            addr,
            _data: data,
        };
        server.wait_until_up().await?;
        Ok(server)
    }

    async fn wait_until_up(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let client = reqwest::Client::new();
        while client.get(self.url("/probes")).send().await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
