//! The clock sampler against a real chronyd on loopback, and against a server that never answers.

#[path = "common/chrony.rs"]
mod chrony;

use chrono::Utc;
use chrony::{Chronyd, LOCAL_STRATUM};
use pladmed::clock::{self, Clock};
use pladmed::config::ClockSettings;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

fn settings(server: String) -> ClockSettings {
    ClockSettings {
        ntp_server: server,
        interval: Duration::from_secs(1),
        max_offset_ms: 100.0,
    }
}

/// Polls until `done` holds for the clock's status, or fails after ten seconds.
async fn wait_for(clock: &Clock, done: impl Fn(&clock::ClockStatus) -> bool) -> clock::ClockStatus {
    let started = Instant::now();
    loop {
        let status = clock.status();
        if done(&status) {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "clock status never arrived: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_sample_from_chronyd_on_this_host_has_its_stratum_and_almost_no_offset() {
    let chronyd = Chronyd::start();
    let sample = clock::sample(&chronyd.addr.to_string())
        .await
        .expect("chronyd answers");
    eprintln!("measured against chronyd: {sample:?}");
    assert_eq!(sample.stratum, LOCAL_STRATUM);
    // Same host, same clock: only the time to cross the loopback separates the two.
    assert!(sample.offset_ms.abs() < 50.0, "{sample:?}");
    assert!((0.0..50.0).contains(&sample.delay_ms), "{sample:?}");
}

#[tokio::test]
async fn the_sampler_publishes_a_healthy_clock() {
    let chronyd = Chronyd::start();
    let clock = Clock::start(settings(chronyd.addr.to_string()));
    let status = wait_for(&clock, |s| s.last.is_some()).await;
    assert_eq!(status.last_error, None);
    let health = clock.health(Utc::now());
    assert!(health.healthy, "{health:?}");
    assert!(
        health.message.contains(&format!("stratum {LOCAL_STRATUM}")),
        "{health:?}"
    );
}

#[tokio::test]
async fn a_silent_server_makes_the_clock_unhealthy() {
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let clock = Clock::start(settings(silent.local_addr().unwrap().to_string()));
    let status = wait_for(&clock, |s| s.last_error.is_some()).await;
    assert_eq!(status.last, None);
    let health = clock.health(Utc::now());
    assert!(!health.healthy);
    assert!(health.message.contains("no valid answer"), "{health:?}");
}

#[tokio::test]
async fn an_unresolvable_server_is_reported_not_fatal() {
    let clock = Clock::start(settings("ntp.invalid:123".into()));
    wait_for(&clock, |s| s.last_error.is_some()).await;
    let health = clock.health(Utc::now());
    assert!(!health.healthy);
    assert!(
        health.message.contains("cannot resolve ntp.invalid:123"),
        "{health:?}"
    );
}
