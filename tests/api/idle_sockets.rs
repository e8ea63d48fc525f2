//! Connections that never send a request are closed after the header timeout, so that idle
//! sockets cannot pile up until `accept` fails for everyone.

use reqwest::StatusCode;
use std::time::{Duration, Instant};
use testkit::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How many idle sockets the test opens: well past what a test may assume is free, well below
/// the file descriptor limit of a test process.
const SOCKETS: usize = 200;

/// Waits until the server closes `stream` (end of file or reset); returns when that was.
async fn closed_at(mut stream: TcpStream, limit: Duration) -> Option<Instant> {
    let mut buffer = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => return Some(Instant::now()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn silent_sockets_and_half_http2_prefaces_are_closed_after_the_header_timeout() {
    let timeout = Duration::from_secs(1);
    let app = spawn_app_with(|s| s.limits.header_timeout = timeout).await;
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(SOCKETS);
    for n in 0..SOCKETS {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        if n % 2 == 1 {
            // The start of the HTTP/2 connection preface, and then nothing.
            stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        }
        sockets.push(stream);
    }
    let waits: Vec<_> = sockets
        .into_iter()
        .map(|stream| tokio::spawn(closed_at(stream, timeout * 5)))
        .collect();
    let mut still_open = 0;
    let mut last = opened;
    for wait in waits {
        match wait.await.unwrap() {
            Some(at) => last = last.max(at),
            None => still_open += 1,
        }
    }
    assert_eq!(
        still_open, 0,
        "{still_open} of {SOCKETS} idle sockets were never closed"
    );
    let took = last - opened;
    assert!(
        took < timeout * 3,
        "the last idle socket was closed after {took:?} (timeout {timeout:?})"
    );
    let (status, _) = app.get("/probes", None).await;
    assert_eq!(status, StatusCode::OK, "the server still serves");
    app.stop().await;
}
