//! Waiting, parameters, the measurement tools, a coordinator with a connected probe, and a
//! lookup that makes the whole round trip.

use crate::probe_process::ProbeProcess;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use std::path::Path;
use testkit::eventually;
use testkit::params::every_second;
use testkit::TestApp;

/// Set to 1 to skip (loudly) the tests that need scamper's raw sockets.
pub const NO_RAW_SOCKETS: &str = "PLADMED_TEST_NO_RAW_SOCKETS";

/// A coordinator on a fresh store, a funded owner, and the owner's probe running and connected.
pub struct Deployment {
    pub coordinator: TestApp,
    /// The owner's access token.
    pub owner: String,
    pub probe_id: String,
    pub token: String,
    pub probe: ProbeProcess,
}

/// Starts a coordinator on `dir/data`, registers a probe and runs it with `probe_args`.
pub async fn deploy(dir: &Path, probe_args: &[String]) -> Deployment {
    deploy_to(TestApp::start(&dir.join("data")).await, dir, probe_args).await
}

/// Registers a probe on `coordinator` and runs it with `probe_args`.
pub async fn deploy_to(coordinator: TestApp, dir: &Path, probe_args: &[String]) -> Deployment {
    let owner = coordinator
        .funded_user("owner@example.org", 1_000_000)
        .await
        .token;
    let (probe_id, token) = coordinator.register_probe(&owner).await;
    let probe = ProbeProcess::spawn(dir, coordinator.addr, &token, probe_args);
    coordinator.wait_connected(&probe_id).await;
    Deployment {
        coordinator,
        owner,
        probe_id,
        token,
        probe,
    }
}

/// Has the probe look up 127.0.0.1 every second (through its default resolver) and waits
/// until a result is stored without error and acknowledged (gone from the outbox); returns
/// it as GET /operation shows it.
pub async fn acknowledged_lookup(
    coordinator: &TestApp,
    owner: &str,
    probe_id: &str,
    probe: &ProbeProcess,
) -> Value {
    let params = every_second(json!({"x": "127.0.0.1"}));
    let lookup = coordinator
        .create_on(owner, "dns", probe_id, params, "text")
        .await;
    let result = coordinator.first_result(&lookup).await;
    assert_eq!(result["error"], Value::Null, "{result}");
    let code = result["unique_code"].as_str().unwrap().to_string();
    eventually("the result_ack to come back", 30, || async {
        (!probe.outbox_codes().contains(&code)).then_some(())
    })
    .await;
    result
}

/// The soonest stop time (a minute boundary) at least 15 s ahead of `now`, so that the
/// operation still has a run when the probe receives it.
pub fn soonest_stop(now: DateTime<Utc>) -> DateTime<Utc> {
    let minute = TimeDelta::minutes(1);
    let next = now.duration_trunc(minute).unwrap() + minute;
    if next - now < TimeDelta::seconds(15) {
        next + minute
    } else {
        next
    }
}
/// Whether scamper can measure here. It needs raw sockets (root or CAP_NET_RAW); without them
/// the tests that need it fail with this explanation, unless PLADMED_TEST_NO_RAW_SOCKETS=1 is
/// set, in which case they are skipped with a notice, never silently.
pub fn scamper_can_measure() -> bool {
    if std::env::var(NO_RAW_SOCKETS).as_deref() == Ok("1") {
        // Written to the real stderr, past the test harness's capture, so that the skip shows
        // in every run's output and not only on failure.
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let notice =
            format!("SKIPPED {test}: {NO_RAW_SOCKETS}=1, scamper measurements not tested\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
        return false;
    }
    let ping = std::process::Command::new("scamper")
        .args(["-O", "json", "-c", "ping -c 1", "-i", "127.0.0.1"])
        .output();
    let advice = format!(
        "install scamper (apt-get install scamper) and run as root or with CAP_NET_RAW, \
         or set {NO_RAW_SOCKETS}=1 to skip these tests"
    );
    let output = ping.unwrap_or_else(|e| panic!("scamper cannot be run ({e}): {advice}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"replies\":1"),
        "scamper cannot ping 127.0.0.1 (raw sockets?): {advice}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

/// dig must be installed (bind9-dnsutils).
pub fn require_dig() {
    let version = std::process::Command::new("dig").arg("-v").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "dig is not installed: apt-get install bind9-dnsutils"
    );
}
