//! The real `pladmed` binary as a child process (see [`testkit::process::Server::launch`]),
//! configured for benchmarking: no limit that a benchmark would hit before the server's own
//! costs show.

use crate::Common;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use testkit::process::{free_port, Server};

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

/// A MongoDB database name no other server of this run has used.
pub fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("pladmed_bench_{}_{n}", std::process::id())
}

/// Starts the server with `extra` settings (on `--mongodb` if given), its superuser created,
/// and waits until it answers.
pub async fn start(common: &Common, extra: &[(&str, String)]) -> anyhow::Result<Server> {
    start_in(common, extra, &fresh_database(), true).await
}

/// The name of instance `i` of a cluster.
fn instance(i: usize) -> String {
    format!("bench-{i}")
}

/// One server on `database`, its superuser created, named as the first instance of a cluster:
/// a cluster started on the same database after it (see [`start_cluster_on`]) takes over its
/// data, and its first instance clears the links this one left.
pub async fn start_single_on(common: &Common, database: &str) -> anyhow::Result<Server> {
    anyhow::ensure!(
        common.mongodb.is_some(),
        "a database shared with a later cluster needs --mongodb"
    );
    start_in(common, &[("PLADMED_INSTANCE", instance(0))], database, true).await
}

/// `n` instances sharing a fresh MongoDB database and the hub at `redis`, each with its own
/// name; the first creates the superuser.
pub async fn start_cluster(common: &Common, redis: &str, n: usize) -> anyhow::Result<Vec<Server>> {
    start_cluster_in(common, redis, n, &fresh_database(), true).await
}

/// [`start_cluster`] on `database`, where a server of [`start_single_on`] ran and stopped: its
/// users and probes are the cluster's.
pub async fn start_cluster_on(
    common: &Common,
    redis: &str,
    n: usize,
    database: &str,
) -> anyhow::Result<Vec<Server>> {
    start_cluster_in(common, redis, n, database, false).await
}

async fn start_cluster_in(
    common: &Common,
    redis: &str,
    n: usize,
    database: &str,
    superuser: bool,
) -> anyhow::Result<Vec<Server>> {
    anyhow::ensure!(
        common.mongodb.is_some(),
        "several instances need a shared store: pass --mongodb"
    );
    let mut servers = Vec::with_capacity(n);
    for i in 0..n {
        let extra = [
            ("PLADMED_REDIS_URL", redis.to_string()),
            ("PLADMED_INSTANCE", instance(i)),
        ];
        servers.push(start_in(common, &extra, database, superuser && i == 0).await?);
    }
    Ok(servers)
}

async fn start_in(
    common: &Common,
    extra: &[(&str, String)],
    database: &str,
    superuser: bool,
) -> anyhow::Result<Server> {
    let mut env: Vec<(String, String)> = vec![
        ("PLADMED_JWT_SECRET".into(), testkit::JWT_SECRET.into()),
        ("PLADMED_LOG".into(), "warn".into()),
        (
            "PLADMED_NTP_SERVER".into(),
            format!("127.0.0.1:{}", free_port()),
        ),
        ("PLADMED_WS_MAX_PER_ADDRESS".into(), "1048576".into()),
        ("PLADMED_WS_MAX_CONNECTIONS".into(), "1048576".into()),
        ("PLADMED_AUTH_RATE_PER_MINUTE".into(), "1000000".into()),
        ("PLADMED_MAX_PROBES_PER_USER".into(), "1000000".into()),
        ("PLADMED_PROBE_FRAMES_PER_S".into(), "1000000".into()),
        ("PLADMED_HELLO_TIMEOUT_S".into(), "120".into()),
    ];
    if let Some(uri) = &common.mongodb {
        env.push(("PLADMED_MONGODB_URI".into(), uri.clone()));
        env.push(("PLADMED_MONGODB_DATABASE".into(), database.to_string()));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Ok(Server::launch_as(binary(common)?, env, superuser).await?)
}
