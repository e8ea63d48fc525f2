//! MongoDB for tests: the server `scripts/test.sh` started, or a clear failure.
//!
//! Include with `#[path = "common/mongo.rs"] mod mongo;`. Tests must never pass silently because
//! MongoDB was not there, so a missing `PLADMED_TEST_MONGODB_URI` panics; skipping is a
//! deliberate choice, `PLADMED_TEST_SKIP_MONGODB=1`.
#![allow(dead_code)] // Each test crate uses the part it needs.

use std::sync::atomic::{AtomicU32, Ordering};

/// The test server's URI. Panics when `PLADMED_TEST_MONGODB_URI` is unset, unless
/// `PLADMED_TEST_SKIP_MONGODB=1` is set: then `None`, and the caller skips its MongoDB case.
pub fn mongo_uri() -> Option<String> {
    if let Ok(uri) = std::env::var("PLADMED_TEST_MONGODB_URI") {
        return Some(uri);
    }
    if std::env::var("PLADMED_TEST_SKIP_MONGODB").as_deref() == Ok("1") {
        return None;
    }
    panic!(
        "PLADMED_TEST_MONGODB_URI is not set: run the tests with `bash scripts/test.sh`, which \
         starts a MongoDB-compatible server, or set PLADMED_TEST_SKIP_MONGODB=1 to skip the \
         MongoDB cases deliberately"
    );
}

/// A database name no other test (of this or a concurrent run) uses: `prefix`, the process id,
/// a counter and the time.
pub fn unique_db_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // MongoDB database names are at most 63 bytes and cannot contain `/\. "$`.
    let prefix: String = prefix
        .chars()
        .take(24)
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}
