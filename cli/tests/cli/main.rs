//! Black-box tests of the `pladmed-cli` binary against the real server (in-process, on a
//! loopback port) and the reference probe measuring with the real scamper: logging in,
//! listing, error exit codes, following an operation with `--json`, and the progress display
//! and Ctrl-C under a pseudo-terminal.

mod account;
mod errors;
mod helpers;
mod measure;
mod near;
mod resume;
mod terminal;
