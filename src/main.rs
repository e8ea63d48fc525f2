//! The `pladmed` binary: `pladmed` (or `pladmed serve`) runs the server;
//! `pladmed superuser create EMAIL PASSWORD` creates a superuser.

use anyhow::Context;
use clap::{Parser, Subcommand};
use pladmed::accounts::PasswordHashing;
use pladmed::config::Settings;
use pladmed::startup::{open_store, Application};

/// mimalloc instead of glibc's malloc: result ingest is allocation-bound (decoding a result's
/// JSON builds a tree of small values), and a profile of `pladmed-bench ingest` showed a fifth
/// of the server's CPU in glibc's malloc and free (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "pladmed", version, about = "Pladmed measurement coordinator")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage superusers.
    Superuser {
        #[command(subcommand)]
        action: SuperuserAction,
    },
}

#[derive(Subcommand)]
enum SuperuserAction {
    /// Create a superuser account (same password policy as /register).
    Create {
        /// Login e-mail address.
        email: String,
        /// Password: at least 8 characters with upper, lower, digit and special character.
        password: String,
    },
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler can be installed");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::from_env().context("invalid configuration")?;
    pladmed::telemetry::logging::init(&settings)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let app = Application::build(settings).await?;
            app.run_until(shutdown_signal()).await;
        }
        Command::Superuser {
            action: SuperuserAction::Create { email, password },
        } => {
            let store = open_store(&settings).await?;
            let hashing = PasswordHashing::new(settings.limits.hash_concurrency);
            let user =
                pladmed::accounts::register(store.as_ref(), &hashing, &email, &password, true)
                    .await?;
            tracing::info!(user = %user.id, email = %user.email, "superuser created");
        }
    }
    Ok(())
}
