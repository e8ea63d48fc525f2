//! The link itself: what the probe tells the coordinator about its clock.

// Shared with the coordinator's clock tests, whose stratum constant is not needed here.
#[allow(dead_code)]
#[path = "../../../tests/common/chrony.rs"]
mod chrony;

use crate::helpers::{deploy, Deployment};
use chrony::Chronyd;

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
