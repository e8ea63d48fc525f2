//! Many steps of one probe's assignments at once (`Store::advance_assignments`): a probe that
//! reports several operations accepted (or finished) in a row has them moved with one
//! `update_many` and one adjustment of its in-use credits, instead of two writes per operation.
//!
//! The update matches only assignments in the state each step usually leaves (`assigned` for
//! `accepted`, `accepted` for `finished`) and marks what it moved with a fresh token, so each
//! assignment still enters each state once, and only the ones moved here adjust the in-use
//! credits. What it did not move (a repeated report, a `finished` without `accepted`, a step
//! another link of the probe took meanwhile, an operation not assigned) goes through
//! [`advance_assignment`] one by one, which answers exactly as for a report of its own.
//!
//! Nothing here reads the probe's assignments by `{probe, operation: {$in}}`: SecantusDB serves
//! that from the `probe` prefix of an index, a scan of every assignment the probe ever had
//! (1.1 s for 20,000), which made the first version of this batching slower than none.

use super::documents::state_name;
use super::operations::{advance_assignment, assignment_key};
use super::probes::{adjust_in_use, InUse};
use super::{errors, Handles, ASSIGNMENTS};
use crate::domain::ProbeId;
use crate::store::{AssignmentState, AssignmentStep, StoreResult};
use bson::doc;
use bson::oid::ObjectId;
use std::collections::HashSet;

pub(super) async fn advance_assignments(
    store: &Handles,
    steps: &[AssignmentStep],
) -> StoreResult<Vec<StoreResult<bool>>> {
    let mut outcomes = Vec::with_capacity(steps.len());
    let mut rest = steps;
    while let Some(first) = rest.first() {
        // A run of steps of one probe to one state, each operation once.
        let mut seen = HashSet::new();
        let run = rest
            .iter()
            .take_while(|s| s.probe == first.probe && s.to == first.to && seen.insert(s.operation))
            .count();
        let (group, next) = rest.split_at(run);
        match usual_origin(first.to) {
            Some(from) if group.len() > 1 => {
                match advance_group(store, first.probe, from, first.to, group).await {
                    Ok(moved) => outcomes.extend(moved),
                    Err(error) => outcomes.extend(group.iter().map(|_| Err(error.clone()))),
                }
            }
            _ => {
                for step in group {
                    outcomes.push(advance_assignment(store, *step).await);
                }
            }
        }
        rest = next;
    }
    Ok(outcomes)
}

/// The state a step to `to` usually leaves, and how that move changes the in-use credits.
fn usual_origin(to: AssignmentState) -> Option<(AssignmentState, InUse)> {
    match to {
        AssignmentState::Accepted => Some((AssignmentState::Assigned, InUse::Take)),
        AssignmentState::Finished => Some((AssignmentState::Accepted, InUse::Release)),
        AssignmentState::Assigned => None,
    }
}

/// Moves the assignments of `group` (all of `probe`, all `to`, distinct operations) that are
/// in `from`, then the rest one by one.
async fn advance_group(
    store: &Handles,
    probe: ProbeId,
    (from, change): (AssignmentState, InUse),
    to: AssignmentState,
    group: &[AssignmentStep],
) -> StoreResult<Vec<StoreResult<bool>>> {
    let operations: Vec<ObjectId> = group.iter().map(|s| s.operation.oid()).collect();
    let moved = move_from(store, probe, from, to, &operations).await?;
    let credits = group
        .iter()
        .filter(|s| moved.contains(&s.operation.oid()))
        .fold(0u64, |sum, s| sum.saturating_add(s.credits));
    if credits > 0 {
        adjust_in_use(store, probe, change, credits).await?;
    }
    let mut outcomes = Vec::with_capacity(group.len());
    for step in group {
        outcomes.push(if moved.contains(&step.operation.oid()) {
            Ok(true)
        } else {
            advance_assignment(store, *step).await
        });
    }
    Ok(outcomes)
}

/// Moves those of `operations` whose assignment to `probe` is in state `from` to `to`; returns
/// the ones moved here.
async fn move_from(
    store: &Handles,
    probe: ProbeId,
    from: AssignmentState,
    to: AssignmentState,
    operations: &[ObjectId],
) -> StoreResult<HashSet<ObjectId>> {
    let token = ObjectId::new();
    // Served by the (probe, state) index: only the probe's assignments in `from`.
    let filter = doc! {
        "probe": probe.oid(),
        "state": state_name(from),
        "operation": { "$in": operations },
    };
    let update = doc! { "$set": { "state": state_name(to), "moved_by": token } };
    let updated = errors::repeat_on_clash(|| {
        store
            .assignments
            .update_many(filter.clone(), update.clone())
    })
    .await
    .map_err(errors::from_driver)?;
    if updated.modified_count == operations.len() as u64 {
        return Ok(operations.iter().copied().collect());
    }
    if updated.modified_count == 0 {
        return Ok(HashSet::new());
    }
    // Some were elsewhere: the token says which moved here, read by each one's own key.
    let reads = operations.iter().map(|&operation| {
        let mut mine = assignment_key(operation.into(), probe);
        mine.insert("moved_by", token);
        async move {
            let found = store
                .raw(ASSIGNMENTS)
                .find_one(mine)
                .projection(doc! { "_id": 1 })
                .await?;
            Ok::<_, mongodb::error::Error>(found.map(|_| operation))
        }
    });
    let found = futures::future::try_join_all(reads)
        .await
        .map_err(errors::from_driver)?;
    Ok(found.into_iter().flatten().collect())
}
