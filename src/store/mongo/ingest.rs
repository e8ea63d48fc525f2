//! Storing a batch of results without a transaction.
//!
//! For a batch (the results that queued up while the previous batch was written, see
//! `batcher`):
//! 1. the assignments of the batch are read, one query per operation: a result without one is
//!    refused, as is one measured outside its window;
//! 2. each assignment's quota is counted for all of its results at once ([`super::quota`]);
//! 3. one settlement per owner is opened ([`super::settlement`]), listing the results about to
//!    be inserted; the results are inserted with one unordered `insert_many`, each naming its
//!    settlement; the unique (operation, probe, unique_code) index finds duplicates;
//! 4. each owner is paid once for the batch, and only then are the callers answered; closing
//!    the settlements follows, after the answer.
//!
//! A result refused in step 1 or 2 is looked up, so that a duplicate is answered as one whatever
//! else holds. A crash after step 3 leaves open settlements, which recovery pays.

use super::batcher::Job;
use super::documents::{AssignmentDoc, ResultDoc};
use super::settlement::{self, Held, Settlement, SettlementDoc, Unpaid};
use super::{errors, indexes, queries, quota, Handles};
use crate::store::{Insertion, Reward, StoreError, StoreResult};
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use duplicates::{copy, copy_outcome};
use mongodb::error::ErrorKind;
use std::collections::{HashMap, HashSet};

mod duplicates;

type Pair = (ObjectId, ObjectId);

/// One result of the batch and what became of it.
pub(super) struct Entry {
    doc: ResultDoc,
    reward: Reward,
    /// Counted against its assignment's quota (to be given back if not inserted).
    counted: bool,
    inserted: bool,
    outcome: Option<StoreResult<Insertion>>,
}

impl Entry {
    fn pair(&self) -> Pair {
        (self.doc.operation, self.doc.probe)
    }

    pub(super) fn refused(&self) -> bool {
        matches!(
            self.outcome,
            Some(Err(StoreError::NotAssigned
                | StoreError::OverQuota(_)
                | StoreError::OutsideWindow { .. }))
        )
    }
}

/// Writes the batch and answers every job; returns the paid settlements, for [`finish`].
pub(super) async fn write(store: &Handles, jobs: Vec<Job>) -> Vec<Settlement> {
    let mut entries = Vec::with_capacity(jobs.len());
    let mut replies = Vec::with_capacity(jobs.len());
    for job in jobs {
        match ResultDoc::try_from(&job.result) {
            Ok(doc) => {
                entries.push(Entry {
                    doc,
                    reward: job.reward,
                    counted: false,
                    inserted: false,
                    outcome: None,
                });
                replies.push(job.reply);
            }
            Err(error) => drop(job.reply.send(Err(error))),
        }
    }
    let settled = match store_batch(store, &mut entries).await {
        Ok(settled) => settled,
        Err(error) => {
            for entry in entries.iter_mut().filter(|e| e.outcome.is_none()) {
                entry.outcome = Some(Err(copy(&error)));
            }
            Vec::new()
        }
    };
    for (entry, reply) in entries.into_iter().zip(replies) {
        let outcome = entry.outcome.unwrap_or_else(|| {
            Err(StoreError::Unavailable(
                "the result's batch ended without an answer".into(),
            ))
        });
        let _ = reply.send(outcome);
    }
    settled
}

/// Removes the reward markers of paid settlements (what is left is recovery's).
pub(super) async fn finish(store: &Handles, settled: Vec<Settlement>) {
    let finishing = settled.iter().map(|s| finish_one(store, s));
    futures::future::join_all(finishing).await;
}

/// Tries of removing one settlement's markers before leaving them to recovery.
const FINISH_TRIES: u64 = 4;

async fn finish_one(store: &Handles, settled: &Settlement) {
    for tries in 1..=FINISH_TRIES {
        match settlement::finish(store, settled).await {
            Ok(()) => return,
            Err(error) if tries == FINISH_TRIES => {
                tracing::warn!(%error, "reward markers left for recovery");
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(250 * tries)).await,
        }
    }
}

