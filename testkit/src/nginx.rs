//! Debian's nginx running docs/deployment.md's configuration, without privileges and without
//! touching /etc/nginx or /var: its own prefix, pid and logs in a temporary directory. Tests
//! that need it fail loudly when nginx is missing: a skipped test would hide a documented
//! configuration that no longer works.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `nginx` package installs the daemon (`.ci/run` installs it).
const NGINX: &str = "/usr/sbin/nginx";

/// A running nginx; stopped when dropped.
pub struct Nginx {
    child: Child,
    /// Where the documented `listen 443` listens (TLS).
    pub https: SocketAddr,
    dir: tempfile::TempDir,
}

/// The one `nginx` fenced block of docs/deployment.md, exactly as documented.
pub fn documented_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/deployment.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let blocks: Vec<&str> = doc
        .split("```nginx\n")
        .skip(1)
        .map(|rest| rest.split("\n```").next().expect("a closed fence"))
        .collect();
    assert_eq!(blocks.len(), 1, "docs/deployment.md has one nginx block");
    blocks[0].to_string()
}

/// Replaces `from` (which must occur) with `to` everywhere in `config`.
fn substitute(config: &str, from: &str, to: &str) -> String {
    assert!(
        config.contains(from),
        "the documented config no longer has {from:?}"
    );
    config.replace(from, to)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether this machine has an IPv6 loopback (CI containers may not).
fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

impl Nginx {
    /// Runs the documented configuration in front of `upstream` with the certificate chain
    /// and key `chain_pem` and `key_pem`. Only the
    /// certificate paths, the listen ports (on loopback addresses; the IPv6 ones on 127.0.0.1
    /// when there is no IPv6 loopback) and the upstream address are substituted.
    pub fn start(upstream: SocketAddr, chain_pem: &str, key_pem: &str) -> Nginx {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: install Debian's nginx package (apt-get install nginx; .ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str| dir.path().join(name);
        std::fs::write(file("fullchain.pem"), chain_pem).unwrap();
        std::fs::write(file("privkey.pem"), key_pem).unwrap();
        let https_port = free_port();
        let v6 = if ipv6_loopback() {
            "[::1]"
        } else {
            "127.0.0.1"
        };
        let mut config = documented_config();
        for (from, to) in [
            ("listen 443 ", format!("listen 127.0.0.1:{https_port} ")),
            ("listen [::]:443 ", format!("listen {v6}:{} ", free_port())),
            ("listen 80;", format!("listen 127.0.0.1:{};", free_port())),
            ("listen [::]:80;", format!("listen {v6}:{};", free_port())),
            ("server 127.0.0.1:5000;", format!("server {upstream};")),
            (
                "/etc/letsencrypt/live/api.pladmed.example.org/fullchain.pem",
                file("fullchain.pem").display().to_string(),
            ),
            (
                "/etc/letsencrypt/live/api.pladmed.example.org/privkey.pem",
                file("privkey.pem").display().to_string(),
            ),
        ] {
            config = substitute(&config, from, &to);
        }
        std::fs::write(file("pladmed.conf"), config).unwrap();
        std::fs::write(file("nginx.conf"), main_config(dir.path())).unwrap();
        check_config(dir.path());
        let log = std::fs::File::create(file("stderr.log")).unwrap();
        let child = nginx_command(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {NGINX}: {e}"));
        let mut nginx = Nginx {
            child,
            https: SocketAddr::from(([127, 0, 0, 1], https_port)),
            dir,
        };
        nginx.wait_until_listening();
        nginx
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(self.https).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nginx exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// nginx's error log and output.
    pub fn log(&self) -> String {
        ["stderr.log", "error.log"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The main configuration around the documented `http`-level block (deployment installs that
/// block under /etc/nginx/conf.d/, inside Debian's main configuration). One process (no
/// master and workers, so killing it stops everything), and every path in `dir`.
fn main_config(dir: &Path) -> String {
    let at = |name: &str| dir.join(name).display().to_string();
    format!(
        "daemon off;\nmaster_process off;\npid {pid};\nerror_log {error} info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n    access_log {access};\n    client_body_temp_path {body};\n    \
         proxy_temp_path {proxy};\n    fastcgi_temp_path {fastcgi};\n    \
         uwsgi_temp_path {uwsgi};\n    scgi_temp_path {scgi};\n    include {site};\n}}\n",
        pid = at("nginx.pid"),
        error = at("error.log"),
        access = at("access.log"),
        body = at("client_body"),
        proxy = at("proxy"),
        fastcgi = at("fastcgi"),
        uwsgi = at("uwsgi"),
        scgi = at("scgi"),
        site = at("pladmed.conf"),
    )
}

fn nginx_command(dir: &Path) -> Command {
    let mut command = Command::new(NGINX);
    command
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        // The startup error log, before the configuration's own is open: not /var/log.
        .arg("-e")
        .arg(dir.join("error.log"));
    command
}

/// `nginx -t`: the configuration loads (on Debian 12's nginx 1.22.1 `http2 on;` did not).
fn check_config(dir: &Path) {
    let output = nginx_command(dir)
        .arg("-t")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {NGINX}: {e}"));
    let error_log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
    assert!(
        output.status.success(),
        "nginx refuses the documented configuration:\n{}\n{error_log}",
        String::from_utf8_lossy(&output.stderr)
    );
}
