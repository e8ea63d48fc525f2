//! Results: one document each, deduplicated by a unique index, paid for in the same transaction.

use super::accounts;
use super::documents::{clamp_i64, ResultDoc};
use super::operations::assignment_key;
use super::transaction::{self, Abort};
use super::{errors, indexes, queries, MongoStore};
use crate::domain::{OperationId, ResultId};
use crate::store::{
    Insertion, MeasurementResult, PageLimit, ResultAllowance, Reward, StoreError, StoreResult,
};
use bson::{doc, Document};
use futures::TryStreamExt;
use mongodb::ClientSession;

/// The unique index decides what is a duplicate, not a prior read: two copies of one result
/// inserted concurrently conflict, and the one run again meets the committed copy's key.
pub(super) async fn insert_result(
    store: &MongoStore,
    result: &MeasurementResult,
    reward: &Reward,
) -> StoreResult<Insertion> {
    let document = ResultDoc::try_from(result)?;
    let assignment = assignment_key(result.operation, result.probe);
    let context = (store, document, assignment, *reward);
    transaction::run(
        &store.client,
        &context,
        |session, (store, document, assignment, reward)| {
            Box::pin(async move {
                let assigned = store
                    .assignments
                    .find_one(assignment.clone())
                    .session(&mut *session)
                    .await?
                    .ok_or(Abort::refuse(StoreError::NotAssigned))?;
                if let Err(e) = store
                    .results
                    .insert_one(document)
                    .session(&mut *session)
                    .await
                {
                    return Err(match errors::duplicate_key(&e) {
                        Some(index) if index.contains(indexes::RESULT_CODE) => {
                            Abort::Answer(Ok(Insertion::Duplicate))
                        }
                        Some(_) => Abort::refuse(StoreError::Duplicate("result")),
                        None => Abort::Driver(e),
                    });
                }
                // After the insert, so that a duplicate is acknowledged even past the quota;
                // a refusal here rolls the insert back.
                if let Some(allowance) = &assigned.allowance {
                    let stored = assigned.results.unwrap_or(0);
                    count(
                        store,
                        session,
                        assignment,
                        allowance.allowance(),
                        stored,
                        document,
                    )
                    .await?;
                }
                accounts::pay(store, session, reward.user, reward.credits).await?;
                Ok(Insertion::Stored)
            })
        },
    )
    .await
}

/// Checks the result against the assignment's allowance and counts it. The count moves only if
/// it is still below the maximum, so that even a transaction that read a stale count (none
/// should: a concurrent count conflicts) cannot store past it.
async fn count(
    store: &MongoStore,
    session: &mut ClientSession,
    assignment: &Document,
    allowance: ResultAllowance,
    stored: i64,
    document: &ResultDoc,
) -> Result<(), Abort<Insertion>> {
    let stored_u64 = u64::try_from(stored).unwrap_or(u64::MAX);
    allowance
        .admit(stored_u64, document.measured_at())
        .map_err(Abort::refuse)?;
    let mut below = assignment.clone();
    below.insert("results", doc! { "$lt": clamp_i64(allowance.max_results) });
    let counted = store
        .assignments
        .update_one(below, doc! { "$inc": { "results": 1 } })
        .session(&mut *session)
        .await?;
    if counted.matched_count == 1 {
        Ok(())
    } else {
        Err(Abort::refuse(StoreError::OverQuota(allowance.max_results)))
    }
}

/// A page in `_id` order, served by the (operation, _id) index. The cursor is read one document
/// at a time and dropped (closing it on the server) once the page is full, so a page holds at
/// most its own results plus the driver's batch (which MongoDB caps at 16 MiB).
pub(super) async fn results(
    store: &MongoStore,
    operation: OperationId,
    after: Option<ResultId>,
    page: PageLimit,
) -> StoreResult<Vec<MeasurementResult>> {
    // MongoDB reads a limit of 0 as "no limit".
    if page.count == 0 {
        return Ok(Vec::new());
    }
    let mut filter = doc! { "operation": operation.oid() };
    if let Some(after) = after {
        filter.insert("_id", doc! { "$gt": after.oid() });
    }
    let limit = i64::try_from(page.count).unwrap_or(i64::MAX);
    let mut cursor = queries::cursor_in_order(&store.results, filter, Some(limit)).await?;
    let mut results = Vec::new();
    let mut weight = 0usize;
    while weight < page.bytes {
        let Some(doc) = cursor.try_next().await.map_err(errors::from_driver)? else {
            break;
        };
        let result = MeasurementResult::try_from(doc)?;
        weight = weight.saturating_add(result.weight());
        results.push(result);
    }
    Ok(results)
}
