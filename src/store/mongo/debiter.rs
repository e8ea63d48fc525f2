//! Group commit for debits: operations of one owner created while that owner's last debit was
//! being written are paid for together.
//!
//! Every debit of an owner changes the owner's one document, so concurrent debits of one owner
//! would only take turns on it at the database. Here they take turns in the process instead,
//! and each turn pays for everything that queued meanwhile: one update of the owner
//! ([`debits::debit`]) and one `insert_many` for the operations and one for their assignments
//! ([`debits::complete`]), however many operations there are. The next turn of the owner starts
//! as soon as the debit is written, while the inserts of the last turn still run.
//!
//! When the balance does not cover a whole group, its operations are debited one by one, in the
//! order they arrived, so each caller hears exactly what a debit of its own would have said.
//! Nothing here is needed for correctness: every debit is a conditional single-document
//! update, safe against every other, on any instance.

use super::debits::{self, Clearer, Debit, Prepared};
use super::Handles;
use crate::domain::UserId;
use crate::store::{StoreError, StoreResult};
use std::collections::{HashMap, HashSet};
use tokio::sync::{mpsc, oneshot};

/// Most operations paid for in one update.
const MAX_GROUP: usize = 64;
/// Most probes over the operations of one group (an operation with more goes alone): bounds the
/// markers one update pushes onto the owner's document and the assignments of one insert.
const MAX_GROUP_PROBES: usize = 4096;

/// One caller's operation, waiting for its owner's turn.
struct Job {
    prepared: Prepared,
    reply: oneshot::Sender<StoreResult<()>>,
}

/// The queue to the grouping task, which ends when this is dropped.
pub(super) struct Debiter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Debiter {
    /// Starts the grouping task on the current runtime.
    pub(super) fn start(store: Handles) -> Debiter {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(run(store, queue));
        Debiter { jobs }
    }

    /// Pays for `prepared` and stores it (see `Store::create_operation`).
    pub(super) async fn create(&self, prepared: Prepared) -> StoreResult<()> {
        let (reply, outcome) = oneshot::channel();
        let gone = || StoreError::Unavailable("the operation writer stopped".into());
        self.jobs
            .send(Job { prepared, reply })
            .map_err(|_| gone())?;
        outcome.await.map_err(|_| gone())?
    }
}

async fn run(store: Handles, mut queue: mpsc::UnboundedReceiver<Job>) {
    let clearer = std::sync::Arc::new(Clearer::start(store.clone()));
    let (turn_over, mut turns_over) = mpsc::unbounded_channel::<UserId>();
    let mut waiting: HashMap<UserId, Vec<Job>> = HashMap::new();
    let mut busy: HashSet<UserId> = HashSet::new();
    loop {
        tokio::select! {
            biased;
            Some(owner) = turns_over.recv() => {
                busy.remove(&owner);
            }
            job = queue.recv() => {
                let Some(job) = job else { return };
                waiting.entry(job.prepared.owner).or_default().push(job);
                while let Ok(job) = queue.try_recv() {
                    waiting.entry(job.prepared.owner).or_default().push(job);
                }
            }
        }
        let ready: Vec<UserId> = waiting
            .keys()
            .filter(|owner| !busy.contains(owner))
            .copied()
            .collect();
        for owner in ready {
            let Some(jobs) = waiting.get_mut(&owner) else {
                continue;
            };
            let group = take_group(jobs);
            if jobs.is_empty() {
                waiting.remove(&owner);
            }
            busy.insert(owner);
            let (store, clearer, turn_over) = (store.clone(), clearer.clone(), turn_over.clone());
            tokio::spawn(async move {
                write(&store, &clearer, owner, group, || {
                    let _ = turn_over.send(owner);
                })
                .await;
            });
        }
    }
}

/// The oldest jobs that fit in one group: at least one.
fn take_group(jobs: &mut Vec<Job>) -> Vec<Job> {
    let mut probes = 0;
    let mut taken = 0;
    for job in jobs.iter().take(MAX_GROUP) {
        probes += job.prepared.probes;
        if taken > 0 && probes > MAX_GROUP_PROBES {
            break;
        }
        taken += 1;
    }
    jobs.drain(..taken).collect()
}

/// Debits the group, ends the owner's turn, then stores what was paid for and answers.
async fn write(
    store: &Handles,
    clearer: &Clearer,
    owner: UserId,
    group: Vec<Job>,
    end_turn: impl FnOnce(),
) {
    let debited = debit_each(store, owner, &group).await;
    end_turn();
    let paid: Vec<&Prepared> = group
        .iter()
        .zip(&debited)
        .filter(|(_, debit)| debit.is_ok())
        .map(|(job, _)| &job.prepared)
        .collect();
    let completed = debits::complete(store, &paid).await;
    for (job, debit) in group.into_iter().zip(debited) {
        // A failed insert leaves the marker: recovery completes the operation.
        let outcome = debit.and_then(|()| completed.clone());
        if outcome.is_ok() {
            clearer.completed(owner, job.prepared.id);
        }
        let _ = job.reply.send(outcome);
    }
}

/// Each job's debit: the whole group at once, or, if the balance does not cover it, one by one.
async fn debit_each(store: &Handles, owner: UserId, group: &[Job]) -> Vec<StoreResult<()>> {
    let all: Vec<&Prepared> = group.iter().map(|job| &job.prepared).collect();
    if all.len() > 1 {
        match debits::debit(store, owner, &all).await {
            Ok(Debit::Taken) => return all.iter().map(|_| Ok(())).collect(),
            Ok(Debit::NotCovered) => {}
            Err(error) => return all.iter().map(|_| Err(error.clone())).collect(),
        }
    }
    let mut each = Vec::with_capacity(all.len());
    for prepared in all {
        each.push(match debits::debit(store, owner, &[prepared]).await {
            Ok(Debit::Taken) => Ok(()),
            Ok(Debit::NotCovered) => Err(StoreError::NotEnoughCredits),
            Err(error) => Err(error),
        });
    }
    each
}
