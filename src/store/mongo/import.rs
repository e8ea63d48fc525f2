//! Records of another deployment (`pladmed import`), ids kept, each inserted only if absent.
//!
//! No transaction: an operation is written last, after its assignments and results, so that
//! its presence means all of it is there. An import that stopped half way leaves assignments
//! and results without their operation; the next run finds the operation absent and inserts
//! everything again, the unique indexes skipping what is there.

use super::documents::{AssignmentDoc, OperationDoc, ProbeDoc, ResultDoc, UserDoc};
use super::{accounts, errors, queries, Handles};
use crate::store::{
    AssignmentState, ImportOutcome, ImportedOperation, Probe, ResultAllowance, StoreError,
    StoreResult, User,
};
use bson::doc;
use mongodb::error::ErrorKind;
use mongodb::Collection;
use serde::Serialize;

pub(super) async fn import_user(store: &Handles, user: &User) -> StoreResult<bool> {
    match store.users.insert_one(UserDoc::from(user)).await {
        Ok(_) => Ok(true),
        Err(e) if errors::duplicate_key(&e).is_some() => {
            match accounts::exists(store, user.id).await? {
                true => Ok(false),
                false => Err(StoreError::Duplicate("email")),
            }
        }
        Err(e) => Err(errors::from_driver(e)),
    }
}

pub(super) async fn import_probe(store: &Handles, probe: &Probe) -> StoreResult<bool> {
    match store.probes.insert_one(ProbeDoc::from(probe)).await {
        Ok(_) => Ok(true),
        Err(e) if errors::duplicate_key(&e).is_some() => Ok(false),
        Err(e) => Err(errors::from_driver(e)),
    }
}

pub(super) async fn import_operation(
    store: &Handles,
    import: &ImportedOperation,
) -> StoreResult<ImportOutcome> {
    let operation = &import.operation;
    let id = doc! { "_id": operation.id.oid() };
    if queries::find_one(&store.operations, id).await?.is_some() {
        return Ok(ImportOutcome::default());
    }
    let document = OperationDoc::try_from(operation)?;
    let allowance = ResultAllowance::of(operation);
    let assignments: Vec<AssignmentDoc> = import
        .assigned_probes()
        .into_iter()
        .map(|probe| AssignmentDoc {
            operation: operation.id.oid(),
            probe: probe.oid(),
            state: AssignmentState::Finished,
            allowance: Some(allowance.into()),
            results: Some(i64::try_from(import.results_of(probe)).unwrap_or(i64::MAX)),
            counted_at: None,
        })
        .collect();
    insert_absent(&store.assignments, &assignments).await?;
    let results = import
        .results
        .iter()
        .map(ResultDoc::try_from)
        .collect::<StoreResult<Vec<_>>>()?;
    let stored = insert_absent(&store.results, &results).await?;
    match store.operations.insert_one(document).await {
        Ok(_) => {}
        // Another import of the same data finished first: it imported the same records.
        Err(e) if errors::duplicate_key(&e).is_some() => return Ok(ImportOutcome::default()),
        Err(e) => return Err(errors::from_driver(e)),
    }
    Ok(ImportOutcome {
        operation: true,
        results: stored,
    })
}

/// Inserts the documents a unique index does not find there already; returns how many.
async fn insert_absent<D: Serialize + Send + Sync>(
    collection: &Collection<D>,
    documents: &[D],
) -> StoreResult<u64> {
    if documents.is_empty() {
        return Ok(0);
    }
    let total = documents.len() as u64;
    match collection.insert_many(documents).ordered(false).await {
        Ok(_) => Ok(total),
        Err(error) if errors::only_duplicates(&error) => {
            let skipped = match &*error.kind {
                ErrorKind::InsertMany(e) => e.write_errors.as_ref().map_or(0, Vec::len),
                _ => 0,
            };
            Ok(total.saturating_sub(skipped as u64))
        }
        Err(error) => Err(errors::from_driver(error)),
    }
}
