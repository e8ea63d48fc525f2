//! Duplicates of a batch: results stored before, whatever else holds, and the rewards their
//! stored copies may still owe.

use super::super::settlement;
use super::super::{queries, Handles};
use super::Entry;
use crate::store::{Insertion, StoreError, StoreResult};
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Answers refused results that were stored before as duplicates.
pub(super) async fn answer(store: &Handles, entries: &mut [Entry]) -> StoreResult<()> {
    let refused: Vec<usize> = (0..entries.len())
        .filter(|&i| entries[i].refused())
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let stored = stored_copies(store, entries, &refused).await?;
    for (&i, stored) in refused.iter().zip(stored) {
        if stored.is_some() {
            entries[i].outcome = Some(Ok(Insertion::Duplicate));
        }
    }
    Ok(())
}

/// Before a duplicate is acknowledged, its stored copy's reward must be paid. A copy of one of
/// `own` settlements is paid by this batch before it answers; one of another batch of this
/// process is waited for; one of any other settlement still open (a batch that failed, a
/// previous run of this instance, another instance) is settled here through recovery, which is
/// safe even if its writer still runs. If that fails the duplicate is not acknowledged, and the probe sends it
/// again later.
pub(super) async fn settle(store: &Handles, entries: &mut [Entry], own: &[ObjectId]) {
    let duplicates: Vec<usize> = (0..entries.len())
        .filter(|&i| matches!(entries[i].outcome, Some(Ok(Insertion::Duplicate))))
        .collect();
    if duplicates.is_empty() {
        return;
    }
    let settled = async {
        let copies = stored_copies(store, entries, &duplicates).await?;
        let mut owing: Vec<ObjectId> = copies
            .into_iter()
            .filter_map(|copy| copy?.1)
            .filter(|s| !own.contains(s))
            .collect();
        owing.sort_unstable();
        owing.dedup();
        if owing.is_empty() {
            return Ok(owing);
        }
        settlement::still_open(store, &owing).await
    };
    let outcome = match settled.await {
        Ok(owing) => {
            let mut outcome = Ok(());
            for id in owing {
                wait_while_live(store, &id).await;
                let filter = doc! { "_id": id };
                let writers = settlement::Writers::MaybeRunning;
                if let Err(error) = settlement::recover(store, filter, writers).await {
                    outcome = Err(error);
                }
            }
            outcome
        }
        Err(error) => Err(error),
    };
    if let Err(error) = outcome {
        for &i in &duplicates {
            entries[i].outcome = Some(Err(copy(&error)));
        }
    }
}

pub(super) fn copy_outcome(outcome: &StoreResult<Insertion>) -> StoreResult<Insertion> {
    match outcome {
        Ok(insertion) => Ok(*insertion),
        Err(error) => Err(copy(error)),
    }
}

/// The same error for another result of the batch.
pub(super) fn copy(error: &StoreError) -> StoreError {
    match error {
        StoreError::Duplicate(what) => StoreError::Duplicate(what),
        StoreError::NotEnoughCredits => StoreError::NotEnoughCredits,
        StoreError::CreditOverflow => StoreError::CreditOverflow,
        StoreError::NotAssigned => StoreError::NotAssigned,
        StoreError::TooManyProbes(n) => StoreError::TooManyProbes(*n),
        StoreError::OverQuota(n) => StoreError::OverQuota(*n),
        StoreError::OutsideWindow { from, until } => StoreError::OutsideWindow {
            from: *from,
            until: *until,
        },
        StoreError::NotFound(what) => StoreError::NotFound(what),
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::Corrupt(why) => StoreError::Corrupt(why.clone()),
    }
}

/// Longest a duplicate waits for this process's batch holding its stored copy.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// Waits until no batch of this process writes settlement `id` (it then paid it, or failed and
/// left it to recovery).
async fn wait_while_live(store: &Handles, id: &ObjectId) {
    let deadline = Instant::now() + MAX_WAIT;
    while store.live.contains(id) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The `_id` and reward settlement (if it earned one) of the stored result with the keys of
/// `entries[i]`, for each of `indices`.
pub(super) async fn stored_copies(
    store: &Handles,
    entries: &[Entry],
    indices: &[usize],
) -> StoreResult<Vec<Option<(ObjectId, Option<ObjectId>)>>> {
    let mut codes_of: HashMap<(ObjectId, ObjectId), Vec<Bson>> = HashMap::new();
    for &i in indices {
        let doc = &entries[i].doc;
        codes_of
            .entry((doc.operation, doc.probe))
            .or_default()
            .push(doc.unique_code.as_str().into());
    }
    let groups = codes_of
        .into_iter()
        .map(|((operation, probe), codes)| (doc! { "operation": operation, "probe": probe }, codes))
        .collect();
    let projection = doc! { "operation": 1, "probe": 1, "unique_code": 1, "settlement": 1 };
    let stored: Vec<Document> = queries::find_grouped(
        &store.raw(super::super::RESULTS),
        "unique_code",
        groups,
        Some(projection),
    )
    .await?;
    Ok(indices
        .iter()
        .map(|&i| {
            let doc = &entries[i].doc;
            stored
                .iter()
                .find(|s| {
                    s.get_object_id("operation") == Ok(doc.operation)
                        && s.get_object_id("probe") == Ok(doc.probe)
                        && s.get_str("unique_code") == Ok(doc.unique_code.as_str())
                })
                .and_then(|s| {
                    let settlement = s.get_object_id("settlement").ok();
                    Some((s.get_object_id("_id").ok()?, settlement))
                })
        })
        .collect())
}
