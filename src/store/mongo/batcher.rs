//! Group commit for results: the results that arrive while a batch is written form the next.
//!
//! Each durable write (majority, journaled) costs the database a journal flush; one per result
//! caps ingest at the database's `insert_one` rate however many probes send. Results from every
//! link of this process queue here, and [`MAX_BATCHES`] batches of up to [`MAX_BATCH`] results
//! are written at once ([`super::ingest`]); each caller hears its own outcome once its batch is
//! durable and paid. Nothing here is needed for correctness across instances: every batch is
//! safe against every other, on any instance.

use super::ingest;
use super::Handles;
use crate::store::{Insertion, MeasurementResult, Reward, StoreError, StoreResult};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Most results in one batch: bounds the size of the owner's settlement entry and of the
/// insert (the driver splits it into messages of MongoDB's maximum size anyway).
const MAX_BATCH: usize = 512;
/// Batches written at once; more results wait, and form bigger batches.
const MAX_BATCHES: usize = 4;

/// One caller's result, waiting for its batch.
pub(super) struct Job {
    pub(super) result: MeasurementResult,
    pub(super) reward: Reward,
    pub(super) reply: oneshot::Sender<StoreResult<Insertion>>,
}

/// The queue to the batching task, which ends when this is dropped.
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Batcher {
    /// Starts the batching task on the current runtime.
    pub(super) fn start(store: Handles) -> Batcher {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, queue));
        Batcher { jobs }
    }

    /// Stores `result` and pays `reward` with the next batch (see `Store::insert_result`).
    pub(super) async fn insert(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion> {
        let (reply, outcome) = oneshot::channel();
        let job = Job {
            result: result.clone(),
            reward: *reward,
            reply,
        };
        let gone = || StoreError::Unavailable("the result writer stopped".into());
        self.jobs.send(job).map_err(|_| gone())?;
        outcome.await.map_err(|_| gone())?
    }
}

async fn run(store: Handles, mut queue: mpsc::UnboundedReceiver<Job>) {
    let slots = Arc::new(Semaphore::new(MAX_BATCHES));
    while let Some(first) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let store = store.clone();
        tokio::spawn(async move {
            let settled = ingest::write(&store, batch).await;
            drop(slot);
            ingest::finish(&store, settled).await;
        });
    }
}
