//! A home directory the CLI keeps its login in, a server, and the reference probe running
//! in-process against it.

use chrono::{Timelike, Utc};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;
use testkit::{TestApp, PASSWORD};
use tokio::io::AsyncWriteExt;

/// Longest a CLI run may take: an operation followed to its end lasts up to two minutes.
const RUN_TIMEOUT: Duration = Duration::from_secs(200);

pub use testkit::scamper::scamper_can_measure;

/// A user's home: its own config directory, and the server the CLI talks to.
pub struct Home {
    dir: tempfile::TempDir,
    pub server: String,
}

impl Home {
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            server: server.into(),
        }
    }

    /// A home for `app`.
    pub fn of(app: &TestApp) -> Self {
        Self::new(format!("http://{}", app.addr))
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// Where `login` keeps the token.
    pub fn credentials(&self) -> PathBuf {
        self.config_dir().join("pladmed").join("credentials.json")
    }

    /// The CLI with `args`, this home and this server (through `PLADMED_SERVER`).
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pladmed-cli"));
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("PLADMED_SERVER", &self.server);
        command
    }

    /// Runs the CLI to its end with nothing on stdin.
    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_with_input(args, None).await
    }

    /// Runs the CLI to its end with `input` on stdin.
    pub async fn run_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut command = tokio::process::Command::from(self.command(args));
        command
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the CLI starts");
        if let Some(input) = input {
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(input.as_bytes()).await.unwrap();
        }
        tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
            .await
            .unwrap_or_else(|_| panic!("pladmed-cli {args:?} did not end"))
            .unwrap()
    }

    /// `login EMAIL --password-stdin`, which must succeed.
    pub async fn login(&self, email: &str) {
        let output = self
            .run_with_input(&["login", email, "--password-stdin"], Some(PASSWORD))
            .await;
        assert_success(&output);
    }
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(output),
        stderr(output)
    );
}

/// Asserts the exit code and that stderr says `message`.
pub fn assert_fails(output: &Output, code: i32, message: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
    assert!(stderr(output).contains(message), "{}", stderr(output));
}

/// The reference probe, in-process, measuring with the real scamper; stopped when dropped.
pub struct Probe {
    task: tokio::task::JoinHandle<()>,
}

impl Probe {
    /// Registers a probe of `owner` on `app`, runs it with its state in `dir` and waits until
    /// it is connected; returns it and its identifier.
    pub async fn start(app: &TestApp, owner: &str, dir: &Path) -> (Probe, String) {
        let (id, token) = app.register_probe(owner).await;
        let server = format!("http://{}", app.addr);
        let state = dir.join("probe-state");
        let config = <pladmed_probe::config::Config as clap::Parser>::parse_from([
            "pladmed-probe",
            "--server",
            server.as_str(),
            "--token",
            token.as_str(),
            "--state-dir",
            state.to_str().unwrap(),
            "--credits",
            "1000000",
            "--no-ntp",
            "--max-reconnect-s",
            "1",
        ]);
        let task = tokio::spawn(async move {
            let _ = pladmed_probe::probe::run(config, std::future::pending()).await;
        });
        app.wait_connected(&id).await;
        (Probe { task }, id)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A `--stop` that leaves the probe at least 20 s of runs and ends within about 80 s: this
/// minute, or the next one when this one is nearly over.
pub fn quick_stop() -> &'static str {
    if Utc::now().second() <= 40 {
        "now"
    } else {
        "1m"
    }
}

/// What every measuring test starts from: a server, a funded researcher logged in with the
/// CLI, and a reference probe of theirs, connected.
pub struct Measuring {
    pub app: TestApp,
    pub home: Home,
    pub probe: Probe,
    pub probe_id: String,
    /// Holds the server's data and the probe's state; removed on drop.
    pub dir: tempfile::TempDir,
}

impl Measuring {
    pub async fn start() -> Measuring {
        let dir = tempfile::tempdir().unwrap();
        let app = TestApp::start(&dir.path().join("data")).await;
        let owner = app.funded_user("researcher@example.org", 100_000).await;
        let (probe, probe_id) = Probe::start(&app, &owner.token, dir.path()).await;
        let home = Home::of(&app);
        home.login("researcher@example.org").await;
        Measuring {
            app,
            home,
            probe,
            probe_id,
            dir,
        }
    }
}

/// `ping 127.0.0.1` on every connected probe, one packet every second until [`quick_stop`],
/// followed to its end as JSON lines.
pub fn quick_ping_json() -> [&'static str; 11] {
    [
        "ping",
        "127.0.0.1",
        "--all",
        "--times-per-minute",
        "60",
        "--stop",
        quick_stop(),
        "-o",
        "probecount=1",
        "--wait",
        "--json",
    ]
}
