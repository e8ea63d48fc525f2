//! Measuring with the reference probe and real scamper, followed with `--wait` to the end of
//! the operation, printed for programs (`--json`, `--csv`) and for people.

use crate::helpers::{
    assert_success, quick_ping_json, quick_stop, scamper_can_measure, stderr, stdout, Measuring,
};
use serde_json::Value;
use std::collections::HashSet;

/// The scamper object of type `kind` in a result.
fn measurement<'a>(result: &'a Value, kind: &str) -> &'a Value {
    assert_eq!(result["error"], Value::Null, "{result}");
    result["results"]
        .as_array()
        .and_then(|objects| objects.iter().find(|o| o["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} object in {result}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_wait_json_prints_every_result_as_one_json_line_until_the_end() {
    if !scamper_can_measure() {
        return;
    }
    let Measuring {
        app,
        home,
        probe_id,
        probe: _probe,
        dir: _dir,
    } = Measuring::start().await;

    let args = quick_ping_json();
    let followed = home.run(&args).await;
    assert_success(&followed);
    let results: Vec<Value> = stdout(&followed)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    assert!(!results.is_empty(), "{}", stderr(&followed));
    for result in &results {
        assert_eq!(result["probe"], probe_id.as_str());
        let ping = measurement(result, "ping");
        assert_eq!(ping["dst"], "127.0.0.1");
        assert_eq!(ping["statistics"]["replies"], 1, "{ping}");
    }
    let told = stderr(&followed);
    // Under load the probe's last run may end after the stop minute: then the stop time ends
    // the stream, and a result stored later is not in it.
    let finished = told.contains("ended (every probe finished)");
    assert!(
        finished || told.contains("ended (its stop time passed)"),
        "{told}"
    );
    let operation = told
        .split_whitespace()
        .nth(1)
        .expect("`Operation ID ...` first")
        .to_string();

    // Everything stored was followed, once each.
    let ids: Vec<&str> = results.iter().map(|r| r["_id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a result printed twice");
    let stored = home.run(&["results", &operation, "--json"]).await;
    assert_success(&stored);
    let stored_ids: HashSet<String> = stdout(&stored)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let followed: HashSet<String> = unique.iter().map(|s| s.to_string()).collect();
    if finished {
        assert_eq!(stored_ids, followed);
    } else {
        assert!(followed.is_subset(&stored_ids), "{told}");
    }

    let csv = home.run(&["results", &operation, "--csv"]).await;
    assert_success(&csv);
    let text = stdout(&csv);
    let rows: Vec<&str> = text.lines().collect();
    assert!(
        rows[0].starts_with("id,probe,unique_code,measured_at"),
        "{text}"
    );
    assert_eq!(rows.len(), ids.len() + 1, "{text}");
    assert!(rows[1].contains("1/1 replies"), "{text}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceroute_wait_shows_the_hops_for_people() {
    if !scamper_can_measure() {
        return;
    }
    let Measuring {
        app,
        home,
        probe_id,
        probe: _probe,
        dir: _dir,
    } = Measuring::start().await;

    let args = [
        "traceroute",
        "127.0.0.1",
        "--probes",
        &probe_id,
        "--times-per-minute",
        "6",
        "--stop",
        quick_stop(),
        "-o",
        "maxttl=3",
        "--wait",
    ];
    let followed = home.run(&args).await;
    assert_success(&followed);
    let text = stdout(&followed);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("PROBE") && header.ends_with("RESULT"),
        "{text}"
    );
    let first = lines.next().unwrap();
    assert!(first.starts_with(&probe_id), "{text}");
    assert!(
        first.contains("127.0.0.1") && first.ends_with("COMPLETED, 1 hops"),
        "{text}"
    );
    let hop = lines.next().unwrap();
    assert!(
        hop.trim_start().starts_with("1  127.0.0.1  ") && hop.ends_with(" ms"),
        "{text}"
    );
    app.stop().await;
}
