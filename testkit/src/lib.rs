//! What the tests (tests/, probe/tests) and the benchmark (bench/) share, written once: the
//! real server in-process on port 0 ([`app`]) and as a child process ([`process`]), a REST
//! client with the calls every test makes ([`client`]), a v1 test probe speaking the
//! probe-protocol crate over a real WebSocket ([`probe`]), and the outside servers some tests
//! run (MongoDB, chronyd, nginx), and an original Socket.IO probe ([`legacy`]).

pub mod app;
pub mod chrony;
pub mod client;
pub mod cluster;
pub mod crash;
pub mod daemon;
pub mod https;
pub mod legacy;
pub mod mongo;
pub mod nginx;
pub mod params;
pub mod probe;
pub mod process;
pub mod scamper;
pub mod sse;
pub mod wait;

pub use app::{spawn_app, spawn_app_with, TestApp};
pub use client::{Account, Client};
pub use params::{busy_ping_params, ping_params, single_ping_params, stop_time_in};
pub use probe::TestProbe;
pub use wait::{eventually, WAIT};

/// Every test user's password (it meets the server's password rules).
pub const PASSWORD: &str = "Secret#123";

/// The JWT secret of every test server; fixed, so that tokens stay valid across a restart and
/// tests can forge tokens signed with it.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret";

/// The superuser a child-process server is given before it starts (see
/// [`process::create_superuser`]).
pub const ROOT_EMAIL: &str = "root@example.org";

/// Why a harness step failed, for callers that report a failure rather than panic (the
/// benchmark). Tests use the panicking calls instead.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("WebSocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("{0}")]
    Harness(String),
}
