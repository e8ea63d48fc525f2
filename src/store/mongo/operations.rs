//! Operations and their assignments to probes.

use super::documents::{state_name, AssignmentDoc};
use super::probes::{adjust_in_use, InUse};
use super::queries::{self, Conditional};
use super::Handles;
use crate::domain::{OperationId, ProbeId};
use crate::store::{
    AssignmentState, AssignmentStep, Operation, ResultAllowance, StoreError, StoreResult,
};
use bson::{doc, DateTime as BsonDateTime, Document};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// One `Assigned` assignment per distinct probe (a probe listed twice is assigned once).
pub(super) fn assignments_of(operation: &Operation) -> Vec<AssignmentDoc> {
    let allowance = ResultAllowance::of(operation);
    let mut seen = HashSet::new();
    operation
        .probes
        .iter()
        .filter(|probe| seen.insert(**probe))
        .map(|probe| AssignmentDoc {
            operation: operation.id.oid(),
            probe: probe.oid(),
            state: AssignmentState::Assigned,
            allowance: Some(allowance.into()),
            results: Some(0),
            counted_at: None,
        })
        .collect()
}

/// Two reads, not one snapshot: an assignment created or accepted between them is simply seen
/// (or not) by the next call, as it would be had it happened a moment later.
pub(super) async fn pending_operations(
    store: &Handles,
    probe: ProbeId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Operation>> {
    let assigned = doc! {
        "probe": probe.oid(),
        "state": state_name(AssignmentState::Assigned),
    };
    let assignments = queries::find_in_order(&store.assignments, assigned, None).await?;
    if assignments.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<_> = assignments.iter().map(|a| a.operation).collect();
    // Not over: the stop minute ends after `now` (`stop_time + STOP_MINUTE > now`).
    let over_before = now - probe_protocol::params::STOP_MINUTE;
    let filter = doc! {
        "_id": { "$in": ids },
        "stop_time": { "$gt": BsonDateTime::from_chrono(over_before) },
    };
    let docs = queries::find_in_order(&store.operations, filter, None).await?;
    docs.into_iter().map(Operation::try_from).collect()
}

pub(super) async fn assignment(
    store: &Handles,
    operation: OperationId,
    probe: ProbeId,
) -> StoreResult<Option<AssignmentState>> {
    let found = queries::find_one(&store.assignments, assignment_key(operation, probe)).await?;
    Ok(found.map(|a| a.state))
}

/// The state change, then the in-use credits: single-document updates, no transaction. The
/// move is one conditional update per earlier state, the latest first (a probe finishes what it
/// accepted), each of which changes the state only if it still is that earlier one: of
/// concurrent moves each state is entered once, and only the move that entered it, knowing
/// where from, adjusts the credits. A crash between the two leaves the probe's in-use credits
/// unadjusted; they belong to its link, which died with the server, and the probe reports its
/// own in-use credits when it links again.
pub(super) async fn advance_assignment(store: &Handles, step: AssignmentStep) -> StoreResult<bool> {
    use AssignmentState::{Accepted, Assigned, Finished};
    let key = assignment_key(step.operation, step.probe);
    let to = state_name(step.to);
    // States only move forward, so a concurrent move can send this round again at most twice.
    for _ in 0..3 {
        for from in [Accepted, Assigned].into_iter().filter(|s| *s < step.to) {
            let condition = doc! { "$eq": ["$state", state_name(from)] }.into();
            let moved =
                queries::update_if(&store.assignments, &key, condition, doc! { "state": to })
                    .await?;
            match moved {
                Conditional::Missing => return Err(StoreError::NotAssigned),
                Conditional::Unchanged => continue,
                Conditional::Changed => {}
            }
            let change = match (from, step.to) {
                (Assigned, Accepted) => Some(InUse::Take),
                (Accepted, Finished) => Some(InUse::Release),
                _ => None,
            };
            if let Some(change) = change {
                adjust_in_use(store, step.probe, change, step.credits).await?;
            }
            return Ok(true);
        }
        // In none of the earlier states: already there, unless another move got in between.
        match queries::find_one(&store.assignments, key.clone()).await? {
            None => return Err(StoreError::NotAssigned),
            Some(found) if found.state >= step.to => return Ok(false),
            Some(_) => {}
        }
    }
    Err(StoreError::Unavailable(
        "the assignment kept changing state; report again".into(),
    ))
}

pub(super) fn assignment_key(operation: OperationId, probe: ProbeId) -> Document {
    doc! { "operation": operation.oid(), "probe": probe.oid() }
}
