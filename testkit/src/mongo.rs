//! MongoDB for tests: the server `scripts/test.sh` started, or a clear failure.
//!
//! Tests must never pass silently because MongoDB was not there, so a missing
//! `PLADMED_TEST_MONGODB_URI` panics; skipping is a deliberate choice,
//! `PLADMED_TEST_SKIP_MONGODB=1`.

use crate::daemon::Daemon;
use crate::process::free_port;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The test server's URI. Panics when `PLADMED_TEST_MONGODB_URI` is unset, unless
/// `PLADMED_TEST_SKIP_MONGODB=1` is set: then `None`, and the caller skips its MongoDB case.
pub fn mongo_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("PLADMED_TEST_MONGODB_URI") {
        return Some(uri);
    }
    if std::env::var("PLADMED_TEST_SKIP_MONGODB").as_deref() == Ok("1") {
        return None;
    }
    panic!(
        "PLADMED_TEST_MONGODB_URI is not set: run the tests with `bash scripts/test.sh`, which \
         starts a MongoDB-compatible server, or set PLADMED_TEST_SKIP_MONGODB=1 to skip the \
         MongoDB cases deliberately"
    );
}

/// A database name no other test (of this or a concurrent run) uses: `prefix`, the process id,
/// a counter and the time.
pub fn unique_db_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // MongoDB database names are at most 63 bytes and cannot contain `/\. "$`.
    let prefix: String = prefix
        .chars()
        .take(24)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// A private SecantusDB server on its own storage directory, for tests that stop, kill or
/// restart the server (the shared one must stay up for every other test).
pub struct OwnServer {
    // Declared first, so dropped (killed) before its storage is removed.
    daemon: Daemon,
    _storage: tempfile::TempDir,
}

impl OwnServer {
    /// Starts one, or `None` when MongoDB tests are skipped. Panics when `scripts/test.sh` did
    /// not say where `secantusd-py` is (`PLADMED_TEST_SECANTUSD`).
    pub fn start() -> Option<OwnServer> {
        Self::start_with(&[])
    }

    /// Starts one with extra `secantusd-py` arguments (e.g. `--standalone`).
    pub fn start_with(extra_args: &[&str]) -> Option<OwnServer> {
        mongo_uri()?;
        let binary = std::env::var_os("PLADMED_TEST_SECANTUSD")
            .expect("PLADMED_TEST_SECANTUSD is not set: run the tests with `bash scripts/test.sh`");
        let storage = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--storage-path")
            .arg(storage.path().join("data"))
            .args(["--sync-on-commit", "--log-level", "WARNING"])
            .args(extra_args);
        Some(OwnServer {
            daemon: Daemon::start("secantusd", command, port, Duration::from_secs(60)),
            _storage: storage,
        })
    }

    /// Its connection string.
    pub fn uri(&self) -> String {
        format!(
            "mongodb://127.0.0.1:{}/?directConnection=true",
            self.daemon.port()
        )
    }

    /// Kills it with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    /// Starts it again on the same port and storage, and waits until it accepts connections.
    pub fn restart(&mut self) {
        self.daemon.restart();
    }
}
