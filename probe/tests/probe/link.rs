//! The link itself: what the probe tells the coordinator about its clock, and wss:// through
//! an operator's TLS proxy with a private CA.

use crate::dns::DnsResponder;
use crate::helpers::{acknowledged_lookup, deploy, deploy_to, require_dig, Deployment};
use crate::probe_process::ProbeProcess;
use crate::tls_proxy::TlsProxy;
use testkit::chrony::Chronyd;
use testkit::eventually;
use testkit::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_tells_the_coordinator_its_clock_offset_measured_against_ntp() {
    let chronyd = Chronyd::start();
    let dir = tempfile::tempdir().unwrap();
    let ntp = ["--ntp-server".to_string(), chronyd.addr.to_string()];
    let Deployment {
        coordinator,
        probe_id,
        mut probe,
        ..
    } = deploy(dir.path(), &ntp).await;

    let view = coordinator.probe_view(&probe_id).await;
    let offset = view["clock_offset_ms"]
        .as_f64()
        .unwrap_or_else(|| panic!("no clock offset in the first hello: {view}"));
    // chronyd serves this very clock: the offset is the exchange's jitter.
    assert!(offset.abs() < 1000.0, "{view}");
    assert!(
        probe.log().contains("clock offset measured"),
        "{}",
        probe.log()
    );
    probe.kill().await;
    coordinator.stop().await;
}

/// With the private CA as --ca-file, the probe links over wss:// through the proxy, and a
/// result makes the whole round trip: stored by the coordinator, then acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_tls_proxy_with_a_private_ca_results_are_stored_and_acknowledged() {
    require_dig();
    let resolver = DnsResponder::start().await;
    let dir = tempfile::tempdir().unwrap();
    let coordinator = TestApp::start(&dir.path().join("data")).await;
    let proxy = TlsProxy::start(coordinator.addr).await;
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &proxy.ca_pem).unwrap();
    let mut args = proxy.server_args();
    args.extend(["--ca-file".to_string(), ca_file.display().to_string()]);
    args.extend(resolver.resolver_args());
    let Deployment {
        coordinator,
        owner,
        probe_id,
        mut probe,
        ..
    } = deploy_to(coordinator, dir.path(), &args).await;
    let endpoint = format!("wss://{}/probe/ws", proxy.addr);
    assert!(probe.log().contains(&endpoint), "{}", probe.log());
    assert!(proxy.completed() >= 1);

    let result = acknowledged_lookup(&coordinator, &owner, &probe_id, &probe).await;
    let text = result["results"].as_str().unwrap();
    assert!(text.contains("PTR\tlocalhost."), "{text}");
    assert_eq!(proxy.failed(), 0);
    probe.kill().await;
    coordinator.stop().await;
}

/// Without --ca-file only the public roots are trusted: the probe refuses the proxy's
/// certificate on every attempt, never links, and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_private_ca_the_probe_refuses_the_proxys_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let coordinator = TestApp::start(&dir.path().join("data")).await;
    let proxy = TlsProxy::start(coordinator.addr).await;
    let owner = coordinator
        .funded_user("owner@example.org", 1_000_000)
        .await
        .token;
    let (probe_id, token) = coordinator.register_probe(&owner).await;
    let mut probe = ProbeProcess::spawn(dir.path(), coordinator.addr, &token, &proxy.server_args());

    // Two refusals: the first attempt and a retry (at most a second later) both failed.
    eventually("the probe to refuse the certificate twice", 20, || async {
        (proxy.failed() >= 2).then_some(())
    })
    .await;
    assert_eq!(proxy.completed(), 0, "no handshake may succeed");
    assert_eq!(coordinator.probe_view(&probe_id).await["connected"], false);
    let log = probe.log();
    assert!(
        log.contains("invalid peer certificate: UnknownIssuer"),
        "{log}"
    );
    assert!(
        probe.running(),
        "a refused certificate is retried, not fatal"
    );
    probe.kill().await;
    coordinator.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_ca_file_stops_the_probe_at_startup_naming_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing-ca.pem");
    let args = ["--ca-file".to_string(), missing.display().to_string()];
    let unused = "127.0.0.1:9".parse().unwrap();
    let mut probe = ProbeProcess::spawn(dir.path(), unused, "token", &args);
    assert!(!probe.exit_success().await);
    let log = probe.log();
    let expected = format!("cannot use --ca-file {}: cannot read it", missing.display());
    assert!(log.contains(&expected), "{log}");
}
