//! `pladmed-probe`: connects to a Pladmed coordinator and runs the measurements it assigns.

use clap::Parser;
use pladmed_probe::config::Config;
use std::future::Future;
use std::io::IsTerminal;
use tokio::signal::unix::{signal, SignalKind};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let filter =
        EnvFilter::try_from_env("PLADMED_PROBE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = std::io::stderr();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(stderr.is_terminal())
        .with_writer(std::io::stderr)
        .init();
    pladmed_probe::probe::run(config, shutdown_signal()?).await?;
    Ok(())
}

/// Completes on the first SIGTERM (what `docker stop` and systemd send) or SIGINT (Ctrl-C);
/// a second one exits at once. The handlers are installed now, not when first polled, so that
/// a signal during startup is not the default, abrupt exit.
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            tracing::warn!("second signal: exiting now, running measurements are lost");
            std::process::exit(1);
        });
    })
}
