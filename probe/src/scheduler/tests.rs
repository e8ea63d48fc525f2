use super::*;
use crate::runner::{Resolver, Tools};
use probe_protocol::params::format_stop_time;
use probe_protocol::OperationKind;
use serde_json::json;
use std::collections::HashSet;
use std::num::NonZeroU64;
use std::os::unix::fs::PermissionsExt;

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn schedule(cron: &str, stop: &str, times_per_minute: u32) -> Schedule {
    let params = json!({
        "cron": cron, "stop_time": stop, "times_per_minute": times_per_minute, "x": "127.0.0.1"
    });
    let parsed = params::parse(
        OperationKind::Dns,
        params.as_object().unwrap(),
        at("2029-12-31T00:00:00Z"),
    );
    parsed.unwrap().schedule().clone()
}

#[test]
fn the_minute_in_progress_runs_what_is_left_of_it() {
    let every_15s = schedule("* * * * *", "31/12/2029 12:02", 4);
    let runs: Vec<_> = run_times(&every_15s, at("2029-12-31T12:00:20Z")).collect();
    let expected: Vec<_> = [
        "12:00:30", "12:00:45", "12:01:00", "12:01:15", "12:01:30", "12:01:45", "12:02:00",
        "12:02:15", "12:02:30", "12:02:45",
    ]
    .iter()
    .map(|t| at(&format!("2029-12-31T{t}Z")))
    .collect();
    assert_eq!(runs, expected);
}

#[test]
fn an_operation_stopping_in_the_minute_in_progress_runs_the_rest_of_it() {
    let params = json!({
        "cron": "* * * * *", "stop_time": "31/12/2029 12:00", "times_per_minute": 4, "x": "127.0.0.1"
    });
    let received = at("2029-12-31T12:00:20Z");
    let parsed = params::parse(OperationKind::Dns, params.as_object().unwrap(), received)
        .expect("the stop minute is not over");
    let runs: Vec<_> = run_times(parsed.schedule(), received).collect();
    assert_eq!(
        runs,
        [at("2029-12-31T12:00:30Z"), at("2029-12-31T12:00:45Z")]
    );
}

#[test]
fn a_run_just_missed_still_counts_and_older_ones_do_not() {
    let every_second = schedule("* * * * *", "31/12/2029 12:01", 60);
    let mut runs = run_times(&every_second, at("2029-12-31T12:00:10.500Z"));
    assert_eq!(runs.next(), Some(at("2029-12-31T12:00:10Z")));
    assert_eq!(runs.next(), Some(at("2029-12-31T12:00:11Z")));
}

#[test]
fn minutes_the_cron_does_not_fire_have_no_runs() {
    let hourly = schedule("0 * * * *", "31/12/2029 14:00", 1);
    let runs: Vec<_> = run_times(&hourly, at("2029-12-31T12:00:30Z")).collect();
    assert_eq!(
        runs,
        [at("2029-12-31T13:00:00Z"), at("2029-12-31T14:00:00Z")]
    );
    let past_stop: Vec<_> = run_times(&hourly, at("2029-12-31T14:00:30Z")).collect();
    assert!(past_stop.is_empty());
}

/// The coordinator stores at most `Params::max_results(created)` results, each measured in
/// its window: a probe taking the operation on at any time from a minute "before" its creation
/// (a clock behind) on runs no more, and every run falls in the window.
#[test]
fn runs_stay_within_the_coordinator_quota_and_window() {
    let created = at("2029-12-31T12:00:20.250Z");
    for (cron, times_per_minute) in [
        ("* * * * *", 60),
        ("* * * * *", 7),
        ("*/5 * * * *", 4),
        ("0 * * * *", 1),
        ("1 12 * * *", 3),
        ("0 0 1 1 *", 1),
    ] {
        let params = json!({
            "cron": cron, "stop_time": "31/12/2029 13:00",
            "times_per_minute": times_per_minute, "x": "127.0.0.1",
        });
        let parsed = params::parse(OperationKind::Dns, params.as_object().unwrap(), created);
        let parsed = parsed.unwrap();
        let quota = parsed.max_results(created);
        let window = params::ResultWindow::new(created, parsed.schedule().stop_time());
        for offset_ms in (-59_000..=300_000).step_by(3_700) {
            let taken_on = created + TimeDelta::milliseconds(offset_ms);
            let runs: Vec<_> = run_times(parsed.schedule(), taken_on).collect();
            assert!(
                runs.len() as u64 <= quota,
                "{cron} x{times_per_minute} taken on at {taken_on}: {} runs, quota {quota}",
                runs.len()
            );
            assert!(runs.iter().all(|&run| window.contains(run)), "{cron}");
            assert!(runs.iter().all(|&run| run <= parsed.schedule().end()));
        }
    }
}

