//! `pladmed-cli`: a researcher's terminal client of a Pladmed server.
//!
//! A command goes `args` (what was typed) → `request` (the API body, checked with the server's
//! own parameter rules) → `api` (HTTP, errors with the server's text) → `output` (people or
//! programs); `--wait` adds `follow` (the live result stream). `credentials` keeps the login
//! between runs; `error` gives every failure its exit code.

/// The REST client: JSON requests and the server's errors.
pub mod api;
/// The command line.
pub mod args;
/// `login`, `logout`, `probes`, `credits`, `results`.
pub mod commands;
/// The stored login (mode 0600).
pub mod credentials;
/// Failures and exit codes.
pub mod error;
/// Following an operation's Server-Sent Events until it ends.
pub mod follow;
/// `ping`, `traceroute`, `dns`.
pub mod measure;
/// Result printing: readable lines, JSON lines, CSV.
pub mod output;
/// Operation bodies from arguments.
pub mod request;

use args::{Cli, Command, DEFAULT_SERVER};
use error::Result;
use probe_protocol::OperationKind;

/// Runs one command line.
pub async fn run(cli: Cli) -> Result<()> {
    if let Command::Logout = cli.command {
        return commands::logout();
    }
    let api = connect(cli.server.as_deref())?;
    match &cli.command {
        Command::Login(args) => commands::login(&api, args).await,
        Command::Logout => unreachable!("handled above"),
        Command::Probes(args) => commands::probes(&api, args).await,
        Command::Credits => commands::credits(&api).await,
        Command::Results(args) => commands::results(&api, args).await,
        Command::Ping(args) => measure::run(&api, OperationKind::Ping, args).await,
        Command::Traceroute(args) => measure::run(&api, OperationKind::Traceroute, args).await,
        Command::Dns(args) => measure::run(&api, OperationKind::Dns, args).await,
    }
}

/// A client of the server `--server` (or `PLADMED_SERVER`) names, else of the last login's,
/// else of the default. The stored token goes only to the server it was issued by.
fn connect(server: Option<&str>) -> Result<api::Api> {
    let stored = credentials::load()?;
    let server = server
        .or(stored.as_ref().map(|c| c.server.as_str()))
        .unwrap_or(DEFAULT_SERVER)
        .trim_end_matches('/')
        .to_string();
    let token = stored
        .filter(|c| c.server.trim_end_matches('/') == server)
        .map(|c| c.token);
    api::Api::new(&server, token)
}
