//! An assignment's result quota, counted for a whole batch at once.
//!
//! The `results` count of an assignment moves before the batch's results are inserted, by one
//! conditional `$inc` that only matches while the count stays within the maximum: concurrent
//! batches, on any instance, can never count (and so store and pay) more. Slots counted for
//! results that then turn out to be duplicates, or whose insert failed, are given back after the
//! insert. A crash between the two leaves those few slots counted: the assignment may then be
//! refused its last results as over quota, never granted more than its maximum.

use super::documents::clamp_i64;
use super::{errors, Handles};
use crate::store::{StoreError, StoreResult};
use bson::{doc, Document};

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
        let mut room = key.clone();
        room.insert("results", doc! { "$lte": max - want });
        let count = doc! { "$inc": { "results": want } };
        let counted =
            errors::repeat_on_clash(|| store.assignments.update_one(room.clone(), count.clone()))
                .await
                .map_err(errors::from_driver)?;
        if counted.matched_count == 1 {
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