#[test]
fn unique_codes_are_fresh_short_and_file_name_safe() {
    let measured = at("2029-12-31T12:00:00.25Z");
    let codes: HashSet<String> = (0..1000).map(|_| unique_code(measured)).collect();
    assert_eq!(codes.len(), 1000);
    let code = codes.iter().next().unwrap();
    assert!(code.starts_with("20291231T120000.250000Z-"), "{code}");
    assert!(code.len() <= probe_protocol::MAX_UNIQUE_CODE_LEN);
    assert!(code
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
}

/// A scheduler whose dig is a script printing "answer".
fn scheduler(dir: &std::path::Path) -> (Scheduler, Arc<Outbox>, CancellationToken) {
    scheduler_with_dig(dir, "echo answer")
}

/// A scheduler whose dig is the shell script `body`, and the token that stops it.
fn scheduler_with_dig(
    dir: &std::path::Path,
    body: &str,
) -> (Scheduler, Arc<Outbox>, CancellationToken) {
    let dig = dir.join("dig");
    std::fs::write(&dig, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&dig, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tools = Tools {
        scamper: "scamper".into(),
        sc_analysis_dump: "sc_analysis_dump".into(),
        dig,
        resolver: Resolver::default(),
        timeout: Duration::from_secs(5),
    };
    let outbox = Arc::new(Outbox::open(dir.join("outbox"), Arc::default()).unwrap());
    let ledger = Arc::new(Ledger::open(dir.join("operations"), Arc::default()).unwrap());
    let stop = CancellationToken::new();
    let runner = Runner::new(tools, NonZeroU64::new(10).unwrap());
    let scheduler = Scheduler::new(
        runner,
        outbox.clone(),
        ledger,
        Clock::default(),
        stop.clone(),
    );
    (scheduler, outbox, stop)
}

fn every_second_order(id: &str) -> OperationOrder {
    let stop = format_stop_time(Utc::now() + TimeDelta::minutes(3));
    let params = json!({
        "cron": "* * * * *", "stop_time": stop, "times_per_minute": 60, "x": "127.0.0.1"
    });
    OperationOrder {
        operation_id: id.into(),
        kind: OperationKind::Dns,
        params: params.as_object().unwrap().clone(),
        credits: 1,
        result_format: ResultFormat::Text,
    }
}

/// Waits until the outbox holds a result, failing after 5 s.
async fn wait_for_a_result(outbox: &Outbox) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while outbox.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no result within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_operation_runs_at_once_and_a_re_sent_order_does_not_run_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let (scheduler, outbox, cancel) = scheduler(tmp.path());
    scheduler.take(every_second_order("op")).await.unwrap();
    scheduler.take(every_second_order("op")).await.unwrap();
    assert_eq!(scheduler.inner.tasks.len(), 1);

    wait_for_a_result(&outbox).await;
    let result = outbox.next_batch(&HashSet::new(), 1).remove(0);
    assert_eq!(result.operation_id, "op");
    assert_eq!(result.format, ContentFormat::Text);
    assert_eq!(result.content.to_value(), json!("answer\n"));
    assert_eq!(result.error, None);

    cancel.cancel();
    scheduler.wait_stopped(Duration::from_secs(5)).await;
    assert!(scheduler.inner.tasks.is_empty());
}

#[tokio::test]
async fn unreadable_parameters_give_one_error_result_and_finish() {
    let tmp = tempfile::tempdir().unwrap();
    let (scheduler, outbox, _cancel) = scheduler(tmp.path());
    let mut order = every_second_order("bad");
    order.params.remove("cron");
    scheduler.take(order).await.unwrap();
    scheduler.wait_stopped(Duration::from_secs(5)).await;
    let results = outbox.next_batch(&HashSet::new(), 10);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].content.to_value(), Value::Null);
    assert!(results[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("the probe cannot run these parameters: params.cron"));
    assert_eq!(scheduler.inner.ledger.in_use_credits(), 0);
}

