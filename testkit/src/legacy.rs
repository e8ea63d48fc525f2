//! An original probe: `tests/legacy/pladmed_client.py`, python-socketio 5.x driven exactly as
//! pladmed-client drives it, run as a child process and steered over its stdin and stdout (one
//! JSON object a line).
//!
//! The Python is `PLADMED_TEST_SOCKETIO_PYTHON`, else the venv `scripts/test.sh` installs
//! (`target/legacy-venv`). Without either, the test fails naming the script: it never skips.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The longest the script may take for one step.
pub const STEP: Duration = Duration::from_secs(60);

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("PLADMED_TEST_SOCKETIO_PYTHON") {
        return python.into();
    }
    let venv = repo().join("target/legacy-venv/bin/python");
    assert!(
        venv.exists(),
        "no Python with python-socketio: run `bash scripts/test.sh` (it installs the venv), \
         or set PLADMED_TEST_SOCKETIO_PYTHON"
    );
    venv
}

/// The running script.
pub struct LegacyClient {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
}

impl LegacyClient {
    /// Starts the script against `base_url` (`http://…` or `https://…`) with the probe `token`,
    /// in `mode` (none: the full story; `limit`; `once`).
    pub fn start(base_url: &str, token: &str, mode: &[&str]) -> LegacyClient {
        let mut child = Command::new(python())
            .arg(repo().join("tests/legacy/pladmed_client.py"))
            .args([base_url, token])
            .args(mode)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("the legacy client script starts");
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        LegacyClient {
            child,
            stdin,
            lines,
        }
    }

    /// The next thing the script says, which must be `event`.
    pub async fn expect(&mut self, event: &str) -> Value {
        let line = tokio::time::timeout(STEP, self.lines.next_line())
            .await
            .unwrap_or_else(|_| {
                panic!("the script said nothing for {STEP:?} (waiting for {event})")
            })
            .unwrap()
            .unwrap_or_else(|| panic!("the script ended before {event}"));
        let said: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(said["event"], event, "the script said {said}");
        said
    }

    /// Lets the script go on to its next step.
    pub async fn go(&mut self) {
        self.go_with(serde_json::json!({})).await
    }

    /// Lets the script go on to its next step, telling it the fields of `with`.
    pub async fn go_with(&mut self, with: Value) {
        let mut command = with;
        command["command"] = "go".into();
        let line = format!("{command}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
    }

    /// Waits for the script to end, which must be a success.
    pub async fn finish(mut self) {
        let status = tokio::time::timeout(STEP, self.child.wait()).await;
        assert!(status.unwrap().unwrap().success());
    }
}
