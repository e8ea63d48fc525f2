//! Reads shared by every collection.

use super::{errors, Handles};
use crate::store::StoreResult;
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use futures::{StreamExt, TryStreamExt};
use mongodb::options::FindOptions;
use mongodb::{Collection, Cursor};
use serde::de::DeserializeOwned;

/// The one document matching `filter`.
pub(super) async fn find_one<D>(
    collection: &Collection<D>,
    filter: Document,
) -> StoreResult<Option<D>>
where
    D: DeserializeOwned + Send + Sync,
{
    collection
        .find_one(filter)
        .await
        .map_err(errors::from_driver)
}

/// The ObjectId in `field` of each document of collection `name` that `filter` matches.
pub(super) async fn object_ids(
    store: &Handles,
    name: &str,
    filter: Document,
    field: &str,
) -> StoreResult<Vec<ObjectId>> {
    let found: Vec<Document> = store
        .raw(name)
        .find(filter)
        .projection(doc! { field: 1 })
        .await
        .map_err(errors::from_driver)?
        .try_collect()
        .await
        .map_err(errors::from_driver)?;
    Ok(found
        .iter()
        .filter_map(|d| d.get_object_id(field).ok())
        .collect())
}

/// Sets each of `fields` on the one document matching `key` (an exact key of an index) if
/// `condition` (an aggregation expression over the document) holds, and leaves the document
/// untouched otherwise; whether it changed, and whether a document matched `key`. The values of
/// `fields` are aggregation expressions too, evaluated on the document before the change (a
/// literal string must not start with `$`).
///
/// The condition lives in a pipeline update, not in the filter: MongoDB serves both from the
/// index, but SecantusDB serves a filter only from an index that covers all of its fields, and
/// otherwise reads every document under the index's first field (every assignment of an
/// operation, 10,000 for a large one) for each update. A `find_one_and_update` is worse there:
/// its write re-checks `{_id, $and: [filter]}`, which no index serves, so each one scanned the
/// whole collection.
pub(super) async fn update_if<D>(
    collection: &Collection<D>,
    key: &Document,
    condition: Bson,
    fields: Document,
) -> StoreResult<Conditional>
where
    D: Send + Sync,
{
    let mut set = Document::new();
    for (field, value) in fields {
        let current = format!("${field}");
        set.insert(field, doc! { "$cond": [condition.clone(), value, current] });
    }
    let pipeline = vec![doc! { "$set": set }];
    let updated = errors::repeat_on_clash(|| collection.update_one(key.clone(), pipeline.clone()))
        .await
        .map_err(errors::from_driver)?;
    Ok(if updated.modified_count == 1 {
        Conditional::Changed
    } else if updated.matched_count == 1 {
        Conditional::Unchanged
    } else {
        Conditional::Missing
    })
}

/// What [`update_if`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Conditional {
    /// The condition held: the fields were set.
    Changed,
    /// The document is there, but the condition did not hold (or the fields already had those
    /// values).
    Unchanged,
    /// No document has that key.
    Missing,
}

/// Most ids in one `{_id: {$in}}` query of [`find_by_ids`].
const IDS_PER_QUERY: usize = 256;
/// Queries of [`find_grouped`] (and so of [`find_by_ids`]) in flight at once.
const READS_AT_ONCE: usize = 4;

/// The documents of `collection` with these `_id`s (those that exist, in no particular order),
/// read [`IDS_PER_QUERY`] ids per query.
///
/// Not one `$in` of them all: SecantusDB checks each document found against the whole list, one
/// element after the other, so one query for n ids costs n² comparisons. With 10,000 linked
/// probes, the link audit's read (every heartbeat) and the probe read of an operation naming
/// them all kept it busy for tens of seconds each.
pub(super) async fn find_by_ids<D>(
    collection: &Collection<D>,
    ids: &[ObjectId],
) -> StoreResult<Vec<D>>
where
    D: DeserializeOwned + Send + Sync,
{
    let groups = ids
        .chunks(IDS_PER_QUERY)
        .map(|chunk| (Document::new(), chunk.iter().map(|&id| id.into()).collect()))
        .collect();
    find_grouped(collection, "_id", groups, None).await
}

/// Every document of `collection` matching one of `groups`, each group an equality on some
/// fields (a prefix of an index) and the values `field` (the index's next field) may take: one
/// `$in` query per group, [`READS_AT_ONCE`] at a time, `projection` applied.
///
/// Not one `$or` of exact keys: MongoDB serves both from the index, but SecantusDB answers a
/// `$or` by scanning the whole collection (measured: 6.4 s for 32 keys among 20,000 results,
/// against 5 ms for the `$in`), which a probe re-sending its backlog would pay on every batch.
pub(super) async fn find_grouped<D>(
    collection: &Collection<D>,
    field: &str,
    groups: Vec<(Document, Vec<Bson>)>,
    projection: Option<Document>,
) -> StoreResult<Vec<D>>
where
    D: DeserializeOwned + Send + Sync,
{
    let reads = groups.into_iter().map(|(mut filter, values)| {
        filter.insert(field, doc! { "$in": values });
        let options = FindOptions::builder()
            .projection(projection.clone())
            .build();
        async move {
            collection
                .find(filter)
                .with_options(options)
                .await?
                .try_collect::<Vec<D>>()
                .await
        }
    });
    let found: Vec<Vec<D>> = futures::stream::iter(reads)
        .buffer_unordered(READS_AT_ONCE)
        .try_collect()
        .await
        .map_err(errors::from_driver)?;
    Ok(found.into_iter().flatten().collect())
}

/// The documents matching `filter` in `_id` order, which is creation order (ObjectIds grow),
/// at most `limit` of them.
pub(super) async fn find_in_order<D>(
    collection: &Collection<D>,
    filter: Document,
    limit: Option<i64>,
) -> StoreResult<Vec<D>>
where
    D: DeserializeOwned + Send + Sync,
{
    cursor_in_order(collection, filter, limit)
        .await?
        .try_collect()
        .await
        .map_err(errors::from_driver)
}

/// A cursor over what [`find_in_order`] returns, to read one document at a time.
pub(super) async fn cursor_in_order<D>(
    collection: &Collection<D>,
    filter: Document,
    limit: Option<i64>,
) -> StoreResult<Cursor<D>>
where
    D: DeserializeOwned + Send + Sync,
{
    let options = FindOptions::builder()
        .sort(doc! { "_id": 1 })
        .limit(limit)
        .build();
    collection
        .find(filter)
        .with_options(options)
        .await
        .map_err(errors::from_driver)
}
