//! The ends of things: a probe stopped with SIGTERM, an operation whose schedule is over.

use crate::dns::DnsResponder;
use crate::helpers::{
    deploy, deploy_to, require_dig, scamper_can_measure, soonest_stop, Deployment,
};
use crate::probe_process::ProbeProcess;
use chrono::{DateTime, TimeDelta, Utc};
use probe_protocol::params::format_stop_time;
use serde_json::{json, Value};
use std::time::Duration;
use testkit::eventually;
use testkit::params::every_second;
use testkit::TestApp;

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
    // A run every second, each sending 3 probes 1 s apart (about 3 s): whenever the signal
    // comes, the runs started in the last two seconds are still under way.
    let params = every_second(json!({"ips": ["127.0.0.1"], "probecount": 3, "wait": 1}));
    let ping = coordinator
        .create_on(&owner, "ping", &probe_id, params, "json")
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
        at > terminated_at - TimeDelta::seconds(2) && at <= terminated_at
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

/// Over a link whose heartbeat is 1 s, so that a probe not answering pings would be dropped
/// many times over during the minute this takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_schedule_gives_the_credits_back_over_a_link_kept_alive() {
    require_dig();
    let resolver = DnsResponder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let coordinator = TestApp::start_with(&dir.path().join("data"), |settings| {
        settings.heartbeat = Duration::from_secs(1)
    })
    .await;
    let mut probe_args = resolver.port_args();
    probe_args.extend(["--credits".to_string(), "100".to_string()]);
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy_to(coordinator, dir.path(), &probe_args).await;
    let stop = soonest_stop(Utc::now());
    let params = json!({
        "cron": "* * * * *", "times_per_minute": 1, "stop_time": format_stop_time(stop),
        "x": "127.0.0.1", "address": "127.0.0.1"
    });
    let lookup = coordinator
        .create_on(&owner, "dns", &probe_id, params, "text")
        .await;

    let availability = || async {
        coordinator.probe_view(&probe_id).await["availability"]
            .as_f64()
            .unwrap()
    };
    eventually("the probe to accept the operation", 20, || async {
        (availability().await < 1.0).then_some(())
    })
    .await;
    // The last run is at the start of the stop minute.
    let patience = (stop - Utc::now()).num_seconds().max(0) as u64 + 30;
    eventually("the credits to be given back", patience, || async {
        (availability().await == 1.0).then_some(())
    })
    .await;
    assert!(Utc::now() >= stop, "finished before its last run");
    let results = coordinator.all_results(&lookup).await;
    assert!(!results.is_empty(), "the run at the stop minute");
    assert!(results.iter().all(|r| r["error"].is_null()), "{results:?}");
    let log = probe.log();
    assert!(log.contains("operation finished"), "{log}");
    assert!(!log.contains("link down"), "the link must stay up: {log}");
    assert_eq!(coordinator.probe_view(&probe_id).await["connected"], true);
    probe.kill().await;
    coordinator.stop().await;
}
