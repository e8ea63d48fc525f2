//! Pladmed: a coordinator for distributed network measurements.
//!
//! A result travels `ws` (probe link) → `operations::ingest` → `store` → `result_ack`;
//! an operation travels `api` → `operations::create` → `store` → `hub` → `ws`.

/// Accounts: e-mail, password policy and hashing, user and probe tokens.
pub mod accounts;
/// Operator commands, through the running server's admin socket or on the store directly.
pub mod admin;
/// The REST API.
pub mod api;
/// Who a request comes from: the TCP peer, or the client a trusted proxy forwarded.
pub mod client;
/// The server's clock offset against the co-located NTP server.
pub mod clock;
/// Typed settings from the environment.
pub mod config;
/// Values every layer shares: e-mail, location, credits, identifiers.
pub mod domain;
/// GET /health: database, clock and hub checks.
pub mod health;
/// The broadcast hub fanning operations out to connected probes.
pub mod hub;
/// `pladmed import`: an original pladmed-backend database into ours, ids kept.
pub mod import;
/// The original probe link (pladmed-client's Socket.IO), beside `ws`.
pub mod legacy;
/// The HTTP accept loop with header and request timeouts.
pub mod listener;
/// Operations: creation and what probes report about them.
pub mod operations;
/// Probes: the cached public list, revocation and removal, the link audit.
pub mod probes;
/// Building and running a server from its settings.
pub mod startup;
/// Shared services handed to handlers and probe links.
pub mod state;
/// Persistence contract and its MongoDB and embedded implementations.
pub mod store;
/// Counters, metrics rendering and log output.
pub mod telemetry;
/// The probe link (WebSocket).
pub mod ws;
