//! The `pladmed` binary: `pladmed` (or `pladmed serve`) runs the server; the admin commands
//! (`superuser create`, `credits grant`, `probe revoke`, `probe remove`) work whether or not a
//! server runs on the same data (see `pladmed::admin`); `import` reads an original
//! pladmed-backend database into the store (see `pladmed::import`).

use anyhow::Context;
use clap::{Parser, Subcommand};
use pladmed::admin::{Request, Response};
use pladmed::config::Settings;
use pladmed::startup::Application;

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
    /// Manage credits.
    Credits {
        #[command(subcommand)]
        action: CreditsAction,
    },
    /// Manage probes.
    Probe {
        #[command(subcommand)]
        action: ProbeAction,
    },
    /// Import an original pladmed-backend database (users, probes, operations and their
    /// results), keeping ids; a second run imports nothing twice (docs/migration.md).
    Import {
        /// The original's MongoDB connection string.
        #[arg(long = "from-mongodb", value_name = "URI")]
        from_mongodb: String,
        /// The original's database name (its MONGO_DATABASE).
        #[arg(long, value_name = "NAME", default_value = "pladmed")]
        database: String,
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

#[derive(Subcommand)]
enum CreditsAction {
    /// Add credits to the account with this e-mail address.
    Grant {
        /// The account's e-mail address.
        email: String,
        /// Credits to add (at least 1).
        credits: u64,
    },
}

#[derive(Subcommand)]
enum ProbeAction {
    /// Revoke every token of a probe: its link is closed with 4001 and it needs the new token
    /// (its owner reads it from GET /probes/me).
    Revoke {
        /// The probe identifier.
        id: String,
    },
    /// Remove a probe: no longer listed or assignable; its results stay.
    Remove {
        /// The probe identifier.
        id: String,
    },
}

impl Command {
    /// The admin request this command stands for; `None` for `serve`.
    fn admin_request(self) -> Option<Request> {
        Some(match self {
            Command::Serve | Command::Import { .. } => return None,
            Command::Superuser {
                action: SuperuserAction::Create { email, password },
            } => Request::CreateSuperuser { email, password },
            Command::Credits {
                action: CreditsAction::Grant { email, credits },
            } => Request::GrantCredits { email, credits },
            Command::Probe {
                action: ProbeAction::Revoke { id },
            } => Request::RevokeProbe { probe: id },
            Command::Probe {
                action: ProbeAction::Remove { id },
            } => Request::RemoveProbe { probe: id },
        })
    }
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
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Import {
        from_mongodb,
        database,
    } = command
    {
        let source = pladmed::import::Source {
            uri: from_mongodb,
            database,
        };
        let summary = pladmed::import::run(&settings, &source).await?;
        println!("{summary}");
        return Ok(());
    }
    let Some(request) = command.admin_request() else {
        let app = Application::build(settings).await?;
        app.run_until(shutdown_signal()).await;
        return Ok(());
    };
    match pladmed::admin::run(&settings, request).await? {
        refused @ Response::Refused { .. } => anyhow::bail!("{refused}"),
        done => println!("{done}"),
    }
    Ok(())
}
