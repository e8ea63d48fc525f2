//! Many steps of one probe's assignments at once (`Store::advance_assignments`): a probe that
//! reports several operations accepted (or finished) in a row has them moved with one read,
//! one `update_many` per earlier state and one adjustment of its in-use credits, instead of
//! two writes per operation.
//!
//! Each assignment still enters each state once: the update only matches assignments in the
//! state the read saw, and marks what it moved with a fresh token, so that when a concurrent
//! move (another link of the probe, on any instance) took some of them, exactly the ones moved
//! here are known, and only those adjust the in-use credits.

use super::documents::state_name;
use super::operations::advance_assignment;
use super::probes::{adjust_in_use, InUse};
use super::{errors, queries, Handles};
use crate::domain::ProbeId;
use crate::store::{AssignmentState, AssignmentStep, StoreError, StoreResult};
use bson::oid::ObjectId;
use bson::doc;
use futures::TryStreamExt;
use std::collections::{HashMap, HashSet};

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
        if group.len() == 1 {
            outcomes.push(advance_assignment(store, group[0]).await);
        } else {
            match advance_group(store, first.probe, first.to, group).await {
                Ok(moved) => outcomes.extend(moved),
                Err(error) => outcomes.extend(group.iter().map(|_| Err(error.clone()))),
            }
        }
        rest = next;
    }
    Ok(outcomes)
}

/// Moves the assignments of `group` (all of `probe`, all `to`, distinct operations).
async fn advance_group(
    store: &Handles,
    probe: ProbeId,
    to: AssignmentState,
    group: &[AssignmentStep],
) -> StoreResult<Vec<StoreResult<bool>>> {
    use AssignmentState::{Accepted, Assigned, Finished};
    let operations: Vec<ObjectId> = group.iter().map(|s| s.operation.oid()).collect();
    let states = states_of(store, probe, &operations).await?;
    let mut moved: HashSet<ObjectId> = HashSet::new();
    let mut in_use: HashMap<ObjectId, InUse> = HashMap::new();
    for from in [Assigned, Accepted].into_iter().filter(|from| *from < to) {
        let candidates: Vec<ObjectId> = operations
            .iter()
            .filter(|o| states.get(*o) == Some(&from))
            .copied()
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let change = match (from, to) {
            (Assigned, Accepted) => Some(InUse::Take),
            (Accepted, Finished) => Some(InUse::Release),
            _ => None,
        };
        for operation in move_from(store, probe, from, to, &candidates).await? {
            moved.insert(operation);
            if let Some(change) = change {
                in_use.insert(operation, change);
            }
        }
    }
    for change in [InUse::Take, InUse::Release] {
        let credits: u64 = group
            .iter()
            .filter(|s| in_use.get(&s.operation.oid()) == Some(&change))
            .fold(0u64, |sum, s| sum.saturating_add(s.credits));
        if credits > 0 {
            adjust_in_use(store, probe, change, credits).await?;
        }
    }
    Ok(group
        .iter()
        .map(|s| {
            let operation = s.operation.oid();
            match states.get(&operation) {
                None => Err(StoreError::NotAssigned),
                Some(_) => Ok(moved.contains(&operation)),
            }
        })
        .collect())
}

/// The current state of each of the probe's assignments for `operations` that exists.
async fn states_of(
    store: &Handles,
    probe: ProbeId,
    operations: &[ObjectId],
) -> StoreResult<HashMap<ObjectId, AssignmentState>> {
    let filter = doc! { "probe": probe.oid(), "operation": { "$in": operations } };
    let found: Vec<_> = store
        .assignments
        .find(filter)
        .await
        .map_err(errors::from_driver)?
        .try_collect()
        .await
        .map_err(errors::from_driver)?;
    Ok(found.into_iter().map(|a| (a.operation, a.state)).collect())
}

/// Moves those of `candidates` still in state `from` to `to`; returns the ones moved here.
async fn move_from(
    store: &Handles,
    probe: ProbeId,
    from: AssignmentState,
    to: AssignmentState,
    candidates: &[ObjectId],
) -> StoreResult<Vec<ObjectId>> {
    let token = ObjectId::new();
    let filter = doc! {
        "probe": probe.oid(),
        "operation": { "$in": candidates },
        "state": state_name(from),
    };
    let update = doc! { "$set": { "state": state_name(to), "moved_by": token } };
    let updated = errors::repeat_on_clash(|| {
        store
            .assignments
            .update_many(filter.clone(), update.clone())
    })
    .await
    .map_err(errors::from_driver)?;
    if updated.modified_count == candidates.len() as u64 {
        return Ok(candidates.to_vec());
    }
    // Some moved elsewhere meanwhile: the token says which moved here.
    let mine = doc! { "probe": probe.oid(), "operation": { "$in": candidates }, "moved_by": token };
    queries::object_ids(store, super::ASSIGNMENTS, mine, "operation").await
}
