//! A server process that a test starts on a loopback port, kills as a crash would, and starts
//! again on the same port: the private MongoDB-compatible server, the Redis of a cluster.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The process, SIGKILLed when dropped.
pub struct Daemon {
    name: &'static str,
    command: Command,
    port: u16,
    listen_within: Duration,
    child: Option<Child>,
}

impl Daemon {
    /// Runs `command` (which must listen on 127.0.0.1:`port`) and waits until it accepts
    /// connections, failing after `listen_within`.
    pub fn start(
        name: &'static str,
        mut command: Command,
        port: u16,
        listen_within: Duration,
    ) -> Daemon {
        command.stdout(Stdio::null());
        let mut daemon = Daemon {
            name,
            command,
            port,
            listen_within,
            child: None,
        };
        daemon.restart();
        daemon
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Starts it again (killing a running one first) and waits until it listens.
    pub fn restart(&mut self) {
        self.kill();
        let child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.name));
        self.child = Some(child);
        let deadline = Instant::now() + self.listen_within;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen within {:?}",
                self.name,
                self.listen_within
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
