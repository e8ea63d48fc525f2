//! The password hashing bound keeps memory bounded: the real binary, one hash at a time, a burst
//! of 40 logins. Unbounded, the 40 Argon2 verifications (19 MiB each) would all run at once on
//! tokio's blocking pool, about 760 MiB at the peak; bounded, the peak grows by about one.

use futures::future::join_all;
use serde_json::json;
use testkit::process::{free_port, Server};
use testkit::{JWT_SECRET, PASSWORD};

/// Peak resident set (`VmHWM`) of `pid`, in MiB.
fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

#[tokio::test]
async fn a_burst_of_logins_grows_peak_memory_by_about_one_hash() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("PLADMED_DATA_DIR", dir.path().to_str().unwrap()),
        ("PLADMED_JWT_SECRET", JWT_SECRET),
        ("PLADMED_NTP_SERVER", "127.0.0.1:9"),
        ("PLADMED_HASH_CONCURRENCY", "1"),
        ("PLADMED_AUTH_RATE_PER_MINUTE", "1000000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let server = Server::start(env, free_port());
    server.wait_until_up().await;
    let api = server.client();
    let client = &api.http;
    let url = |path: &str| server.url(path);
    let credentials = json!({"email": "peak@example.org", "password": PASSWORD});
    api.post_ok("/register", None, credentials.clone()).await;
    api.post_ok("/login", None, credentials.clone()).await;
    let before = peak_rss_mib(server.pid());

    let logins = (0..40).map(|_| client.post(url("/login")).json(&credentials).send());
    let statuses: Vec<u16> = join_all(logins)
        .await
        .into_iter()
        .map(|answer| answer.unwrap().status().as_u16())
        .collect();
    let after = peak_rss_mib(server.pid());

    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        after - before < 100,
        "peak RSS grew from {before} to {after} MiB"
    );
}
