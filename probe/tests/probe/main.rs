//! Black-box tests of the `pladmed-probe` binary against a real coordinator: measurements with
//! the real scamper and dig, delivery across a probe crash and across a coordinator restart,
//! graceful shutdown, the end of a schedule, the clock offset, and wss:// through a TLS proxy
//! with a private CA.

mod coordinator;
mod delivery;
mod dns;
mod helpers;
mod lifecycle;
mod link;
mod measurements;
mod probe_process;
mod tls_proxy;
