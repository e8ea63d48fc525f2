//! Multi-document transactions with the retries MongoDB asks drivers' users to do.
//!
//! A transaction that touches a document another transaction changed first fails with the
//! `TransientTransactionError` label (a write conflict) and must be run again from the start:
//! this is what serialises concurrent registrations of one owner's probes (the only transaction
//! left: operation creation, result ingest and assignment moves use none, see `debits`, `ingest`
//! and `operations`). A commit whose outcome is unknown (`UnknownTransactionCommitResult`, e.g.
//! the connection dropped) is committed again; committing is idempotent. Both are bounded, so a store that keeps failing surfaces as an error.
//!
//! A process killed between a transaction's first write and its commit leaves that transaction
//! open on the server, holding its writes, until the server reaps it (MongoDB's
//! `transactionLifetimeLimitSeconds`, 60 s by default; SecantusDB does the same). Until then every
//! transaction touching the same documents (registrations of the same owner's probes) conflicts; after the
//! bounded retries the caller gets [`StoreError::Unavailable`] and retries later, which probes do
//! on `store_unavailable`. Nothing is lost or doubled: the orphan is rolled back as a whole.

use super::errors;
use crate::store::{StoreError, StoreResult};
use futures::future::BoxFuture;
use mongodb::error::{Error, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT};
use mongodb::options::{Acknowledgment, ReadConcern, SelectionCriteria, TransactionOptions};
use mongodb::options::{ReadPreference, WriteConcern};
use mongodb::{Client, ClientSession};
use rand::Rng;
use std::time::Duration;

/// Runs of a transaction before giving up. Every run that conflicts lost to one that committed,
/// so this bounds the number of concurrent writers of one document that all still succeed.
const MAX_RUNS: u32 = 64;
/// Runs after which an unreachable server is reported instead of waited for again.
const MAX_UNREACHABLE_RUNS: u32 = 2;
/// Commits of one run whose outcome stayed unknown before giving up.
const MAX_COMMITS: u32 = 5;
/// Longest pause between two runs; the pause is random so that conflicting writers spread out.
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// Why a transaction body stopped short of committing.
pub(super) enum Abort<T> {
    /// The driver failed; the run is repeated if the failure is transient.
    Driver(Error),
    /// The body decided: roll back and answer this (a refused debit, a duplicate result).
    Answer(StoreResult<T>),
    /// The body met a concurrent writer of the same document: roll back and run again, as for
    /// a write conflict.
    Conflict(Error),
}

impl<T> Abort<T> {
    /// Roll back and fail with `error`.
    pub(super) fn refuse(error: StoreError) -> Self {
        Abort::Answer(Err(error))
    }
}

/// The abort for a failed update of one document that changes none of its unique keys: such an
/// update can only clash with a concurrent transaction writing that same document. MongoDB
/// reports the clash as a write conflict; SecantusDB (the test server) sometimes as a duplicate
/// key (E11000) on one of the document's unique indexes. Both mean: run again.
pub(super) fn updating<T>(error: Error) -> Abort<T> {
    if errors::duplicate_key(&error).is_some() {
        Abort::Conflict(error)
    } else {
        Abort::Driver(error)
    }
}

impl<T> From<Error> for Abort<T> {
    fn from(error: Error) -> Self {
        Abort::Driver(error)
    }
}

/// What a transaction body returns.
pub(super) type Step<T> = Result<T, Abort<T>>;

/// Majority-committed reads and majority, journaled commits on the primary: what one
/// transaction saw and wrote survives a crash and a failover.
pub(super) fn durable_options() -> TransactionOptions {
    TransactionOptions::builder()
        .read_concern(ReadConcern::majority())
        .write_concern(durable_write_concern())
        .selection_criteria(SelectionCriteria::ReadPreference(ReadPreference::Primary))
        .build()
}

/// Acknowledged by a majority of the replica set, each from its journal on disk.
pub(super) fn durable_write_concern() -> WriteConcern {
    WriteConcern::builder()
        .w(Acknowledgment::Majority)
        .journal(true)
        .build()
}

/// Runs `body` in a transaction and commits it, repeating the whole run on transient failures.
/// Each run borrows the session and the caller's `context`; the body returns a boxed future
/// because the compiler cannot yet prove an async closure's future `Send`.
pub(super) async fn run<C: ?Sized + Sync, T>(
    client: &Client,
    context: &C,
    mut body: impl for<'s> FnMut(&'s mut ClientSession, &'s C) -> BoxFuture<'s, Step<T>>,
) -> StoreResult<T> {
    let mut session = client.start_session().await.map_err(errors::from_driver)?;
    let mut runs = 0;
    loop {
        runs += 1;
        let (failure, conflict) = match once(&mut session, context, &mut body).await {
            Ok(answer) => return answer,
            Err(failure) => failure,
        };
        // A run whose commit may have happened is never repeated: it could apply twice.
        let retry = (conflict || failure.contains_label(TRANSIENT_TRANSACTION_ERROR))
            && !failure.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT)
            && runs < MAX_RUNS
            && !(errors::is_unreachable(&failure) && runs >= MAX_UNREACHABLE_RUNS);
        if !retry {
            return Err(errors::from_driver(failure));
        }
        let pause = rand::thread_rng().gen_range(Duration::ZERO..=MAX_BACKOFF);
        tokio::time::sleep(pause).await;
    }
}

/// One run: `Ok` with the final answer, or the driver error that ended it (already rolled back)
/// and whether the body called it a conflict.
async fn once<C: ?Sized + Sync, T>(
    session: &mut ClientSession,
    context: &C,
    body: &mut impl for<'s> FnMut(&'s mut ClientSession, &'s C) -> BoxFuture<'s, Step<T>>,
) -> Result<StoreResult<T>, (Error, bool)> {
    session
        .start_transaction()
        .with_options(durable_options())
        .await
        .map_err(|e| (e, false))?;
    match body(session, context).await {
        Ok(value) => commit(session)
            .await
            .map(|()| Ok(value))
            .map_err(|e| (e, false)),
        Err(abort) => {
            // Rolling back can only fail if the server already dropped the transaction, which
            // has the same effect; the body's own error is the one worth reporting.
            let _ = session.abort_transaction().await;
            match abort {
                Abort::Driver(error) => Err((error, false)),
                Abort::Conflict(error) => Err((error, true)),
                Abort::Answer(answer) => Ok(answer),
            }
        }
    }
}

/// Commits, again while the outcome is unknown.
async fn commit(session: &mut ClientSession) -> Result<(), Error> {
    let mut commits = 0;
    loop {
        commits += 1;
        match session.commit_transaction().await {
            Err(e)
                if e.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) && commits < MAX_COMMITS =>
            {
                continue
            }
            outcome => return outcome,
        }
    }
}
