//! `pladmed-bench`: starts the real `pladmed` binary, drives it with simulated probes over real
//! WebSockets and with REST clients, and measures each scenario beside a baseline taken in the
//! same run (a minimal broadcast/static server, or the bare store). Loopback only; every loop is
//! bounded in count and time, so a run always ends by itself.

mod floor;
mod report;
mod scenarios;
mod server;
mod system;

use clap::{Args, Parser, Subcommand};
use report::Report;
use std::path::PathBuf;

/// The server's allocator (see src/main.rs), so that the store baseline, which runs in this
/// process, and the floor servers pay what the server pays for memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pladmed-bench",
    about = "Benchmarks of the pladmed coordinator"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
    #[command(flatten)]
    common: Common,
}

/// Options every scenario shares.
#[derive(Args, Clone)]
pub struct Common {
    /// The server binary to benchmark (default: `pladmed` next to this executable).
    #[arg(long, global = true)]
    server_bin: Option<PathBuf>,
    /// Run the server on this MongoDB instead of the embedded store.
    #[arg(long, global = true)]
    mongodb: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(long, global = true)]
    json: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Scenario {
    /// Time from POST /ping to each probe's `operation` frame, against a broadcast floor.
    Fanout(scenarios::fanout::Options),
    /// Acknowledged results per second and ack latency, against the bare store's write rate.
    Ingest(scenarios::ingest::Options),
    /// Server memory per idle probe and idle CPU, against the floor server.
    Idle(scenarios::idle::Options),
    /// POST /ping and GET /probes throughput, against a static server.
    Rest(scenarios::rest::Options),
    /// Every scenario at a small size (CI: keeps the harness from rotting).
    All,
    /// The baseline server (started by the harness itself).
    #[command(hide = true)]
    Floor(floor::Options),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Scenario::Floor(options) = cli.scenario {
        return floor::main(options);
    }
    system::raise_fd_limit()?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(run(cli.scenario, &cli.common))?;
    report.print();
    if let Some(path) = &cli.common.json {
        report.write_json(path)?;
    }
    Ok(())
}

async fn run(scenario: Scenario, common: &Common) -> anyhow::Result<Report> {
    let mut report = Report::new(std::env::args().collect::<Vec<_>>().join(" "));
    match scenario {
        Scenario::Fanout(o) => scenarios::fanout::run(common, &o, &mut report).await?,
        Scenario::Ingest(o) => scenarios::ingest::run(common, &o, &mut report).await?,
        Scenario::Idle(o) => scenarios::idle::run(common, &o, &mut report).await?,
        Scenario::Rest(o) => scenarios::rest::run(common, &o, &mut report).await?,
        Scenario::All => {
            scenarios::fanout::run(common, &scenarios::fanout::Options::small(), &mut report)
                .await?;
            scenarios::ingest::run(common, &scenarios::ingest::Options::small(), &mut report)
                .await?;
            scenarios::idle::run(common, &scenarios::idle::Options::small(), &mut report).await?;
            scenarios::rest::run(common, &scenarios::rest::Options::small(), &mut report).await?;
        }
        Scenario::Floor(_) => unreachable!("handled before the runtime starts"),
    }
    Ok(report)
}
