//! The tables of the database file and the JSON codec of their values.
//!
//! Keys are raw bytes (see [`super::keys`]); values are serde_json of the records, so the file
//! stays readable with any redb tool and a record gaining an optional field needs no migration.

use crate::store::{StoreError, StoreResult};
use redb::{ReadableTable, Table, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Every table maps bytes to bytes.
pub(super) type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

/// User id → [`crate::store::User`].
pub(super) const USERS: Def = TableDefinition::new("users");
/// E-mail address → user id: the unique index of addresses.
pub(super) const USERS_BY_EMAIL: Def = TableDefinition::new("users_by_email");
/// Probe id → [`crate::store::Probe`].
pub(super) const PROBES: Def = TableDefinition::new("probes");
/// Operation id → [`crate::store::Operation`].
pub(super) const OPERATIONS: Def = TableDefinition::new("operations");
/// (probe, operation) → [`crate::store::AssignmentState`].
pub(super) const ASSIGNMENTS: Def = TableDefinition::new("assignments");
/// (operation, result) → [`crate::store::MeasurementResult`].
pub(super) const RESULTS: Def = TableDefinition::new("results");
/// (operation, probe, unique code) → result id: the dedup index of results.
pub(super) const RESULT_CODES: Def = TableDefinition::new("result_codes");

/// (probe, operation) → [`super::results::Allowance`]: what the assignment may still deliver.
/// Assignments stored before quotas existed have no entry and no limit.
pub(super) const RESULT_ALLOWANCES: Def = TableDefinition::new("result_allowances");

/// All tables; created when the file is opened, so that readers never meet a missing table.
pub(super) const ALL: [Def; 8] = [
    USERS,
    USERS_BY_EMAIL,
    PROBES,
    OPERATIONS,
    ASSIGNMENTS,
    RESULTS,
    RESULT_CODES,
    RESULT_ALLOWANCES,
];

/// Decodes one stored value.
pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The value under `key`, decoded.
pub(super) fn get<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    key: &[u8],
) -> StoreResult<Option<T>> {
    match table.get(key)? {
        Some(guard) => decode(guard.value()).map(Some),
        None => Ok(None),
    }
}

/// Stores `value` under `key`, replacing what was there.
pub(super) fn put<T: Serialize>(
    table: &mut Table<&'static [u8], &'static [u8]>,
    key: &[u8],
    value: &T,
) -> StoreResult<()> {
    table.insert(key, encode(value)?.as_slice())?;
    Ok(())
}

/// The stored form of `value`.
pub(super) fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    // Records hold only strings, numbers and JSON values, so encoding cannot fail short of a bug.
    serde_json::to_vec(value)
        .map_err(|e| StoreError::Unavailable(format!("cannot encode record: {e}")))
}

/// Every value of the table in key order, decoded, keeping those `keep` accepts.
pub(super) fn scan<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    keep: impl Fn(&T) -> bool,
) -> StoreResult<Vec<T>> {
    let mut kept = Vec::new();
    for entry in table.iter()? {
        let value = decode(entry?.1.value())?;
        if keep(&value) {
            kept.push(value);
        }
    }
    Ok(kept)
}
