//! The reference Pladmed probe.
//!
//! An operation travels `link` (the `operation` frame) → `ledger` (recorded durably, then
//! `accepted`) → `scheduler` (its run times) → `runner` (scamper or dig) → `outbox` (an fsync'd
//! file) → `link` (`result`, re-sent until its `result_ack`). Everything the coordinator has not
//! confirmed is on disk, so a crash or a dropped link loses nothing and a re-send is stored once.

/// Reconnect delays: exponential, capped, jittered.
pub mod backoff;
/// The probe's clock and its NTP offset, measured in the background.
pub mod clock;
/// Command-line and environment settings.
pub mod config;
/// Crash-safe files: write to a temporary file, fsync, rename, fsync the directory.
pub mod durable;
/// The operations this probe took on, on disk, and whether each is finished.
pub mod ledger;
/// The WebSocket link to the coordinator: connect, hello, deliver, reconnect.
pub mod link;
/// Results not yet acknowledged by the coordinator, one fsync'd file each.
pub mod outbox;
/// Starting every part of the probe and running it until shutdown.
pub mod probe;
/// Running scamper and dig for one execution of an operation.
pub mod runner;
/// Per operation, when to run it, until its stop time.
pub mod scheduler;
/// TLS for wss:// links: the public roots plus the operator's CAs (`--ca-file`).
pub mod tls;
