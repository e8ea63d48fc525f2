//! An original probe (pladmed-client's python-socketio 5.x, driven by
//! `tests/legacy/pladmed_client.py` exactly as the client drives it) connects unchanged:
//! refused with the original's `connect_error` for a bad token, receives the three kinds of
//! operations created over REST, has its results stored exactly once and acknowledged with the
//! operation id, and gets again, after dropping mid-operation, what it had not taken on.
//!
//! The script runs in the venv `scripts/test.sh` installs (`testkit::legacy`).

use pladmed::config::StorageSettings;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use testkit::app::unique_codes;
use testkit::legacy::LegacyClient;
use testkit::mongo;
use testkit::*;

fn params(kind: &str) -> (Value, &'static str) {
    let schedule =
        json!({"cron": "* * * * *", "stop_time": stop_time_in(5), "times_per_minute": 1});
    let mut params = schedule.as_object().unwrap().clone();
    let extra = match kind {
        "traceroute" => json!({"ips": ["127.0.0.1"], "maxttl": 30, "method": "icmp-paris"}),
        "ping" => json!({"ips": ["127.0.0.1"]}),
        _ => json!({"fqdns": ["example.org"], "type": "a"}),
    };
    params.extend(extra.as_object().unwrap().clone());
    let format = match kind {
        "traceroute" => "dump",
        "ping" => "json",
        _ => "text",
    };
    (Value::Object(params), format)
}

/// Stored unique codes of each operation, having checked that none is stored twice.
async fn stored(app: &TestApp, operations: &HashMap<String, Vec<String>>) {
    for (operation, codes) in operations {
        let expected: HashSet<String> = codes.iter().cloned().collect();
        let results = app.wait_stored(operation, &expected).await;
        assert_eq!(unique_codes(&results), expected, "results of {operation}");
        let view = app.operation(operation).await;
        assert_eq!(view["results"].as_array().unwrap().len(), codes.len());
    }
}

fn codes(said: &Value) -> HashMap<String, Vec<String>> {
    serde_json::from_value(said["codes"].clone()).unwrap()
}

#[tokio::test]
async fn an_original_probe_connects_unchanged_and_its_results_are_stored_once() {
    an_original_probe_story(spawn_app().await).await;
}

#[tokio::test]
async fn on_mongodb_an_original_probes_results_are_stored_once() {
    let Some(uri) = mongo::mongo_uri() else {
        return;
    };
    let database = mongo::unique_db_name("legacy");
    let app = spawn_app_with(move |s| s.storage = StorageSettings::Mongo { uri, database }).await;
    an_original_probe_story(app).await;
}

/// Connect refused, then connected; three operations, results, duplicates and refusals; a
/// drop mid-operation; finished and disconnected.
async fn an_original_probe_story(app: TestApp) {
    let owner = app.user("owner@example.org").await;
    let researcher = app.funded_user("researcher@example.org", 100_000).await;
    let (probe, token) = app.probe(&owner).await;
    let mut script = LegacyClient::start(&format!("http://{}", app.addr), &token, &[]);

    let refused = script.expect("refused").await;
    assert_eq!(refused["bad_token"]["message"], "Invalid token");
    let missing = refused["missing_header"]["message"].as_str().unwrap();
    assert!(missing.starts_with("total_credits: missing"), "{missing}");

    script.expect("connected").await;
    app.wait_connected(&probe).await;
    assert_eq!(app.probe_view(&probe).await["availability"], 1.0);
    let mut created = HashMap::new();
    for kind in ["traceroute", "ping", "dns"] {
        let (params, format) = params(kind);
        let id = app
            .create_on(&researcher.token, kind, &probe, params, format)
            .await;
        created.insert(id, kind.to_string());
    }
    // An operation of another probe: the original probe's results for it are refused.
    let (other, other_token) = app.probe(&owner).await;
    let _other_link = app.connect(&other_token, 1000).await;
    let foreign = app.ping(&researcher.token, &[&other], ping_params(5)).await;
    script.go_with(json!({"foreign": foreign})).await;
    let received = script.expect("received").await;
    let received: HashMap<String, String> =
        serde_json::from_value(received["operations"].clone()).unwrap();
    assert_eq!(received, created, "each operation, by its kind's event");

    let said = script.expect("results").await;
    stored(&app, &codes(&said)).await;
    let refusals = &said["refusals"];
    let foreign = refusals["foreign_operation"].as_str().unwrap();
    assert!(
        foreign.contains("is not assigned to this probe"),
        "{foreign}"
    );
    assert!(refusals["unknown_operation"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    assert!(refusals["bad_format"]
        .as_str()
        .unwrap()
        .starts_with("format:"));
    assert!(refusals["missing_field"]
        .as_str()
        .unwrap()
        .contains("unique_code"));
    for (operation, kind) in &created {
        let result = app.first_result(operation).await;
        let expected = if kind == "dns" { "text" } else { "warts" };
        assert_eq!(result["format"], expected, "{kind}");
    }
    assert_eq!(
        app.credits_of(&owner).await,
        30,
        "10 credits per new result"
    );

    let (ping, format) = params("ping");
    let fourth = app
        .create_on(&researcher.token, "ping", &probe, ping, format)
        .await;
    script.go().await;
    let said = script.expect("reconnected").await;
    assert_eq!(said["fourth"], fourth.as_str());
    stored(&app, &codes(&said)).await;
    assert_eq!(
        app.credits_of(&owner).await,
        50,
        "two more new results, no duplicate paid"
    );
    eventually("every operation finished on the probe", 20, || async {
        (app.probe_view(&probe).await["availability"] == 1.0).then_some(())
    })
    .await;

    script.go().await;
    script.expect("done").await;
    eventually("the probe to be shown disconnected", 20, || async {
        (app.probe_view(&probe).await["connected"] == false).then_some(())
    })
    .await;
    script.finish().await;
}

#[tokio::test]
async fn legacy_links_count_against_the_per_address_link_limit() {
    let app = spawn_app_with(|settings| settings.limits.ws_per_address = 1).await;
    let owner = app.user("owner@example.org").await;
    let (_, token) = app.probe(&owner).await;
    let mut script = LegacyClient::start(&format!("http://{}", app.addr), &token, &["limit"]);
    let said = script.expect("limited").await;
    assert_eq!(
        said["message"]["message"],
        "too many probe links from this address"
    );
    assert_eq!(said["first_connected"], true);
    script.finish().await;
}