/// Steps 1 to 4; returns the settlements paid, to be finished.
async fn store_batch(store: &Handles, entries: &mut [Entry]) -> StoreResult<Vec<Settlement>> {
    admit(store, entries).await?;
    // This batch's settlements stay registered as live until it ends, paid or not.
    let live = insert(store, entries).await?;
    close_unused(store, entries, live.ids()).await;
    give_back(store, entries, |e| e.counted && !e.inserted).await?;
    duplicates::answer(store, entries).await?;
    confirm_refusals(store, entries).await;
    duplicates::settle(store, entries, live.ids()).await;
    pay(store, entries).await
}

/// Step 1 and 2: refuses what has no assignment, lies outside its window or past its quota.
async fn admit(store: &Handles, entries: &mut [Entry]) -> StoreResult<()> {
    let mut pairs: Vec<Pair> = entries.iter().map(Entry::pair).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut probes_of: HashMap<ObjectId, Vec<Bson>> = HashMap::new();
    for &(operation, probe) in &pairs {
        probes_of.entry(operation).or_default().push(probe.into());
    }
    let groups = probes_of
        .into_iter()
        .map(|(operation, probes)| (doc! { "operation": operation }, probes))
        .collect();
    let assignments: Vec<AssignmentDoc> =
        queries::find_grouped(&store.assignments, "probe", groups, None).await?;
    let assignments: HashMap<Pair, AssignmentDoc> = assignments
        .into_iter()
        .map(|a| ((a.operation, a.probe), a))
        .collect();
    let mut counted: HashMap<Pair, Vec<usize>> = HashMap::new();
    for (i, entry) in entries.iter_mut().enumerate() {
        let Some(assignment) = assignments.get(&entry.pair()) else {
            entry.outcome = Some(Err(StoreError::NotAssigned));
            continue;
        };
        let Some(allowance) = &assignment.allowance else {
            continue; // stored before quotas: no limit
        };
        match allowance.allowance().admit(0, entry.doc.measured_at()) {
            Ok(()) => counted.entry(entry.pair()).or_default().push(i),
            Err(refusal) => entry.outcome = Some(Err(refusal)),
        }
    }
    let reservations = counted.iter().map(|(&(o, p), members)| {
        let max = assignments[&(o, p)]
            .allowance
            .as_ref()
            .map_or(0, |a| a.allowance().max_results);
        async move {
            let granted = quota::reserve(store, &key(o, p), max, members.len()).await?;
            Ok::<_, StoreError>((members, granted, max))
        }
    });
    for reserved in futures::future::join_all(reservations).await {
        let (members, granted, max) = reserved?;
        for (n, &i) in members.iter().enumerate() {
            if n < granted {
                entries[i].counted = true;
            } else {
                entries[i].outcome = Some(Err(StoreError::OverQuota(max)));
            }
        }
    }
    Ok(())
}

/// Results refused for want of quota slots, and not duplicates: refused for good only if their
/// assignment stores its maximum (see [`quota::confirm_refusal`]).
async fn confirm_refusals(store: &Handles, entries: &mut [Entry]) {
    let mut refused: HashMap<Pair, (u64, Vec<usize>)> = HashMap::new();
    for (i, entry) in entries.iter().enumerate() {
        if let Some(Err(StoreError::OverQuota(max))) = entry.outcome {
            refused
                .entry(entry.pair())
                .or_insert((max, Vec::new()))
                .1
                .push(i);
        }
    }
    let confirmations = refused
        .into_iter()
        .map(|((o, p), (max, members))| async move {
            (
                quota::confirm_refusal(store, &key(o, p), max).await,
                members,
            )
        });
    for (refusal, members) in futures::future::join_all(confirmations).await {
        for i in members {
            entries[i].outcome = Some(Err(copy(&refusal)));
        }
    }
}

