//! Waiting for something the server does in the background.

use std::future::Future;
use std::time::Duration;

/// How long a test waits for any single frame or reply.
pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `check` every 100 ms until it gives a value, failing after `seconds`.
pub async fn eventually<T, F, Fut>(what: &str, seconds: u64, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {seconds} s waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
