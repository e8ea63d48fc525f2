//! Probes cannot mint credits: a probe is stored and paid for at most the results its
//! assignment's schedule can produce, each measured within the operation's window. Refused
//! results are answered `over_quota` / `outside_window` naming the operation and the result;
//! the link stays open, and a result stored before still acks as a duplicate.

use chrono::{DateTime, Duration as ChronoDuration, Timelike, Utc};
use pladmed::operations::CREDITS_PER_RESULT;
use probe_protocol::{error_code, ContentFormat, ProbeMessage, ResultReport, ServerMessage};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use testkit::*;

/// Results sent before their answers are read: below the server's queue per probe.
const BATCH: usize = 32;

fn result(operation_id: &str, code: &str, measured_at: DateTime<Utc>) -> ProbeMessage {
    ProbeMessage::Result(ResultReport {
        operation_id: operation_id.into(),
        unique_code: code.into(),
        format: ContentFormat::Json,
        content: json!([{"type": "ping", "rtt": 1.5}]).into(),
        measured_at,
        error: None,
    })
}

/// How the server answered one result.
#[derive(Debug, PartialEq)]
enum Answer {
    Ack { duplicate: bool },
    Error { code: String },
}

/// Sends `codes` in batches and returns each one's answer, checking that every error notice
/// names `operation` and the result.
async fn send_all(
    probe: &mut TestProbe,
    operation: &str,
    codes: &[String],
    measured_at: DateTime<Utc>,
) -> HashMap<String, Answer> {
    let mut answers = HashMap::new();
    for batch in codes.chunks(BATCH) {
        for code in batch {
            probe.send(&result(operation, code, measured_at)).await;
        }
        for _ in batch {
            match probe.recv().await {
                ServerMessage::ResultAck(ack) => {
                    let answer = Answer::Ack {
                        duplicate: ack.duplicate,
                    };
                    answers.insert(ack.unique_code, answer);
                }
                ServerMessage::Error(notice) => {
                    assert_eq!(
                        notice.operation_id.as_deref(),
                        Some(operation),
                        "{notice:?}"
                    );
                    let code = notice.unique_code.clone().expect("the result is named");
                    answers.insert(code, Answer::Error { code: notice.code });
                }
                other => panic!("expected an answer to a result, got {other:?}"),
            }
        }
    }
    answers
}

/// A one-execution ping: it fires at one minute three minutes from now, and stops in ten.
fn one_execution_ping() -> Value {
    let fires = Utc::now() + ChronoDuration::minutes(3);
    let cron = format!("{} {} * * *", fires.minute(), fires.hour());
    json!({"cron": cron, "stop_time": stop_time_in(10), "times_per_minute": 1, "ips": ["127.0.0.1"]})
}

struct Setup {
    app: TestApp,
    owner: Account,
    probe: TestProbe,
    operation: String,
    /// The owner's balance once the operation is paid.
    balance: u64,
}

/// An owner with 1,000 credits, their connected probe, and an operation of `params` on it,
/// received and accepted.
async fn setup(email: &str, params: Value) -> Setup {
    // The frame rate limit is not what is tested here.
    let app = spawn_app_with(|s| s.limits.probe_frames_per_s = 1_000_000).await;
    let owner = app.funded_user(email, 1_000).await;
    let (probe_id, token) = app.probe(&owner).await;
    let mut probe = app.connect(&token, 1_000).await;
    let operation = app
        .ping_over(&owner.token, &probe_id, params, &mut probe)
        .await;
    let accepted = probe_protocol::Accepted {
        operation_id: operation.clone(),
    };
    probe.send(&ProbeMessage::Accepted(accepted)).await;
    let balance = app.credits_of(&owner).await;
    Setup {
        app,
        owner,
        probe,
        operation,
        balance,
    }
}

async fn stored_results(app: &TestApp, operation: &str) -> usize {
    let path = format!("/operations/{operation}/results?limit=1000");
    let (status, page) = app.get(&path, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["results"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_thousand_results_for_a_one_execution_ping_earn_one_reward() {
    let Setup {
        app,
        owner,
        mut probe,
        operation,
        balance,
    } = setup("minter@example.org", one_execution_ping()).await;
    assert_eq!(
        balance,
        1_000 - 1,
        "one execution of a one-destination ping"
    );

    let codes: Vec<String> = (0..1_000).map(|n| format!("mint-{n:04}")).collect();
    let answers = send_all(&mut probe, &operation, &codes, Utc::now()).await;

    assert_eq!(answers.len(), 1_000, "every result is answered");
    let stored: Vec<_> = answers
        .iter()
        .filter(|(_, a)| **a == Answer::Ack { duplicate: false })
        .map(|(code, _)| code.clone())
        .collect();
    assert_eq!(stored.len(), 1, "the schedule produces one result");
    let over_quota = Answer::Error {
        code: error_code::OVER_QUOTA.into(),
    };
    assert_eq!(answers.values().filter(|a| **a == over_quota).count(), 999);
    assert_eq!(app.credits_of(&owner).await, balance + CREDITS_PER_RESULT);
    assert_eq!(stored_results(&app, &operation).await, 1);

    // The link stayed open, and the stored result re-sent is still a duplicate, not refused.
    let again = send_all(&mut probe, &operation, &stored, Utc::now()).await;
    assert_eq!(again[&stored[0]], Answer::Ack { duplicate: true });
    assert_eq!(app.credits_of(&owner).await, balance + CREDITS_PER_RESULT);
    app.stop().await;
}

#[tokio::test]
async fn results_measured_outside_the_window_are_refused_and_unpaid() {
    let Setup {
        app,
        owner,
        mut probe,
        operation,
        balance,
    } = setup("timetraveller@example.org", busy_ping_params(5)).await;

    let outside = [
        ("last-year", Utc::now() - ChronoDuration::days(365)),
        ("an-hour-ago", Utc::now() - ChronoDuration::hours(1)),
        (
            "an-hour-after-the-stop",
            Utc::now() + ChronoDuration::hours(1),
        ),
        ("next-year", Utc::now() + ChronoDuration::days(365)),
    ];
    for (code, measured_at) in outside {
        let answers = send_all(&mut probe, &operation, &[code.to_string()], measured_at).await;
        let refusal = Answer::Error {
            code: error_code::OUTSIDE_WINDOW.into(),
        };
        assert_eq!(answers[code], refusal, "{code}");
    }
    let now = send_all(&mut probe, &operation, &["now".to_string()], Utc::now()).await;
    assert_eq!(now["now"], Answer::Ack { duplicate: false });

    assert_eq!(app.credits_of(&owner).await, balance + CREDITS_PER_RESULT);
    assert_eq!(stored_results(&app, &operation).await, 1);
    app.stop().await;
}
