//! The command line: every subcommand and option, with the help text users read.

use clap::{Args, Parser, Subcommand};

/// Where the server is when neither `--server` nor `PLADMED_SERVER` nor a login says otherwise:
/// the server's own default listen address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:5000";

/// Measure from your terminal with a Pladmed server.
#[derive(Debug, Parser)]
#[command(name = "pladmed-cli", version, about, propagate_version = true)]
pub struct Cli {
    /// The server's base URL [default: the server of the last login, else http://127.0.0.1:5000].
    #[arg(long, env = "PLADMED_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log in and keep the token in <config dir>/pladmed/credentials.json (mode 0600).
    Login(LoginArgs),
    /// Forget the stored token.
    Logout,
    /// List the probes.
    Probes(ProbesArgs),
    /// Show the logged-in account's credits.
    Credits,
    /// Print every result of an operation (all pages).
    Results(ResultsArgs),
    /// Ping TARGETs (IP addresses or host names) from probes.
    Ping(MeasureArgs),
    /// Traceroute to TARGETs (IP addresses or host names) from probes.
    Traceroute(MeasureArgs),
    /// Look up TARGETs (names; or one IP address, looked up in reverse) from probes.
    Dns(MeasureArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The account's e-mail address.
    pub email: String,
    /// Read the password from the first line of standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct ProbesArgs {
    /// Only the probes connected now.
    #[arg(long)]
    pub connected: bool,
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// How results are printed.
#[derive(Debug, Args, Clone, Copy)]
pub struct FormatArgs {
    /// One JSON object per result and line, as the API returns it.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV rows, one per result, with a header.
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct ResultsArgs {
    /// The operation's identifier (printed when it was created).
    pub operation: String,
    #[command(flatten)]
    pub format: FormatArgs,
}

#[derive(Debug, Args)]
pub struct MeasureArgs {
    /// What to measure: IP addresses and host names.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// These probes (identifiers, comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "ID,...",
          conflicts_with_all = ["all", "limit", "near"])]
    pub probes: Vec<String>,
    /// Every connected probe.
    #[arg(long, conflicts_with_all = ["limit", "near"])]
    pub all: bool,
    /// At most N probes: connected ones from the probe list, or with --near the server's choice.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
    /// Probes near this place (the server picks at random among those within --radius-km).
    #[arg(
        long,
        value_name = "LAT,LON",
        allow_hyphen_values = true,
        requires = "radius_km"
    )]
    pub near: Option<String>,
    /// With --near: how far from it, in kilometres.
    #[arg(long, value_name = "KM", requires = "near")]
    pub radius_km: Option<f64>,
    /// When to run: a 5-field cron expression (UTC).
    #[arg(long, default_value = "* * * * *")]
    pub cron: String,
    /// Runs per fired minute (1-60).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub times_per_minute: u32,
    /// Last minute it runs in: `dd/mm/YYYY HH:MM` (UTC), `now` (this minute), or from now:
    /// `10m`, `2h`, `1d`.
    #[arg(long, value_name = "WHEN", default_value = "1m")]
    pub stop: String,
    /// Another parameter of the kind (see docs/api.md), e.g. `-o probecount=3 -o method=udp`.
    #[arg(short = 'o', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Traceroute only: `json` (default) or `dump`.
    #[arg(long, value_name = "FORMAT")]
    pub result_format: Option<String>,
    /// Follow the results live until the operation ends (Ctrl-C stops following, the
    /// operation keeps running).
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub format: FormatArgs,
}
