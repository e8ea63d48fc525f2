//! The ends of things: a probe stopped with SIGTERM, an operation whose schedule is over.

use crate::helpers::{deploy, every_second, scamper_can_measure, Deployment};
use crate::probe_process::ProbeProcess;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

fn measured_at(result: &Value) -> DateTime<Utc> {
    result["measured_at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sigterm_running_measurements_finish_and_the_probe_exits_0() {
    if !scamper_can_measure() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Deployment {
        coordinator,
        owner,
        probe_id,
        token,
        mut probe,
    } = deploy(dir.path(), &[]).await;
    // A run every second, each sending 3 probes 1 s apart: whenever the signal comes, the runs
    // of the last two seconds are still under way.
    let params = every_second(json!({"ips": ["127.0.0.1"], "probecount": 3, "wait": 1}));
    let ping = coordinator
        .create(&owner, "ping", &probe_id, params, "json")
        .await;
    coordinator.first_result(&ping).await;

    let terminated_at = Utc::now();
    probe.terminate();
    assert!(probe.exit_success().await, "{}", probe.log());
    assert!(
        probe.log().contains("link closed with 1000"),
        "{}",
        probe.log()
    );
    let pending = probe.outbox_codes();

    // Whatever the link had no time to deliver goes out after a restart.
    let restarted_at = Utc::now();
    let mut probe = ProbeProcess::spawn(dir.path(), coordinator.addr, &token, &[]);
    let results = coordinator.wait_stored(&ping, &pending).await;
    let under_way = |r: &&Value| {
        let at = measured_at(r);
        at > terminated_at - TimeDelta::milliseconds(1500) && at <= terminated_at
    };
    let finished_runs: Vec<&Value> = results.iter().filter(under_way).collect();
    let times: Vec<DateTime<Utc>> = results.iter().map(measured_at).collect();
    assert!(
        !finished_runs.is_empty(),
        "the runs under way at SIGTERM ({terminated_at}) must store their results: {times:?}"
    );
    for result in finished_runs {
        assert_eq!(result["error"], Value::Null, "{result}");
        let ping = result["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["type"] == "ping")
            .unwrap_or_else(|| panic!("{result}"));
        assert_eq!(ping["statistics"]["replies"], 3, "a complete run: {ping}");
    }
    let after_signal = |r: &&Value| {
        let at = measured_at(r);
        at > terminated_at + TimeDelta::seconds(1) && at < restarted_at
    };
    assert_eq!(
        results.iter().filter(after_signal).count(),
        0,
        "no run may start after SIGTERM"
    );
    probe.kill().await;
    coordinator.stop().await;
}
