//! The real `pladmed` binary as a child process, for tests that kill it, restart it or limit
//! it, and for the benchmark.

use crate::client::Client;
use crate::{Error, PASSWORD, ROOT_EMAIL};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    pub addr: SocketAddr,
    binary: PathBuf,
    env: Vec<(String, String)>,
    _data: Option<tempfile::TempDir>,
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `pladmed` binary Cargo built for this test run: beside the running executable (the
/// benchmark's), or one directory up (a test's, which runs from `target/<profile>/deps`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the running executable");
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("pladmed"))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("no pladmed binary beside {}: build it", exe.display()))
}

/// `binary` with `env`, logging warnings only.
fn command_of(binary: &Path, env: &[(String, String)]) -> Command {
    let mut command = Command::new(binary);
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("PLADMED_LOG", "warn");
    command
}

impl Server {
    /// The binary with `env`, logging warnings only.
    pub fn command(env: &[(String, String)]) -> Command {
        command_of(&binary(), env)
    }

    /// Starts the binary with `env` on `port` (without waiting for it to answer).
    pub fn start(env: Vec<(String, String)>, port: u16) -> Server {
        let binary = binary();
        Self::spawn(command_of(&binary, &env), binary, env, port, None)
    }

    /// Runs `command` (the binary, or a shell that ends by running it) on `port`; its log
    /// goes to `data`'s `server.log` if there is one.
    fn spawn(
        mut command: Command,
        binary: PathBuf,
        env: Vec<(String, String)>,
        port: u16,
        data: Option<tempfile::TempDir>,
    ) -> Server {
        command
            .env("PLADMED_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null());
        if let Some(data) = &data {
            let log = std::fs::File::create(data.path().join("server.log")).expect("a log file");
            command.stderr(log);
        }
        let child = command.spawn().expect("the server starts");
        Server {
            child,
            port,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            binary,
            env,
            _data: data,
        }
    }

    /// Starts the server unable to grow any file past `kib` KiB (RLIMIT_FSIZE, set by the
    /// shell's `ulimit -f`): a write past it fails as on a full disk (EFBIG rather than ENOSPC).
    /// SIGXFSZ, which such a write also raises and which would kill the process, is ignored.
    pub fn start_with_file_limit(env: Vec<(String, String)>, port: u16, kib: u64) -> Server {
        let script = format!("ulimit -f {kib} && trap '' XFSZ && exec \"$0\"");
        let binary = binary();
        let mut bash = Command::new("bash");
        bash.arg("-c")
            .arg(&script)
            .arg(&binary)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PLADMED_LOG", "warn");
        Self::spawn(bash, binary, env, port, None)
    }

    /// Starts `binary` on a free port with `env` and, unless `env` names a MongoDB, a data
    /// directory of its own (removed on drop, with the server's log); creates the superuser
    /// [`ROOT_EMAIL`] first and waits until the server answers (the benchmark's server).
    pub async fn launch(binary: PathBuf, env: Vec<(String, String)>) -> Result<Server, Error> {
        Self::launch_as(binary, env, true).await
    }

    /// [`Server::launch`], creating the superuser only if `superuser` (a further instance on a
    /// shared database finds it there already).
    pub async fn launch_as(
        binary: PathBuf,
        mut env: Vec<(String, String)>,
        superuser: bool,
    ) -> Result<Server, Error> {
        let data = tempfile::tempdir()?;
        if !env.iter().any(|(name, _)| name == "PLADMED_MONGODB_URI") {
            let dir = data.path().join("data").display().to_string();
            env.push(("PLADMED_DATA_DIR".into(), dir));
        }
        if superuser {
            let created = command_of(&binary, &env)
                .args(["superuser", "create", ROOT_EMAIL, PASSWORD])
                .stdout(Stdio::null())
                .status()?;
            if !created.success() {
                return Err(Error::Harness("superuser create failed".into()));
            }
        }
        let command = command_of(&binary, &env);
        let server = Self::spawn(command, binary, env, free_port(), Some(data));
        server.try_wait_until_up().await?;
        Ok(server)
    }

    /// SIGKILL, then the same server again (without limits) on the same port and data.
    pub fn kill_and_restart(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        let data = self._data.take();
        let command = command_of(&self.binary, &self.env);
        *self = Self::spawn(
            command,
            self.binary.clone(),
            self.env.clone(),
            self.port,
            data,
        );
    }

    /// Waits until the server answers HTTP, failing after a minute.
    pub async fn wait_until_up(&self) {
        self.try_wait_until_up().await.expect("server comes up");
    }

    async fn try_wait_until_up(&self) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        let http = reqwest::Client::new();
        while http.get(self.url("/probes")).send().await.is_err() {
            if Instant::now() >= deadline {
                return Err(Error::Harness("server did not come up".into()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// A REST client of this server.
    pub fn client(&self) -> Client {
        Client::new(format!("http://{}", self.addr))
    }

    /// The process id (e.g. to read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("process status").is_none()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// The probe link with `token`.
    pub fn ws_url(&self, token: &str) -> String {
        crate::probe::link_url(self.addr, token)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Creates the superuser [`ROOT_EMAIL`] with the binary, before the server holds the data.
pub fn create_superuser(env: &[(String, String)]) {
    let status = Server::command(env)
        .args(["superuser", "create", ROOT_EMAIL, PASSWORD])
        .status()
        .unwrap();
    assert!(status.success(), "superuser create");
}
