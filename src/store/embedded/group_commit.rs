//! Group commit: one transaction and one fsync for many concurrent writes.
//!
//! An fsync costs milliseconds, and so does a redb commit; one per write caps the store at a few
//! hundred writes per second however many probes send at once. Every write runs here, on one
//! thread: the writes that queued up meanwhile (at most [`MAX_BATCH`]) run one after the other
//! in one `Durability::Immediate` transaction, and each caller hears its own outcome only after
//! that commit, so `Ok` still means durable. Each write still sees every earlier one (a result
//! re-sent within a batch is a duplicate). A write that is refused (`Err`) may have written
//! part of its changes, so the transaction is rolled back and the batch replayed without it:
//! the refused write leaves no trace, exactly as alone. Replays cost only when writes are
//! refused, which is rare on the hot paths (a duplicate result is `Ok(Duplicate)`).

use crate::store::{StoreError, StoreResult};
use redb::{Database, Durability, WriteTransaction};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Most writes sharing one commit: bounds how long the first of them waits, and the replays.
const MAX_BATCH: usize = 1024;

/// One caller's write, as the commit thread sees it.
trait Job: Send {
    /// Runs the write in `txn` and keeps its outcome; `false` if it was refused.
    fn apply(&mut self, txn: &WriteTransaction) -> bool;
    /// Tells the caller: its outcome if the commit succeeded (`Ok`), else the commit's error.
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

struct Pending<T, F> {
    write: F,
    outcome: Option<StoreResult<T>>,
    reply: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: Fn(&WriteTransaction) -> StoreResult<T> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> bool {
        let outcome = (self.write)(txn);
        let applied = outcome.is_ok();
        self.outcome = Some(outcome);
        applied
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let outcome = match (self.outcome, committed) {
            (Some(Err(refused)), _) => Err(refused),
            (_, Err(error)) => Err(StoreError::Unavailable(error)),
            (Some(Ok(value)), Ok(())) => Ok(value),
            (None, Ok(())) => Err(StoreError::Unavailable("write was never run".into())),
        };
        let _ = self.reply.send(outcome);
    }
}

/// The commit thread and the queue to it.
pub(super) struct GroupCommit {
    jobs: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    pub(super) fn start(db: Arc<Database>) -> StoreResult<GroupCommit> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Job>>();
        let thread = std::thread::Builder::new()
            .name("store-commit".into())
            .spawn(move || commit_batches(&db, &queue))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the commit thread: {e}")))?;
        Ok(GroupCommit {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `write` atomically; `Ok` only once it is committed and on disk. `write` may run
    /// more than once (replays), only the last run is committed.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        write: impl Fn(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (reply, outcome) = tokio::sync::oneshot::channel();
        let job = Box::new(Pending {
            write,
            outcome: None,
            reply,
        });
        let stopped = || StoreError::Unavailable("the store's commit thread stopped".into());
        self.jobs
            .as_ref()
            .ok_or_else(stopped)?
            .send(job)
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Commits what is queued, batch by batch, until every sender is gone.
fn commit_batches(db: &Database, queue: &mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit(db, &mut batch).map_err(|e| e.to_string());
        for job in batch {
            job.finish(committed.clone());
        }
    }
}

/// Runs the batch in one transaction, replaying it without each refused write, and commits.
fn commit(db: &Database, batch: &mut [Box<dyn Job>]) -> StoreResult<()> {
    let mut refused = vec![false; batch.len()];
    loop {
        let mut txn = db.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let first_refusal = (0..batch.len())
            .filter(|&i| !refused[i])
            .find(|&i| !batch[i].apply(&txn));
        match first_refusal {
            None => return Ok(txn.commit()?),
            Some(i) => {
                refused[i] = true;
                txn.abort()?;
            }
        }
    }
}

impl Drop for GroupCommit {
    /// Waits for the thread to finish the queued writes and release the database file, so the
    /// same directory can be opened again right away.
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
