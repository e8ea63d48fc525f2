//! Results, their dedup index and the reward paid for each new one.

use super::tables::{decode, put, RESULTS, RESULT_CODES};
use super::{accounts, keys};
use crate::ids::{OperationId, ResultId};
use crate::store::{Insertion, MeasurementResult, Reward, StoreError, StoreResult};
use redb::{ReadTransaction, ReadableTable, WriteTransaction};

/// Stores a result unless its (operation, probe, unique code) was stored before, and pays the
/// reward in the same transaction: a result is never stored unpaid nor paid twice.
pub(super) fn insert_result(
    txn: &WriteTransaction,
    result: &MeasurementResult,
    reward: &Reward,
) -> StoreResult<Insertion> {
    let mut codes = txn.open_table(RESULT_CODES)?;
    let code = keys::result_code(result.operation, result.probe, &result.unique_code);
    if codes.get(code.as_slice())?.is_some() {
        return Ok(Insertion::Duplicate);
    }
    let mut results = txn.open_table(RESULTS)?;
    let key = keys::result(result.operation, result.id);
    if results.get(&key[..])?.is_some() {
        return Err(StoreError::Duplicate("result"));
    }
    put(&mut results, &key, result)?;
    codes.insert(code.as_slice(), &result.id.bytes()[..])?;
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
