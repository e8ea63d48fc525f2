//! Results, their dedup index and the reward paid for each new one.

use super::keys::PairKey;
use super::tables::{decode, encode, ASSIGNMENTS, RESULTS, RESULT_CODES};
use super::{accounts, keys};
use crate::ids::{OperationId, ResultId};
use crate::store::{Insertion, MeasurementResult, Reward, StoreError, StoreResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// A result in its stored form: keys and record encoded before it reaches the commit thread, so
/// that the one thread all writes share only copies bytes.
pub(super) struct EncodedResult {
    assignment: PairKey,
    key: PairKey,
    code: Vec<u8>,
    id: ResultId,
    record: Vec<u8>,
}

impl EncodedResult {
    pub(super) fn new(result: &MeasurementResult) -> StoreResult<EncodedResult> {
        Ok(EncodedResult {
            assignment: keys::assignment(result.probe, result.operation),
            key: keys::result(result.operation, result.id),
            code: keys::result_code(result.operation, result.probe, &result.unique_code),
            id: result.id,
            record: encode(result)?,
        })
    }
}

/// Stores a result of an assigned probe unless its (operation, probe, unique code) was stored
/// before, and pays the reward in the same transaction: a result is never stored unpaid nor paid
/// twice.
pub(super) fn insert_result(
    txn: &WriteTransaction,
    result: &EncodedResult,
    reward: &Reward,
) -> StoreResult<Insertion> {
    let assignments = txn.open_table(ASSIGNMENTS)?;
    if assignments.get(&result.assignment[..])?.is_none() {
        return Err(StoreError::NotAssigned);
    }
    let mut codes = txn.open_table(RESULT_CODES)?;
    if codes.get(result.code.as_slice())?.is_some() {
        return Ok(Insertion::Duplicate);
    }
    let mut results = txn.open_table(RESULTS)?;
    if results.get(&result.key[..])?.is_some() {
        return Err(StoreError::Duplicate("result"));
    }
    results.insert(&result.key[..], result.record.as_slice())?;
    codes.insert(result.code.as_slice(), &result.id.bytes()[..])?;
    accounts::pay(txn, reward.user, reward.credits)?;
    Ok(Insertion::Stored)
}

/// Up to `limit` results of `operation` in storage order, after the `after` cursor.
pub(super) fn results(
    txn: &ReadTransaction,
    operation: OperationId,
    after: Option<ResultId>,
    limit: usize,
) -> StoreResult<Vec<MeasurementResult>> {
    let results = txn.open_table(RESULTS)?;
    let range = keys::pairs_of(operation.bytes(), after.map(ResultId::bytes));
    results
        .range::<&[u8]>(range.bounds())?
        .take(limit)
        .map(|entry| decode(entry?.1.value()))
        .collect()
}
