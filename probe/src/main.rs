//! `pladmed-probe`: connects to a Pladmed coordinator and runs the measurements it assigns.

use clap::Parser;
use pladmed_probe::config::Config;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    // Should another crate ever enable a second rustls provider, rustls could no longer pick
    // one by itself and every wss:// connection would fail; name the one we ship.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let filter =
        EnvFilter::try_from_env("PLADMED_PROBE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = std::io::stderr();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr.is_terminal())
        .with_writer(std::io::stderr)
        .init();
    pladmed_probe::probe::run(config, shutdown_signal()).await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
