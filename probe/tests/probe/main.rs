//! Black-box tests of the `pladmed-probe` binary against a real coordinator: measurements with
//! the real scamper and dig, delivery across a probe crash and across a coordinator restart,
//! graceful shutdown, the end of a schedule, the clock offset, wss:// through a TLS proxy
//! with a private CA, an operation the coordinator no longer has, results it refuses for good,
//! and a large backlog.

mod backlog;
mod delivery;
mod dns;
mod helpers;
mod lifecycle;
mod link;
mod measurements;
mod probe_process;
mod refusals;
mod stream;
mod tls_proxy;
mod withdrawal;
