//! Records of another deployment (`pladmed import`), ids kept, each stored only if absent.

use super::keys;
use super::results::Allowance;
use super::tables::{
    encode, get, put, ASSIGNMENTS, OPERATIONS, PROBES, RESULTS, RESULT_ALLOWANCES,
};
use super::tables::{RESULT_CODES, USERS, USERS_BY_EMAIL};
use crate::store::{
    AssignmentState, ImportOutcome, ImportedOperation, Probe, ResultAllowance, StoreError,
    StoreResult, User,
};
use redb::{ReadableTable, WriteTransaction};

/// Stores `user` unless its id is there; refuses an address another account has.
pub(super) fn import_user(txn: &WriteTransaction, user: &User) -> StoreResult<bool> {
    let mut users = txn.open_table(USERS)?;
    let id = user.id.bytes();
    if users.get(&id[..])?.is_some() {
        return Ok(false);
    }
    let mut by_email = txn.open_table(USERS_BY_EMAIL)?;
    let email = user.email.as_str().as_bytes();
    if by_email.get(email)?.is_some() {
        return Err(StoreError::Duplicate("email"));
    }
    by_email.insert(email, &id[..])?;
    put(&mut users, &id, user)?;
    Ok(true)
}

/// Stores `probe` unless its id is there.
pub(super) fn import_probe(txn: &WriteTransaction, probe: &Probe) -> StoreResult<bool> {
    let mut probes = txn.open_table(PROBES)?;
    let key = probe.id.bytes();
    if probes.get(&key[..])?.is_some() {
        return Ok(false);
    }
    put(&mut probes, &key, probe)?;
    Ok(true)
}

/// Stores the operation, its finished assignments and its new results, in one transaction;
/// nothing if the operation is there.
pub(super) fn import_operation(
    txn: &WriteTransaction,
    import: &ImportedOperation,
) -> StoreResult<ImportOutcome> {
    let operation = &import.operation;
    let mut operations = txn.open_table(OPERATIONS)?;
    let key = operation.id.bytes();
    if operations.get(&key[..])?.is_some() {
        return Ok(ImportOutcome::default());
    }
    put(&mut operations, &key, operation)?;
    let mut assignments = txn.open_table(ASSIGNMENTS)?;
    let mut allowances = txn.open_table(RESULT_ALLOWANCES)?;
    let allowance = ResultAllowance::of(operation);
    for probe in import.assigned_probes() {
        let key = keys::assignment(probe, operation.id);
        if get::<AssignmentState>(&assignments, &key)?.is_none() {
            put(&mut assignments, &key, &AssignmentState::Finished)?;
            let counted = Allowance::counted(allowance, import.results_of(probe));
            put(&mut allowances, &key, &counted)?;
        }
    }
    let mut results = txn.open_table(RESULTS)?;
    let mut codes = txn.open_table(RESULT_CODES)?;
    let mut stored = 0;
    for result in &import.results {
        let code = keys::result_code(result.operation, result.probe, &result.unique_code);
        if codes.get(code.as_slice())?.is_some() {
            continue;
        }
        let key = keys::result(result.operation, result.id);
        results.insert(&key[..], encode(result)?.as_slice())?;
        codes.insert(code.as_slice(), &result.id.bytes()[..])?;
        stored += 1;
    }
    Ok(ImportOutcome {
        operation: true,
        results: stored,
    })
}