/// Step 3: opens the batch's settlements, then one unordered insert of every admitted result;
/// returns the settlements, registered as live.
async fn insert(store: &Handles, entries: &mut [Entry]) -> StoreResult<Held> {
    let mut settlements: HashMap<ObjectId, SettlementDoc> = HashMap::new();
    let todo: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].outcome.is_none())
        .collect();
    for &i in &todo {
        let entry = &mut entries[i];
        let owner = entry.reward.user.oid();
        let settlement = settlements.entry(owner).or_insert_with(|| SettlementDoc {
            id: ObjectId::new(),
            owner,
            instance: store.instance.to_string(),
            results: Vec::new(),
            credits: Vec::new(),
        });
        settlement.results.push(entry.doc.id);
        settlement.credits.push(entry.reward.credits.as_i64());
        entry.doc.settlement = Some(settlement.id);
    }
    let settlements: Vec<SettlementDoc> = settlements.into_values().collect();
    let held = store.live.hold(settlements.iter().map(|s| s.id));
    if todo.is_empty() {
        return Ok(held);
    }
    let opened = std::time::Instant::now();
    settlement::open(store, &settlements).await?;
    if opened.elapsed() > settlement::MAX_OPEN_TO_INSERT {
        // Recovery may have fenced them already; a late insert would only be paid later.
        return Err(StoreError::Unavailable(
            "the database took too long to open the batch's settlements".into(),
        ));
    }
    let inserted = store
        .results
        .insert_many(todo.iter().map(|&i| &entries[i].doc))
        .ordered(false)
        .await;
    let failures = match inserted {
        Ok(_) => Vec::new(),
        Err(error) => match &*error.kind {
            ErrorKind::InsertMany(failure) if failure.write_concern_error.is_none() => failure
                .write_errors
                .iter()
                .flatten()
                .map(|w| (w.index, w.code, w.message.clone()))
                .collect(),
            // Outcome unknown: whatever was inserted stays marked, and recovery pays it.
            _ => return Err(errors::from_driver(error)),
        },
    };
    for &i in &todo {
        entries[i].inserted = true;
    }
    let mut clashes = Vec::new();
    for (index, code, message) in failures {
        let entry = &mut entries[todo[index]];
        entry.inserted = false;
        entry.outcome = Some(match errors::is_duplicate_code(code) {
            true if message.contains(indexes::RESULT_CODE) => {
                clashes.push(todo[index]);
                Ok(Insertion::Duplicate)
            }
            true => Err(StoreError::Duplicate("result")),
            false => Err(errors::from_write_error(code, &message)),
        });
    }
    confirm_duplicates(store, entries, &clashes).await?;
    Ok(held)
}

/// Closes the batch's settlements under which nothing was inserted (all of their results were
/// duplicates): they have nothing to pay, and left open they would be fenced by recovery. If
/// closing fails, recovery closes them later.
async fn close_unused(store: &Handles, entries: &[Entry], opened: &[ObjectId]) {
    let used: HashSet<ObjectId> = entries
        .iter()
        .filter(|e| e.inserted)
        .filter_map(|e| e.doc.settlement)
        .collect();
    let unused: Vec<ObjectId> = opened
        .iter()
        .copied()
        .filter(|id| !used.contains(id))
        .collect();
    if unused.is_empty() {
        return;
    }
    if let Err(error) = settlement::close_all(store, &unused).await {
        tracing::warn!(%error, "settlements of duplicates left for recovery");
    }
}

/// Checks each reported duplicate against what is stored: SecantusDB (the test server) has
/// been seen to report a duplicate key for a document it did insert. Our own copy stored (its id,
/// marked by this batch) means inserted; nothing stored means not inserted, to be sent again.
async fn confirm_duplicates(
    store: &Handles,
    entries: &mut [Entry],
    clashes: &[usize],
) -> StoreResult<()> {
    if clashes.is_empty() {
        return Ok(());
    }
    let stored = duplicates::stored_copies(store, entries, clashes).await?;
    for (&i, stored) in clashes.iter().zip(stored) {
        let entry = &mut entries[i];
        let ours = entry.doc.settlement;
        match stored {
            // This very insert: same id, marked by this batch.
            Some((id, settlement))
                if id == entry.doc.id && settlement.is_some() && settlement == ours =>
            {
                entry.inserted = true;
                entry.outcome = None;
            }
            Some(_) => {}
            None => {
                entry.outcome = Some(Err(StoreError::Unavailable(
                    "the database reported a duplicate it does not hold; send again".into(),
                )))
            }
        }
    }
    Ok(())
}

