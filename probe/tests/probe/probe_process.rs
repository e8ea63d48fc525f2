//! The `pladmed-probe` binary as a child process.

use serde_json::Value;
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// The `pladmed-probe` binary running against a coordinator.
pub struct ProbeProcess {
    child: tokio::process::Child,
    pub state_dir: PathBuf,
    log: PathBuf,
}

impl ProbeProcess {
    /// Starts the probe with its token in `dir/probe.token`, its state in `dir/state` and its
    /// log in `dir/probe-N.log`, without NTP; `extra` arguments are appended, and win over these
    /// (a later option wins: `--ntp-server` turns NTP back on).
    pub fn spawn(dir: &Path, server: SocketAddr, token: &str, extra: &[String]) -> Self {
        let token_file = dir.join("probe.token");
        std::fs::write(&token_file, token).unwrap();
        let state_dir = dir.join("state");
        let log = (0..)
            .map(|n| dir.join(format!("probe-{n}.log")))
            .find(|path| !path.exists())
            .unwrap();
        let output = std::fs::File::create(&log).unwrap();
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pladmed-probe"))
            .arg("--server")
            .arg(format!("http://{server}"))
            .arg("--token-file")
            .arg(&token_file)
            .arg("--state-dir")
            .arg(&state_dir)
            .args(["--credits", "1000000", "--no-ntp", "--max-reconnect-s", "1"])
            .args(extra)
            .env("PLADMED_PROBE_LOG", "info,pladmed_probe=debug")
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .kill_on_drop(true)
            .spawn()
            .expect("the probe binary starts");
        Self {
            child,
            state_dir,
            log,
        }
    }

    /// SIGTERM: the graceful shutdown.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the probe is running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM {pid}");
    }

    /// SIGKILL: no shutdown, no flush, nothing.
    pub async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the process to exit; returns whether it succeeded.
    pub async fn exit_success(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("the probe exits")
            .unwrap()
            .success()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The unique codes of the results waiting in the probe's outbox.
    pub fn outbox_codes(&self) -> HashSet<String> {
        self.outbox()
            .iter()
            .filter_map(|report| Some(report["unique_code"].as_str()?.to_string()))
            .collect()
    }

    /// The results waiting in the probe's outbox, as the probe wrote them.
    pub fn outbox(&self) -> Vec<Value> {
        let Ok(entries) = std::fs::read_dir(self.state_dir.join("outbox")) else {
            return Vec::new();
        };
        // Only complete records: a temporary file a kill left behind is not a result.
        entries
            .filter_map(|entry| {
                let path = entry.ok()?.path();
                if path.extension()? != "json" {
                    return None;
                }
                serde_json::from_slice(&std::fs::read(path).ok()?).ok()
            })
            .collect()
    }
}

impl Drop for ProbeProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- probe log {} ----\n{}", self.log.display(), self.log());
        }
    }
}