#[tokio::test]
async fn an_operation_received_after_its_stop_time_just_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let (scheduler, outbox, _cancel) = scheduler(tmp.path());
    let mut order = every_second_order("late");
    let past = format_stop_time(Utc::now() - TimeDelta::minutes(1));
    order.params.insert("stop_time".into(), json!(past));
    scheduler.take(order).await.unwrap();
    scheduler.wait_stopped(Duration::from_secs(5)).await;
    assert!(outbox.is_empty());
    assert_eq!(scheduler.inner.ledger.unfinished().len(), 0);
    assert!(
        scheduler.inner.running().is_empty(),
        "its task unregistered"
    );
}

#[tokio::test]
async fn stopping_lets_running_executions_store_their_results_and_starts_no_run() {
    let tmp = tempfile::tempdir().unwrap();
    let started = tmp.path().join("started");
    let body = format!("touch {}; sleep 2; echo answer", started.display());
    let (scheduler, outbox, stop) = scheduler_with_dig(tmp.path(), &body);
    scheduler.take(every_second_order("op")).await.unwrap();
    while !started.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let stopped_at = Utc::now();
    stop.cancel();
    assert!(outbox.is_empty(), "the running lookup has not ended yet");
    assert!(scheduler.wait_stopped(Duration::from_secs(5)).await);
    let results = outbox.next_batch(&HashSet::new(), 100);
    assert!(!results.is_empty(), "the running lookup stored its result");
    assert!(results
        .iter()
        .all(|r| r.content.to_value() == json!("answer\n")));
    assert!(results.iter().all(|r| r.measured_at <= stopped_at));
    let unfinished = scheduler.inner.ledger.unfinished();
    assert_eq!(
        unfinished.len(),
        1,
        "the operation resumes at the next start"
    );
}

#[tokio::test]
async fn a_stop_after_the_grace_abandons_what_still_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (scheduler, outbox, stop) = scheduler_with_dig(tmp.path(), "sleep 30");
    scheduler.take(every_second_order("op")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    assert!(!scheduler.wait_stopped(Duration::from_millis(200)).await);
    assert!(outbox.is_empty());
}

#[tokio::test]
async fn a_withdrawn_operation_stops_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let (scheduler, outbox, _stop) = scheduler(tmp.path());
    scheduler.take(every_second_order("gone")).await.unwrap();
    wait_for_a_result(&outbox).await;

    let withdrawal = scheduler.withdraw("gone").await.unwrap();
    assert!(withdrawal.known);
    assert!(!withdrawal.discarded.is_empty());
    assert!(scheduler.inner.tasks.is_empty(), "its task has ended");
    assert!(scheduler.inner.running().is_empty());
    assert!(scheduler.inner.ledger.progress().is_empty());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(outbox.is_empty(), "no run after the withdrawal");
    let again = scheduler.withdraw("gone").await.unwrap();
    assert_eq!(
        again,
        Withdrawal {
            known: false,
            discarded: vec![]
        }
    );
}

#[tokio::test]
async fn withdrawing_kills_a_measurement_under_way_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let started = tmp.path().join("started");
    let body = format!("touch {}; sleep 30; echo answer", started.display());
    let (scheduler, outbox, _stop) = scheduler_with_dig(tmp.path(), &body);
    scheduler.take(every_second_order("gone")).await.unwrap();
    while !started.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let withdrawing = scheduler.withdraw("gone");
    let withdrawal = tokio::time::timeout(Duration::from_secs(5), withdrawing)
        .await
        .expect("the running lookup is killed, not waited for")
        .unwrap();
    assert!(withdrawal.known);
    assert!(withdrawal.discarded.is_empty());
    assert!(outbox.is_empty());
    assert!(scheduler.inner.tasks.is_empty());
}
