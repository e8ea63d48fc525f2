//! Reading results: pages of an operation's results. (They are written in batches, see
//! `ingest`.)

use super::documents::state_name;
use super::{errors, queries, Handles};
use crate::domain::{OperationId, ResultId};
use crate::store::{AssignmentState, MeasurementResult, PageLimit, Progress, StoreResult};
use bson::doc;
use futures::TryStreamExt;
use std::future::IntoFuture;

/// A page in `_id` order, served by the (operation, _id) index. The cursor is read one document
/// at a time and dropped (closing it on the server) once the page is full, so a page holds at
/// most its own results plus the driver's batch (which MongoDB caps at 16 MiB).
pub(super) async fn results(
    store: &Handles,
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

/// Four counts, each served by an index on `operation` (assignments: (operation, probe);
/// results: (operation, _id)), run together.
pub(super) async fn progress(store: &Handles, operation: OperationId) -> StoreResult<Progress> {
    use AssignmentState::{Accepted, Finished};
    let in_states = |states: &[AssignmentState]| {
        let names: Vec<&str> = states.iter().copied().map(state_name).collect();
        doc! { "operation": operation.oid(), "state": { "$in": names } }
    };
    let (assigned, accepted, finished, results) = futures::try_join!(
        store
            .assignments
            .count_documents(doc! { "operation": operation.oid() })
            .into_future(),
        store
            .assignments
            .count_documents(in_states(&[Accepted, Finished]))
            .into_future(),
        store
            .assignments
            .count_documents(in_states(&[Finished]))
            .into_future(),
        store
            .results
            .count_documents(doc! { "operation": operation.oid() })
            .into_future(),
    )
    .map_err(errors::from_driver)?;
    Ok(Progress {
        assigned,
        accepted,
        finished,
        results,
    })
}
