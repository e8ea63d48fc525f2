//! Operations, their assignments to probes, and the probes' in-use credits that follow them.

use super::results::Allowance;
use super::tables::{decode, get, put, scan, ASSIGNMENTS, OPERATIONS, RESULT_ALLOWANCES};
use super::{accounts, keys, probes};
use crate::domain::{OperationId, ProbeId, UserId};
use crate::store::{
    AssignmentState, AssignmentStep, Operation, ResultAllowance, StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Debits the owner, then stores the operation and its assignments; any refusal rolls back all.
pub(super) fn create_operation(txn: &WriteTransaction, operation: &Operation) -> StoreResult<()> {
    accounts::debit(txn, operation.owner, operation.credits)?;
    let mut operations = txn.open_table(OPERATIONS)?;
    let key = operation.id.bytes();
    if operations.get(&key[..])?.is_some() {
        return Err(StoreError::Duplicate("operation"));
    }
    put(&mut operations, &key, operation)?;
    let mut assignments = txn.open_table(ASSIGNMENTS)?;
    let mut allowances = txn.open_table(RESULT_ALLOWANCES)?;
    let allowance = Allowance::new(ResultAllowance::of(operation));
    for &probe in &operation.probes {
        let key = keys::assignment(probe, operation.id);
        put(&mut assignments, &key, &AssignmentState::Assigned)?;
        put(&mut allowances, &key, &allowance)?;
    }
    Ok(())
}

/// The operation with that id.
pub(super) fn operation(txn: &ReadTransaction, id: OperationId) -> StoreResult<Option<Operation>> {
    get(&txn.open_table(OPERATIONS)?, &id.bytes())
}

/// Operations in creation order, optionally of one owner (a full scan, as for probes).
pub(super) fn operations(
    txn: &ReadTransaction,
    owner: Option<UserId>,
) -> StoreResult<Vec<Operation>> {
    scan(&txn.open_table(OPERATIONS)?, |o: &Operation| {
        owner.is_none_or(|owner| o.owner == owner)
    })
}

/// Operations still `Assigned` to `probe` not over at `now` (their stop minute not ended), in
/// creation order.
pub(super) fn pending_operations(
    txn: &ReadTransaction,
    probe: ProbeId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Operation>> {
    let assignments = txn.open_table(ASSIGNMENTS)?;
    let operations = txn.open_table(OPERATIONS)?;
    let mine = keys::pairs_of(probe.bytes(), None);
    let mut pending = Vec::new();
    for entry in assignments.range::<&[u8]>(mine.bounds())? {
        let (key, state) = entry?;
        if decode::<AssignmentState>(state.value())? != AssignmentState::Assigned {
            continue;
        }
        let id = keys::second_of_pair(key.value())?;
        let operation: Operation = get(&operations, &id)?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "assignment to probe {probe} names a missing operation"
            ))
        })?;
        if operation.ends_at() > now {
            pending.push(operation);
        }
    }
    Ok(pending)
}

/// The state of an assignment.
pub(super) fn assignment(
    txn: &ReadTransaction,
    operation: OperationId,
    probe: ProbeId,
) -> StoreResult<Option<AssignmentState>> {
    get(
        &txn.open_table(ASSIGNMENTS)?,
        &keys::assignment(probe, operation),
    )
}

/// Moves an assignment forward and the probe's in-use credits with it; `false` if `to` is not
/// ahead of the current state.
pub(super) fn advance_assignment(
    txn: &WriteTransaction,
    step: AssignmentStep,
) -> StoreResult<bool> {
    let mut assignments = txn.open_table(ASSIGNMENTS)?;
    let key = keys::assignment(step.probe, step.operation);
    let from: AssignmentState = get(&assignments, &key)?.ok_or(StoreError::NotAssigned)?;
    if step.to <= from {
        return Ok(false);
    }
    put(&mut assignments, &key, &step.to)?;
    let in_use_change: Option<fn(u64, u64) -> u64> = match (from, step.to) {
        (AssignmentState::Assigned, AssignmentState::Accepted) => Some(u64::saturating_add),
        // Only credits taken by an acceptance are released.
        (AssignmentState::Accepted, AssignmentState::Finished) => Some(u64::saturating_sub),
        _ => None,
    };
    if let Some(change) = in_use_change {
        // A probe without a link keeps no in-use credits; its next `hello` reports them afresh.
        probes::update_link(txn, step.probe, |link| {
            if let Some(link) = link {
                link.in_use_credits = change(link.in_use_credits, step.credits);
            }
        })?;
    }
    Ok(true)
}
