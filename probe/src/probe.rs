//! Assembling the probe from its settings and running it until shutdown.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::ledger::Ledger;
use crate::link::{self, Refused};
use crate::outbox::Outbox;
use crate::runner::{Resolver, Runner, Tools};
use crate::scheduler::Scheduler;
use crate::tls;
use chrono::Utc;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// How often finished operations past their retention are forgotten.
const PRUNE_PERIOD: Duration = Duration::from_secs(10 * 60);

/// Why the probe stopped other than by a shutdown request.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The state directory cannot be used.
    #[error("cannot use the state directory: {0}")]
    State(#[from] std::io::Error),
    /// The coordinator refused the probe for good.
    #[error(transparent)]
    Refused(#[from] Refused),
}

/// Runs the probe until `shutdown` completes or the coordinator refuses it.
///
/// Shutting down stops scheduling, lets the running executions finish (within
/// `--shutdown-grace-s`) and store their results while the link still delivers, then closes
/// the link with 1000.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ProbeError> {
    let token = config.token()?;
    let tls = tls::client_config(config.ca_file.as_deref())?;
    // `stop` ends scheduling; `cancel` everything else, the link last.
    let stop = CancellationToken::new();
    let cancel = CancellationToken::new();
    let clock = Clock::default();
    if let Some(server) = config.ntp() {
        clock.start_sync(server, cancel.clone()).await;
    }
    let outgoing = Arc::new(Notify::new());
    let outbox = Arc::new(Outbox::open(
        config.state_dir.join("outbox"),
        outgoing.clone(),
    )?);
    let ledger = Arc::new(Ledger::open(
        config.state_dir.join("operations"),
        outgoing.clone(),
    )?);
    spawn_pruning(ledger.clone(), cancel.clone());
    let runner = Runner::new(tools(&config), config.credits);
    let scheduler = Scheduler::new(
        runner,
        outbox.clone(),
        ledger.clone(),
        clock.clone(),
        stop.clone(),
    );
    scheduler.resume();
    let context = link::Context {
        servers: config.server.clone(),
        tls,
        token,
        total_credits: config.credits,
        clock,
        ledger,
        outbox,
        scheduler: scheduler.clone(),
        outgoing,
        max_reconnect: config.max_reconnect,
    };
    let grace = config.shutdown_grace;
    let wind_down = || async {
        stop.cancel();
        scheduler.wait_stopped(grace).await;
        cancel.cancel();
    };
    let link = link::run(&context, &cancel);
    tokio::pin!(link);
    let outcome = tokio::select! {
        outcome = &mut link => {
            wind_down().await;
            outcome
        }
        _ = shutdown => {
            tracing::info!(grace_s = grace.as_secs(), "shutting down: no new runs, waiting for the running ones");
            tokio::join!(wind_down(), &mut link).1
        }
    };
    tracing::info!("stopped");
    Ok(outcome?)
}

fn tools(config: &Config) -> Tools {
    Tools {
        scamper: config.scamper.clone(),
        sc_analysis_dump: config.sc_analysis_dump.clone(),
        dig: config.dig.clone(),
        resolver: Resolver {
            server: config.dns_server,
            port: config.dns_port,
        },
        timeout: config.tool_timeout,
    }
}

fn spawn_pruning(ledger: Arc<Ledger>, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            match ledger.prune(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(operations = n, "finished operations forgotten"),
                Err(error) => tracing::warn!(%error, "cannot forget finished operations"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(PRUNE_PERIOD) => {}
            }
        }
    });
}
