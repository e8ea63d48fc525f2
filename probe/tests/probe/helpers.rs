//! Waiting, parameters, the measurement tools, a coordinator with a connected probe, and a
//! lookup that makes the whole round trip.

use crate::probe_process::ProbeProcess;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};
use std::path::Path;
use testkit::eventually;
use testkit::params::every_second;
use testkit::TestApp;

pub use testkit::scamper::scamper_can_measure;

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
/// dig must be installed (bind9-dnsutils).
pub fn require_dig() {
    let version = std::process::Command::new("dig").arg("-v").output();
    assert!(
        version.is_ok_and(|o| o.status.success()),
        "dig is not installed: apt-get install bind9-dnsutils"
    );
}
