//! Results, their dedup index and the reward paid for each new one.

use super::keys::PairKey;
use super::tables::{decode, encode, get, put};
use super::tables::{ASSIGNMENTS, RESULTS, RESULT_ALLOWANCES, RESULT_CODES};
use super::{accounts, keys};
use crate::domain::{OperationId, ResultId};
use crate::store::{
    AssignmentState, Insertion, MeasurementResult, PageLimit, Progress, ResultAllowance, Reward,
    StoreError, StoreResult,
};
use chrono::{DateTime, Utc};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// A result in its stored form: keys and record encoded before it reaches the commit thread, so
/// that the one thread all writes share only copies bytes.
pub(super) struct EncodedResult {
    assignment: PairKey,
    key: PairKey,
    code: Vec<u8>,
    id: ResultId,
    measured_at: DateTime<Utc>,
    record: Vec<u8>,
}

impl EncodedResult {
    pub(super) fn new(result: &MeasurementResult) -> StoreResult<EncodedResult> {
        Ok(EncodedResult {
            assignment: keys::assignment(result.probe, result.operation),
            key: keys::result(result.operation, result.id),
            code: keys::result_code(result.operation, result.probe, &result.unique_code),
            id: result.id,
            measured_at: result.measured_at,
            record: encode(result)?,
        })
    }
}

/// An assignment's [`ResultAllowance`] and how many results it holds.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Allowance {
    #[serde(flatten)]
    allowance: ResultAllowance,
    stored: u64,
}

impl Allowance {
    /// A fresh assignment's: nothing stored yet.
    pub(super) fn new(allowance: ResultAllowance) -> Self {
        Self::counted(allowance, 0)
    }

    /// An imported assignment's: `stored` results came with it.
    pub(super) fn counted(allowance: ResultAllowance, stored: u64) -> Self {
        Self { allowance, stored }
    }
}

/// Stores a result of an assigned probe unless its (operation, probe, unique code) was stored
/// before, and pays the reward in the same transaction: a result is never stored unpaid nor paid
/// twice. The count of the assignment's results moves in the same transaction too, so that no
/// interleaving stores more than its allowance.
///
/// The outer error aborts the transaction; the inner one is a refusal decided before anything
/// was written, which the group commit need not replay its batch for: a probe sending refused
/// results by the hundred costs one check each, not a replay each.
pub(super) fn insert_result(
    txn: &WriteTransaction,
    result: &EncodedResult,
    reward: &Reward,
) -> StoreResult<StoreResult<Insertion>> {
    let assignments = txn.open_table(ASSIGNMENTS)?;
    if assignments.get(&result.assignment[..])?.is_none() {
        return Ok(Err(StoreError::NotAssigned));
    }
    let mut codes = txn.open_table(RESULT_CODES)?;
    if codes.get(result.code.as_slice())?.is_some() {
        return Ok(Ok(Insertion::Duplicate));
    }
    let mut allowances = txn.open_table(RESULT_ALLOWANCES)?;
    let allowance: Option<Allowance> = get(&allowances, &result.assignment)?;
    if let Some(allowance) = &allowance {
        if let Err(refusal) = allowance
            .allowance
            .admit(allowance.stored, result.measured_at)
        {
            return Ok(Err(refusal));
        }
    }
    let mut results = txn.open_table(RESULTS)?;
    if results.get(&result.key[..])?.is_some() {
        return Err(StoreError::Duplicate("result"));
    }
    results.insert(&result.key[..], result.record.as_slice())?;
    codes.insert(result.code.as_slice(), &result.id.bytes()[..])?;
    if let Some(allowance) = allowance {
        let counted = Allowance {
            stored: allowance.stored + 1,
            ..allowance
        };
        put(&mut allowances, &result.assignment, &counted)?;
    }
    accounts::pay(txn, reward.user, reward.credits)?;
    Ok(Ok(Insertion::Stored))
}

/// The results of `operation` in storage order after the `after` cursor, as many as `page`
/// allows; each record is decoded only once it is known to belong to the page.
pub(super) fn results(
    txn: &ReadTransaction,
    operation: OperationId,
    after: Option<ResultId>,
    page: PageLimit,
) -> StoreResult<Vec<MeasurementResult>> {
    let results = txn.open_table(RESULTS)?;
    let range = keys::pairs_of(operation.bytes(), after.map(ResultId::bytes));
    page.fill(
        results
            .range::<&[u8]>(range.bounds())?
            .map(|entry| decode(entry?.1.value())),
    )
}

/// The operation's assignments by state and its results counted, in one read transaction (the
/// results are counted by their keys: nothing is decoded).
pub(super) fn progress(txn: &ReadTransaction, operation: OperationId) -> StoreResult<Progress> {
    let mut progress = Progress::default();
    let Some(record) = super::operations::operation(txn, operation)? else {
        return Ok(progress);
    };
    let assignments = txn.open_table(ASSIGNMENTS)?;
    for probe in record.probes {
        let state: Option<AssignmentState> =
            get(&assignments, &keys::assignment(probe, operation))?;
        let Some(state) = state else { continue };
        progress.assigned += 1;
        progress.accepted += u64::from(state >= AssignmentState::Accepted);
        progress.finished += u64::from(state == AssignmentState::Finished);
    }
    let range = keys::pairs_of(operation.bytes(), None);
    for entry in txn.open_table(RESULTS)?.range::<&[u8]>(range.bounds())? {
        entry?;
        progress.results += 1;
    }
    Ok(progress)
}
