//! The runner with stand-in tools (shell scripts), so that its plumbing is tested without raw
//! sockets; the real scamper and dig are exercised by the black-box tests.

use super::*;
use probe_protocol::params;
use probe_protocol::OperationKind;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// An executable shell script in `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn tools(dir: &Path) -> Tools {
    Tools {
        // Echoes its arguments as a JSON object per command, like scamper's one line per task.
        scamper: script(
            dir,
            "scamper",
            r#"shift 3; for c in "$@"; do echo "{\"cmd\":\"$c\"}"; done"#,
        ),
        sc_analysis_dump: script(dir, "dump", "echo T; cat"),
        dig: script(dir, "dig", r#"echo "dig $*""#),
        resolver: Resolver::default(),
        timeout: Duration::from_secs(5),
    }
}

fn parse(kind: OperationKind, extra: Value) -> Params {
    let mut params = json!({
        "cron": "* * * * *", "stop_time": "01/01/2030 12:00", "times_per_minute": 1
    });
    let object = params.as_object_mut().unwrap();
    object.extend(extra.as_object().unwrap().clone());
    let now = "2029-12-31T12:00:00Z".parse().unwrap();
    params::parse(kind, object, now).unwrap()
}

fn runner(tools: Tools) -> Runner {
    Runner::new(tools, NonZeroU64::new(100).unwrap())
}

/// One execution, as the scheduler makes it: credits first, then the tools.
async fn run(runner: &Runner, params: &Params, format: ResultFormat) -> Execution {
    let credits = runner.reserve(params).await;
    runner.measure(&credits, params, format).await
}

#[tokio::test]
async fn json_results_hold_one_object_per_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let ping = parse(
        OperationKind::Ping,
        json!({"ips": "192.0.2.1, ::1", "probecount": 2}),
    );
    let execution = run(&runner(tools(tmp.path())), &ping, ResultFormat::Json).await;
    assert_eq!(
        execution,
        Execution {
            format: ContentFormat::Json,
            content: json!([{"cmd": "ping -c 2 192.0.2.1"}, {"cmd": "ping -c 2 ::1"}]),
            error: None,
        }
    );
}

#[tokio::test]
async fn unresolvable_names_are_reported_and_the_rest_measured() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = parse(
        OperationKind::Traceroute,
        json!({"ips": ["192.0.2.1"], "fqdns": ["no-such-host.invalid"]}),
    );
    let execution = run(&runner(tools(tmp.path())), &trace, ResultFormat::Json).await;
    assert_eq!(execution.content, json!([{"cmd": "trace 192.0.2.1"}]));
    assert!(execution
        .error
        .unwrap()
        .starts_with("cannot resolve no-such-host.invalid"));

    let only_bad = parse(
        OperationKind::Traceroute,
        json!({"fqdns": "no-such-host.invalid"}),
    );
    let execution = run(&runner(tools(tmp.path())), &only_bad, ResultFormat::Dump).await;
    assert_eq!(execution.format, ContentFormat::Dump);
    assert_eq!(execution.content, json!(""));
    assert!(execution.error.is_some());
}

#[tokio::test]
async fn dump_results_are_converted_or_kept_as_warts() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = parse(OperationKind::Traceroute, json!({"ips": ["192.0.2.1"]}));
    let converted = run(&runner(tools(tmp.path())), &trace, ResultFormat::Dump).await;
    assert_eq!(converted.format, ContentFormat::Dump);
    assert_eq!(
        converted.content,
        json!("T\n{\"cmd\":\"trace 192.0.2.1\"}\n")
    );

    let mut broken = tools(tmp.path());
    broken.sc_analysis_dump = script(tmp.path(), "bad-dump", "echo oops >&2; exit 1");
    let kept = run(&runner(broken), &trace, ResultFormat::Dump).await;
    assert_eq!(kept.format, ContentFormat::Warts);
    let warts = base64::engine::general_purpose::STANDARD
        .decode(kept.content.as_str().unwrap())
        .unwrap();
    assert_eq!(warts, b"{\"cmd\":\"trace 192.0.2.1\"}\n");
    assert!(kept.error.unwrap().ends_with("exit status: 1: oops"));
}

#[tokio::test]
async fn dns_results_are_dig_text_and_failures_carry_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dns = parse(OperationKind::Dns, json!({"x": "127.0.0.1"}));
    let execution = run(&runner(tools(tmp.path())), &dns, ResultFormat::Text).await;
    assert_eq!(execution.format, ContentFormat::Text);
    assert_eq!(
        execution.content,
        json!("dig +time=3 +tries=2 -x 127.0.0.1\n")
    );
    assert_eq!(execution.error, None);

    let mut failing = tools(tmp.path());
    failing.dig = script(tmp.path(), "bad-dig", "echo ';; no servers'; exit 9");
    let execution = run(&runner(failing), &dns, ResultFormat::Text).await;
    assert_eq!(execution.content, json!(";; no servers\n"));
    assert!(execution.error.unwrap().contains("exit status: 9"));
}

#[tokio::test]
async fn executions_wait_for_free_credits() {
    let tmp = tempfile::tempdir().unwrap();
    let mut slow = tools(tmp.path());
    slow.dig = script(tmp.path(), "slow-dig", "sleep 0.3; echo done");
    // One credit of capacity: two lookups cannot overlap.
    let runner = Runner::new(slow, NonZeroU64::new(1).unwrap());
    let dns = parse(OperationKind::Dns, json!({"name": "example.com"}));
    let started = std::time::Instant::now();
    tokio::join!(
        run(&runner, &dns, ResultFormat::Text),
        run(&runner, &dns, ResultFormat::Text)
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
}
