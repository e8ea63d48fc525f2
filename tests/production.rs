//! The `pladmed` binary in production mode: refuses to start without its secrets, naming the
//! variable; with them, logs JSON lines and keeps /delete_all closed.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const SECRET: &str = "production-secret-production-secret";
const CODE: &str = "monitoring-code-0123456789";
const METRICS_CODE: &str = "metrics-only-code-0123456789";

/// Production settings on an embedded store in `dir`, minus the variables in `without`.
fn production(dir: &tempfile::TempDir, without: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pladmed"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    let vars = [
        ("PLADMED_MODE", "production"),
        ("PLADMED_BIND", "127.0.0.1:0"),
        ("PLADMED_DATA_DIR", dir.path().to_str().unwrap()),
        ("PLADMED_JWT_SECRET", SECRET),
        ("PLADMED_CORS_ORIGINS", "https://pladmed.example.org"),
        ("PLADMED_HEALTH_CODE", CODE),
        ("PLADMED_METRICS_CODE", METRICS_CODE),
        ("PLADMED_NTP_SERVER", "127.0.0.1:9"),
    ];
    for (name, value) in vars.iter().filter(|(name, _)| !without.contains(name)) {
        command.env(name, value);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

#[test]
fn production_refuses_to_start_without_each_secret_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for variable in [
        "PLADMED_JWT_SECRET",
        "PLADMED_HEALTH_CODE",
        "PLADMED_METRICS_CODE",
    ] {
        let output = production(&dir, &[variable]).output().unwrap();
        assert!(!output.status.success(), "started without {variable}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}

#[test]
fn production_refuses_the_health_code_as_metrics_code_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server(
        production(&dir, &[])
            .env("PLADMED_METRICS_CODE", CODE)
            .spawn()
            .unwrap(),
    );
    // A server that accepted the codes would run until killed: wait for an exit, not forever.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "started with one code for both"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut server.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        stderr.contains("PLADMED_METRICS_CODE") && stderr.contains("PLADMED_HEALTH_CODE"),
        "{stderr}"
    );
}

#[test]
fn a_missing_secret_file_is_a_startup_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = production(&dir, &[])
        .env("PLADMED_HEALTH_CODE_FILE", "/run/secrets/absent")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PLADMED_HEALTH_CODE_FILE"), "{stderr}");
}

#[test]
fn invalid_trusted_proxies_are_a_startup_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = production(&dir, &[])
        .env("PLADMED_TRUSTED_PROXIES", "127.0.0.1/32, nginx")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PLADMED_TRUSTED_PROXIES"), "{stderr}");
    assert!(stderr.contains("\"nginx\""), "{stderr}");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn production_logs_json_and_keeps_delete_all_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server(production(&dir, &[]).spawn().unwrap());
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let addr = tokio::task::spawn_blocking(move || {
        for line in stderr.lines() {
            let line = line.unwrap();
            let entry: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            if entry["message"] == "serving" {
                return entry["addr"].as_str().unwrap().to_string();
            }
        }
        panic!("the server exited before serving");
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr)
        .await
        .expect("serving within 30 s")
        .unwrap();
    let client = reqwest::Client::new();
    let alive = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    let wipe = client
        .delete(format!("http://{addr}/delete_all"))
        .send()
        .await
        .unwrap();
    assert_eq!(wipe.status(), 404);
    let health = client
        .get(format!("http://{addr}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 403);
}

/// Behind a trusted proxy, request logs carry the client it forwarded, not the proxy.
#[tokio::test]
async fn logs_name_the_client_a_trusted_proxy_forwards() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = production(&dir, &[]);
    command.env("PLADMED_TRUSTED_PROXIES", "127.0.0.1/32");
    let mut server = Server(command.spawn().unwrap());
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let (lines, logged) = std::sync::mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Ok(entry) = serde_json::from_str(&line) {
                let _ = lines.send(entry);
            }
        }
    });
    let next_entry = |message: &str| loop {
        let entry = logged
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no {message:?} log line"));
        if entry["message"] == message {
            return entry;
        }
    };
    let addr = next_entry("serving")["addr"].as_str().unwrap().to_string();
    let registered = reqwest::Client::new()
        .post(format!("http://{addr}/register"))
        .header("x-forwarded-for", "192.0.2.1, 198.51.100.77")
        .json(&serde_json::json!({"email": "logged@example.org", "password": "Str0ng!Pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let entry = next_entry("user registered");
    assert_eq!(entry["span"]["client"], "198.51.100.77", "{entry}");
}
