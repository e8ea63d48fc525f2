//! Pladmed: a coordinator for distributed network measurements.
//!
//! A result travels `ws` (probe link) → `operations::ingest` → `store` → `result_ack`;
//! an operation travels `api` → `operations::create` → `store` → `hub` → `ws`.

/// Accounts: e-mail, password policy and hashing, user and probe tokens.
pub mod accounts;
/// Typed settings from the environment.
pub mod config;
/// The credit currency and its checked arithmetic.
pub mod credits;
/// The broadcast hub fanning operations out to connected probes.
pub mod hub;
/// Identifiers of stored entities.
pub mod ids;
/// Probes: location and the public view of a probe.
pub mod probes;
/// Shared services handed to handlers and probe links.
pub mod state;
/// Persistence contract and its MongoDB and embedded implementations.
pub mod store;
// Operations: creation and what probes report about them.
// WIP until params land: pub mod operations;
// The probe link (WebSocket).
// WIP until params land: pub mod ws;
// The REST API.
// WIP until params land: pub mod api;
// Building and running a server from its settings.
// WIP until params land: pub mod startup;
