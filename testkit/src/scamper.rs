//! Whether the real scamper can measure on this machine, for the tests that run it (the
//! reference probe's and the CLI's).

/// Set to 1 to skip (loudly) the tests that need scamper's raw sockets.
pub const NO_RAW_SOCKETS: &str = "PLADMED_TEST_NO_RAW_SOCKETS";

/// Whether scamper can measure here. It needs raw sockets (root or CAP_NET_RAW); without them
/// the tests that need it fail with this explanation, unless PLADMED_TEST_NO_RAW_SOCKETS=1 is
/// set, in which case they are skipped with a notice, never silently.
pub fn scamper_can_measure() -> bool {
    if std::env::var(NO_RAW_SOCKETS).as_deref() == Ok("1") {
        // Written to the real stderr, past the test harness's capture, so that the skip shows
        // in every run's output and not only on failure.
        let test = std::thread::current().name().unwrap_or("?").to_string();
        let notice =
            format!("SKIPPED {test}: {NO_RAW_SOCKETS}=1, scamper measurements not tested\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
        return false;
    }
    let ping = std::process::Command::new("scamper")
        .args(["-O", "json", "-c", "ping -c 1", "-i", "127.0.0.1"])
        .output();
    let advice = format!(
        "install scamper (apt-get install scamper) and run as root or with CAP_NET_RAW, \
         or set {NO_RAW_SOCKETS}=1 to skip these tests"
    );
    let output = ping.unwrap_or_else(|e| panic!("scamper cannot be run ({e}): {advice}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("\"replies\":1"),
        "scamper cannot ping 127.0.0.1 (raw sockets?): {advice}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    true
}
