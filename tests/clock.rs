//! The clock sampler against a real chronyd on loopback, and against a server that never answers.

use chrono::Utc;
use pladmed::clock::{self, Clock};
use pladmed::config::ClockSettings;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use testkit::chrony::{Chronyd, LOCAL_STRATUM};
use testkit::process::{free_port, Server};

fn settings(server: String) -> ClockSettings {
    ClockSettings {
        ntp_server: server.parse().expect("host:port"),
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
    let sample = clock::sample(&chronyd.addr.to_string().parse().unwrap())
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

/// Seconds from the NTP epoch (1900) to the Unix epoch.
const NTP_TO_UNIX_S: u64 = 2_208_988_800;

/// `time` as an NTP timestamp (seconds since 1900, 32.32 fixed point).
fn ntp_timestamp(time: SystemTime) -> [u8; 8] {
    let since_unix = time.duration_since(UNIX_EPOCH).unwrap();
    let seconds = (since_unix.as_secs() + NTP_TO_UNIX_S) as u32;
    let fraction = ((u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000) as u32;
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    bytes[4..].copy_from_slice(&fraction.to_be_bytes());
    bytes
}

/// A minimal stratum-2 NTP server whose clock runs `ahead` of ours.
fn server_ahead_by(ahead: Duration) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut request = [0u8; 48];
        while let Ok((48, client)) = socket.recv_from(&mut request) {
            let now = ntp_timestamp(SystemTime::now() + ahead);
            let mut reply = [0u8; 48];
            reply[0] = 0b00_100_100; // no leap warning, version 4, mode 4 (server)
            reply[1] = 2; // stratum
            reply[12..16].copy_from_slice(b"GPS\0");
            reply[16..24].copy_from_slice(&now); // reference
            reply[24..32].copy_from_slice(&request[40..48]); // originate = client's transmit
            reply[32..40].copy_from_slice(&now); // receive
            reply[40..48].copy_from_slice(&now); // transmit
            let _ = socket.send_to(&reply, client);
        }
    });
    addr
}

#[tokio::test]
async fn a_server_ahead_of_us_gives_a_positive_offset_beyond_the_limit() {
    let server = server_ahead_by(Duration::from_millis(500));
    let sample = clock::sample(&server.to_string().parse().unwrap())
        .await
        .expect("answers");
    assert!((sample.offset_ms - 500.0).abs() < 50.0, "{sample:?}");
    assert_eq!(sample.stratum, 2);
    let clock = Clock::start(settings(server.to_string()));
    wait_for(&clock, |s| s.last.is_some()).await;
    let health = clock.health(Utc::now());
    assert!(!health.healthy, "{health:?}");
    assert!(health.message.contains("exceeds 100 ms"), "{health:?}");
}

/// `PLADMED_NTP_SERVER` without a port means port 123, as the probe's `--ntp-server` does (the
/// server used to refuse to start). The name does not resolve, so /health names the server it
/// tried.
#[tokio::test]
async fn the_server_reads_an_ntp_server_without_a_port_on_port_123_as_probes_do() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![
        ("PLADMED_JWT_SECRET".into(), testkit::JWT_SECRET.into()),
        (
            "PLADMED_DATA_DIR".into(),
            dir.path().to_str().unwrap().into(),
        ),
        ("PLADMED_NTP_SERVER".into(), "ntp.invalid".into()),
    ];
    let mut server = Server::start(env, free_port());
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let health = loop {
        assert!(
            server.is_running(),
            "the server refused PLADMED_NTP_SERVER=ntp.invalid"
        );
        if let Ok(answer) = client.get(server.url("/health")).send().await {
            break answer.json::<serde_json::Value>().await.unwrap();
        }
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let ntp = health["messages"][0]["ntp"][0].as_str().unwrap_or_default();
    assert!(
        ntp.starts_with("no sample from ntp.invalid:123"),
        "{health}"
    );
}
