//! The real `pladmed` binary as a child process (see [`testkit::process::Server::launch`]),
//! configured for benchmarking: no limit that a benchmark would hit before the server's own
//! costs show.

use crate::Common;
use std::path::PathBuf;
use std::process::Command;
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

/// Starts the server with `extra` settings (on `--mongodb` if given), its superuser created,
/// and waits until it answers.
pub async fn start(common: &Common, extra: &[(&str, String)]) -> anyhow::Result<Server> {
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
        let database = format!("pladmed_bench_{}", std::process::id());
        env.push(("PLADMED_MONGODB_URI".into(), uri.clone()));
        env.push(("PLADMED_MONGODB_DATABASE".into(), database));
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Ok(Server::launch(binary(common)?, env).await?)
}
