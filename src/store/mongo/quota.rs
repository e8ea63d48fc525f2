//! An assignment's result quota, counted for a whole batch at once.
//!
//! The `results` count of an assignment moves before the batch's results are inserted, by one
//! conditional update ([`queries::update_if`]) that only adds while the count stays within the
//! maximum: concurrent batches, on any instance, can never count (and so store and pay) more.
//! Slots counted for results that then turn out to be duplicates, or whose insert failed, are
//! given back after the insert.
//!
//! So a result refused for want of slots is refused for good ([`StoreError::OverQuota`]) only
//! when the assignment *stores* its maximum ([`confirm_refusal`]). Otherwise the missing slots
//! are held by results being written (a re-sent duplicate takes a slot until its insert fails)
//! and the refusal is for now: [`StoreError::Unavailable`], and the probe sends it again. A
//! crash between counting and inserting leaves slots counted that no result holds; once the
//! count is older than [`STALE_COUNT`], the refusal puts it back to what is stored.

use super::documents::clamp_i64;
use super::queries::{self, Conditional};
use super::{errors, Handles};
use crate::store::{StoreError, StoreResult};
use bson::{doc, DateTime, Document};
use std::time::Duration;

/// Attempts before giving up when concurrent batches keep changing the count.
const MAX_TRIES: usize = 8;

/// Counts up to `wanted` more results of the assignment `key` whose maximum is `max`; returns
/// how many were granted (fewer only when the maximum is reached).
pub(super) async fn reserve(
    store: &Handles,
    key: &Document,
    max: u64,
    wanted: usize,
) -> StoreResult<usize> {
    let max = clamp_i64(max);
    let mut want = i64::try_from(wanted).unwrap_or(i64::MAX);
    for _ in 0..MAX_TRIES {
        if want <= 0 {
            return Ok(0);
        }
        // Room for `want` more: a count (an assignment stored before quotas has none, and
        // no room) at most `max - want`.
        let room = doc! { "$and": [
            { "$isNumber": "$results" },
            { "$lte": ["$results", max - want] },
        ] };
        let count = doc! {
            "results": { "$add": ["$results", want] },
            "counted_at": DateTime::now(),
        };
        let counted = queries::update_if(&store.assignments, key, room.into(), count).await?;
        if counted == Conditional::Changed {
            return Ok(usize::try_from(want).unwrap_or(0));
        }
        let current = store
            .assignments
            .find_one(key.clone())
            .await
            .map_err(errors::from_driver)?
            .and_then(|a| a.results)
            .unwrap_or(max);
        want = want.min(max.saturating_sub(current));
    }
    Err(StoreError::Unavailable(
        "the result count of an assignment kept changing; try again".into(),
    ))
}

/// Gives back `slots` counted but not used.
pub(super) async fn release(store: &Handles, key: &Document, slots: usize) -> StoreResult<()> {
    let slots = i64::try_from(slots).unwrap_or(i64::MAX);
    let give_back = doc! { "$inc": { "results": -slots } };
    errors::repeat_on_clash(|| store.assignments.update_one(key.clone(), give_back.clone()))
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

/// Longer than any batch takes from counting its slots to inserting or giving them back (the
/// driver's own timeouts end it well before): a count this old with fewer results stored was
/// left by a crash.
pub(super) const STALE_COUNT: Duration = Duration::from_secs(300);

/// The refusal of results of the assignment `key` (maximum `max`) that got no slot:
/// [`StoreError::OverQuota`] when it stores `max` results, otherwise a retryable
/// [`StoreError::Unavailable`] (see the module's documentation), after repairing a count left
/// by a crash.
pub(super) async fn confirm_refusal(store: &Handles, key: &Document, max: u64) -> StoreError {
    match stored_below_max(store, key, max).await {
        Ok(false) => StoreError::OverQuota(max),
        Ok(true) => StoreError::Unavailable(
            "the assignment's last result slots are held by results being written; send again"
                .into(),
        ),
        Err(error) => error,
    }
}

/// Whether fewer than `max` results of the assignment are stored; repairs a stale count.
async fn stored_below_max(store: &Handles, key: &Document, max: u64) -> StoreResult<bool> {
    let stored = store
        .results
        .count_documents(key.clone())
        .await
        .map_err(errors::from_driver)?;
    if stored >= max {
        return Ok(false);
    }
    let assignment = store
        .assignments
        .find_one(key.clone())
        .await
        .map_err(errors::from_driver)?;
    let Some(assignment) = assignment else {
        return Ok(true);
    };
    let (Some(counted), Some(at)) = (assignment.results, assignment.counted_at) else {
        return Ok(true);
    };
    let stale = DateTime::now().timestamp_millis() - at.timestamp_millis()
        > i64::try_from(STALE_COUNT.as_millis()).unwrap_or(i64::MAX);
    let stored = clamp_i64(stored);
    if stale && counted > stored {
        // Only if nobody counted since: a live batch's reservation is never undone.
        let mut unchanged = key.clone();
        unchanged.insert("results", counted);
        unchanged.insert("counted_at", at);
        let repair = doc! { "$set": { "results": stored } };
        store
            .assignments
            .update_one(unchanged, repair)
            .await
            .map_err(errors::from_driver)?;
        tracing::warn!(counted, stored, "result count left by a crash repaired");
    }
    Ok(true)
}