/// Gives back the quota slots of the entries `select` picks, per assignment.
async fn give_back(
    store: &Handles,
    entries: &mut [Entry],
    select: impl Fn(&Entry) -> bool,
) -> StoreResult<()> {
    let mut unused: HashMap<Pair, usize> = HashMap::new();
    for entry in entries.iter_mut().filter(|e| select(e)) {
        *unused.entry(entry.pair()).or_default() += 1;
        entry.counted = false;
    }
    let releases = unused
        .into_iter()
        .map(|((o, p), slots)| async move { quota::release(store, &key(o, p), slots).await });
    futures::future::try_join_all(releases).await.map(drop)
}

/// Step 4: pays each owner once for its inserted results; answers them.
async fn pay(store: &Handles, entries: &mut [Entry]) -> StoreResult<Vec<Settlement>> {
    let mut owed: HashMap<ObjectId, (Settlement, Vec<usize>)> = HashMap::new();
    for (i, entry) in entries.iter().enumerate().filter(|(_, e)| e.inserted) {
        let Some(id) = entry.doc.settlement else {
            continue;
        };
        let (settlement, members) = owed.entry(id).or_insert_with(|| {
            let settlement = Settlement {
                id,
                owner: entry.reward.user,
                results: Vec::new(),
                credits: 0,
            };
            (settlement, Vec::new())
        });
        settlement.results.push(entry.doc.id);
        settlement.credits = settlement
            .credits
            .saturating_add(entry.reward.credits.as_i64());
        members.push(i);
    }
    let payments = owed.into_values().map(|(settlement, members)| async move {
        let paid = settlement::pay(store, &settlement).await;
        (settlement, members, paid)
    });
    let mut settled = Vec::new();
    let mut undo = Vec::new();
    for (settlement, members, paid) in futures::future::join_all(payments).await {
        let outcome = match paid {
            Ok(Ok(())) => Ok(Insertion::Stored),
            Ok(Err(Unpaid::Fenced)) => Err(StoreError::Unavailable(
                "the result is stored; its reward is being paid by recovery".into(),
            )),
            Ok(Err(Unpaid::Overflow)) => Err(StoreError::CreditOverflow),
            Ok(Err(Unpaid::NoOwner)) => Err(StoreError::NotFound("user")),
            // Unknown: the results stay marked, and recovery pays them.
            Err(error) => Err(error),
        };
        if matches!(
            outcome,
            Err(StoreError::CreditOverflow | StoreError::NotFound(_))
        ) {
            undo.push(settlement.id);
        }
        for &i in &members {
            entries[i].outcome = Some(copy_outcome(&outcome));
        }
        if outcome.is_ok() {
            settled.push(settlement);
        }
    }
    if !undo.is_empty() {
        unstore(store, entries, &undo).await?;
    }
    Ok(settled)
}

/// Deletes the results of settlements that cannot be paid (the owner is gone or at the maximum
/// balance) and gives back their quota: such a result is refused, not stored unpaid.
async fn unstore(
    store: &Handles,
    entries: &mut [Entry],
    settlements: &[ObjectId],
) -> StoreResult<()> {
    let of_settlements = |e: &Entry| e.doc.settlement.is_some_and(|s| settlements.contains(&s));
    let ids: Vec<ObjectId> = entries
        .iter()
        .filter(|e| e.inserted && of_settlements(e))
        .map(|e| e.doc.id)
        .collect();
    let unpaid = doc! { "_id": { "$in": ids }, "settlement": { "$in": settlements } };
    store
        .results
        .delete_many(unpaid)
        .await
        .map_err(errors::from_driver)?;
    settlement::close_all(store, settlements).await?;
    give_back(store, entries, |e| {
        e.counted && e.inserted && of_settlements(e)
    })
    .await
}

fn key(operation: ObjectId, probe: ObjectId) -> Document {
    doc! { "operation": operation, "probe": probe }
}
