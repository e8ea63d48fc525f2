//! Driver errors as [`StoreError`]s.
//!
//! The split that matters to callers is [`StoreError::Unavailable`] (retry later: the server is
//! unreachable, stepping down, busy) against everything else (retrying cannot help: MongoDB
//! refused the document, or what it returned does not decode).

use crate::store::StoreError;
use mongodb::error::{
    Error, ErrorKind, WriteFailure, RETRYABLE_WRITE_ERROR, TRANSIENT_TRANSACTION_ERROR,
};

/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// Server error codes that say "not now" rather than "never": network trouble, elections,
/// shutdowns, lock and time limits, write conflicts, lost transactions, missing permissions.
const TRANSIENT_CODES: [i32; 20] = [
    6,     // HostUnreachable
    7,     // HostNotFound
    13,    // Unauthorized
    18,    // AuthenticationFailed
    24,    // LockTimeout
    50,    // MaxTimeMSExpired
    89,    // NetworkTimeout
    91,    // ShutdownInProgress
    112,   // WriteConflict
    189,   // PrimarySteppedDown
    251,   // NoSuchTransaction
    262,   // ExceededTimeLimit
    9001,  // SocketException
    10107, // NotWritablePrimary
    11600, // InterruptedAtShutdown
    11602, // InterruptedDueToReplStateChange
    13435, // NotPrimaryNoSecondaryOk
    13436, // NotPrimaryOrSecondary
    462,   // IngressRequestRateLimitExceeded
    464,   // SystemOverloaded
];

/// The message of a duplicate key error (it names the violated index), if `error` is one.
pub(super) fn duplicate_key(error: &Error) -> Option<&str> {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == DUPLICATE_KEY => {
            Some(&e.message)
        }
        ErrorKind::Command(e) if e.code == DUPLICATE_KEY => Some(&e.message),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .iter()
            .flatten()
            .find(|w| w.code == DUPLICATE_KEY)
            .map(|w| w.message.as_str()),
        _ => None,
    }
}

/// Maps a driver error that no caller handles specifically.
pub(super) fn from_driver(error: Error) -> StoreError {
    let retry_later = match &*error.kind {
        ErrorKind::BsonDeserialization(_) | ErrorKind::InvalidResponse { .. } => {
            return StoreError::Corrupt(format!("MongoDB answer does not decode: {error}"));
        }
        ErrorKind::BsonSerialization(_) | ErrorKind::InvalidArgument { .. } => false,
        ErrorKind::Write(WriteFailure::WriteConcernError(_)) => true,
        ErrorKind::Write(WriteFailure::WriteError(e)) => is_transient_code(e.code),
        ErrorKind::Command(e) => is_transient_code(e.code),
        ErrorKind::InsertMany(e) => e.write_concern_error.is_some() && e.write_errors.is_none(),
        _ => true,
    };
    if retry_later
        || error.contains_label(TRANSIENT_TRANSACTION_ERROR)
        || error.contains_label(RETRYABLE_WRITE_ERROR)
    {
        StoreError::Unavailable(format!("MongoDB: {error}"))
    } else {
        StoreError::Corrupt(format!("MongoDB refused the request: {error}"))
    }
}

/// Whether `error` says the server could not be reached (rather than refusing one
/// transaction): repeating a transaction more than once then only repeats the wait.
pub(super) fn is_unreachable(error: &Error) -> bool {
    matches!(
        &*error.kind,
        ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. }
            | ErrorKind::DnsResolve { .. }
            | ErrorKind::Authentication { .. }
            | ErrorKind::Shutdown
    )
}

fn is_transient_code(code: i32) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Whether an unordered `insert_many` failed only because some documents were there already
/// (every other document was inserted).
pub(super) fn only_duplicates(error: &Error) -> bool {
    match &*error.kind {
        ErrorKind::InsertMany(e) => {
            e.write_concern_error.is_none()
                && e.write_errors
                    .iter()
                    .flatten()
                    .all(|w| w.code == DUPLICATE_KEY)
        }
        _ => false,
    }
}

/// Whether a write error code is MongoDB's duplicate key error.
pub(super) fn is_duplicate_code(code: i32) -> bool {
    code == DUPLICATE_KEY
}

/// One document's write error (e.g. of an `insert_many`) as a [`StoreError`].
pub(super) fn from_write_error(code: i32, message: &str) -> StoreError {
    if is_transient_code(code) {
        StoreError::Unavailable(format!("MongoDB: {message}"))
    } else {
        StoreError::Corrupt(format!("MongoDB refused the document: {message}"))
    }
}

/// Tries of an update that keeps failing with a spurious duplicate key error.
const MAX_CLASH_TRIES: u32 = 8;

/// Runs an update of documents whose unique keys it does not change again while the server
/// answers with a duplicate key error: such an update cannot clash on a unique index, yet
/// SecantusDB (the test server) sometimes says it did when another connection writes the same
/// collection. Only updates that are safe to repeat (conditional, or idempotent) go through here.
pub(super) async fn repeat_on_clash<T, F, A>(mut update: F) -> Result<T, Error>
where
    F: FnMut() -> A,
    A: std::future::IntoFuture<Output = Result<T, Error>>,
{
    let mut tries = 1;
    loop {
        match update().into_future().await {
            Err(error) if duplicate_key(&error).is_some() && tries < MAX_CLASH_TRIES => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(tries))).await;
            }
            outcome => return outcome,
        }
    }
}
