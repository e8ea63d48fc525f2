//! A real chronyd serving time on a loopback port, without privileges and without touching the
//! system clock (`-x`). Tests that need it fail loudly when chronyd cannot start: a skipped clock
//! test would hide a broken deployment.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `chrony` package installs the daemon (`.ci/run` installs it).
const CHRONYD: &str = "/usr/sbin/chronyd";

/// The stratum chronyd serves with no upstream (`local stratum`).
pub const LOCAL_STRATUM: u8 = 10;

pub struct Chronyd {
    child: Child,
    pub addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Chronyd {
    /// Starts chronyd on a free loopback port and waits until it answers an NTP request.
    pub fn start() -> Chronyd {
        let mut last_log = String::new();
        for _ in 0..3 {
            let chronyd = Chronyd::spawn(free_udp_port());
            if chronyd.answers_within(Duration::from_secs(5)) {
                return chronyd;
            }
            last_log = chronyd.log();
        }
        panic!("chronyd ({CHRONYD}) did not start serving time; is the chrony package installed? Its log:\n{last_log}");
    }

    fn spawn(port: u16) -> Chronyd {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("chrony.conf");
        std::fs::write(
            &config,
            format!(
                "port {port}\nbindaddress 127.0.0.1\ncmdport 0\nlocal stratum {LOCAL_STRATUM}\nallow 127.0.0.1\npidfile {}\n",
                dir.path().join("chronyd.pid").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("chronyd.log")).unwrap();
        let child = Command::new(CHRONYD)
            .args(["-x", "-d", "-U", "-u", &current_user(), "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run {CHRONYD}: {e}; install Debian's chrony package")
            });
        Chronyd {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("chronyd.log")
    }

    /// Sends minimal SNTP client requests until one is answered.
    fn answers_within(&self, limit: Duration) -> bool {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let mut request = [0u8; 48];
        request[0] = 0b00_100_011; // leap 0, version 4, mode 3 (client)
        let started = Instant::now();
        while started.elapsed() < limit {
            let _ = socket.send_to(&request, self.addr);
            let mut reply = [0u8; 48];
            if matches!(socket.recv_from(&mut reply), Ok((48, _))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chronyd drops privileges to this user (itself, so that it needs none).
fn current_user() -> String {
    let output = Command::new("id").arg("-un").output().expect("id -un runs");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
