//! Results: one document each, deduplicated by a unique index, paid for in the same transaction.

use super::accounts;
use super::documents::ResultDoc;
use super::operations::assignment_key;
use super::transaction::{self, Abort};
use super::{errors, indexes, queries, MongoStore};
use crate::ids::{OperationId, ResultId};
use crate::store::{Insertion, MeasurementResult, Reward, StoreError, StoreResult};
use bson::doc;

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
                    .await?;
                if assigned.is_none() {
                    return Err(Abort::refuse(StoreError::NotAssigned));
                }
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
                accounts::pay(store, session, reward.user, reward.credits).await?;
                Ok(Insertion::Stored)
            })
        },
    )
    .await
}

/// A page in `_id` order, served by the (operation, _id) index.
pub(super) async fn results(
    store: &MongoStore,
    operation: OperationId,
    after: Option<ResultId>,
    limit: usize,
) -> StoreResult<Vec<MeasurementResult>> {
    // MongoDB reads a limit of 0 as "no limit".
    if limit == 0 {
        return Ok(Vec::new());
    }
    let mut filter = doc! { "operation": operation.oid() };
    if let Some(after) = after {
        filter.insert("_id", doc! { "$gt": after.oid() });
    }
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let docs = queries::find_in_order(&store.results, filter, Some(limit)).await?;
    docs.into_iter().map(MeasurementResult::try_from).collect()
}
