//! Operations and their assignments to probes.

use super::accounts;
use super::documents::{state_name, AssignmentDoc, OperationDoc};
use super::probes::{adjust_in_use, InUse};
use super::transaction::{self, Abort};
use super::{errors, queries, MongoStore};
use crate::domain::{OperationId, ProbeId};
use crate::store::{AssignmentState, Operation, ResultAllowance, StoreError, StoreResult};
use bson::{doc, DateTime as BsonDateTime, Document};
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// The debit, the operation and its assignments in one transaction: a crash or a refusal in
/// between leaves neither a paid operation without assignments nor an unpaid one.
pub(super) async fn create_operation(store: &MongoStore, operation: &Operation) -> StoreResult<()> {
    let document = OperationDoc::try_from(operation)?;
    let assignments = assignments_of(operation);
    let context = (store, operation, document, assignments);
    transaction::run(&store.client, &context, |session, context| {
        let (store, operation, document, assignments) = context;
        Box::pin(async move {
            accounts::debit(store, session, operation.owner, operation.credits).await?;
            if let Err(e) = store
                .operations
                .insert_one(document)
                .session(&mut *session)
                .await
            {
                return Err(match errors::duplicate_key(&e) {
                    Some(_) => Abort::refuse(StoreError::Duplicate("operation")),
                    None => Abort::Driver(e),
                });
            }
            if !assignments.is_empty() {
                store
                    .assignments
                    .insert_many(assignments)
                    .session(&mut *session)
                    .await?;
            }
            Ok(())
        })
    })
    .await
}

/// One `Assigned` assignment per distinct probe (a probe listed twice is assigned once).
fn assignments_of(operation: &Operation) -> Vec<AssignmentDoc> {
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
        })
        .collect()
}

/// Two reads, not one snapshot: an assignment created or accepted between them is simply seen
/// (or not) by the next call, as it would be had it happened a moment later.
pub(super) async fn pending_operations(
    store: &MongoStore,
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
    store: &MongoStore,
    operation: OperationId,
    probe: ProbeId,
) -> StoreResult<Option<AssignmentState>> {
    let found = queries::find_one(&store.assignments, assignment_key(operation, probe)).await?;
    Ok(found.map(|a| a.state))
}

/// The state change and the in-use credits in one transaction, so that a crash between them
/// cannot leave credits taken forever (or released twice). Two concurrent moves of one
/// assignment conflict; the one run again sees the new state and changes nothing.
pub(super) async fn advance_assignment(
    store: &MongoStore,
    operation: OperationId,
    probe: ProbeId,
    to: AssignmentState,
    credits: u64,
) -> StoreResult<bool> {
    use AssignmentState::{Accepted, Assigned, Finished};
    let context = (store, assignment_key(operation, probe));
    transaction::run(&store.client, &context, |session, (store, key)| {
        Box::pin(async move {
            let current = store
                .assignments
                .find_one(key.clone())
                .session(&mut *session)
                .await?;
            let from = current.ok_or(Abort::refuse(StoreError::NotAssigned))?.state;
            if to <= from {
                return Ok(false);
            }
            let mut unmoved = key.clone();
            unmoved.insert("state", state_name(from));
            store
                .assignments
                .update_one(unmoved, doc! { "$set": { "state": state_name(to) } })
                .session(&mut *session)
                .await?;
            let change = match (from, to) {
                (Assigned, Accepted) => Some(InUse::Take),
                (Accepted, Finished) => Some(InUse::Release),
                _ => None,
            };
            if let Some(change) = change {
                adjust_in_use(store, session, probe, change, credits).await?;
            }
            Ok(true)
        })
    })
    .await
}

pub(super) fn assignment_key(operation: OperationId, probe: ProbeId) -> Document {
    doc! { "operation": operation.oid(), "probe": probe.oid() }
}
