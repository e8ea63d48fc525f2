//! Pladmed: a coordinator for distributed network measurements.
//!
//! A result travels `ws` (probe link) → `operations::ingest` → `store` → `result_ack`;
//! an operation travels `api` → `operations::create` → `store` → `hub` → `ws`.

/// Accounts: e-mail, password policy and hashing, user and probe tokens.
pub mod accounts;
/// The credit currency and its checked arithmetic.
pub mod credits;
/// Identifiers of stored entities.
pub mod ids;
/// Probes: location and the public view of a probe.
pub mod probes;
/// Persistence contract and its MongoDB and embedded implementations.
pub mod store;
