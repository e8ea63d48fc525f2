//! Probes and their link state.
//!
//! The link is a sub-document of the probe (`null` while disconnected), so connecting,
//! disconnecting and adjusting in-use credits are single-document updates, atomic by themselves.

use super::documents::{LinkDoc, ProbeDoc};
use super::transaction::Abort;
use super::{errors, queries, MongoStore};
use crate::ids::ProbeId;
use crate::store::{Link, Probe, StoreError, StoreResult};
use bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

/// The in-use credits of a probe's link.
const IN_USE: &str = "link.in_use_credits";

pub(super) async fn insert_probe(store: &MongoStore, probe: &Probe) -> StoreResult<()> {
    match store.probes.insert_one(ProbeDoc::from(probe)).await {
        Ok(_) => Ok(()),
        Err(e) if errors::duplicate_key(&e).is_some() => Err(StoreError::Duplicate("probe")),
        Err(e) => Err(errors::from_driver(e)),
    }
}

/// Replaces the link; [`StoreError::NotFound`] if there is no such probe.
pub(super) async fn link_up(store: &MongoStore, id: ProbeId, link: &Link) -> StoreResult<()> {
    let link = bson::to_bson(&LinkDoc::from(link))
        .map_err(|e| StoreError::Corrupt(format!("link cannot be stored: {e}")))?;
    let updated = store
        .probes
        .update_one(doc! { "_id": id.oid() }, doc! { "$set": { "link": link } })
        .await
        .map_err(errors::from_driver)?;
    if updated.matched_count == 0 {
        return Err(StoreError::NotFound("probe"));
    }
    Ok(())
}

/// One `find_one_and_update`, so the version returned is exactly the one this call made. The
/// filter leaves out a probe at the last version (see the embedded store: wrapping around
/// would revive old tokens).
pub(super) async fn revoke_tokens(store: &MongoStore, id: ProbeId) -> StoreResult<Option<Probe>> {
    let updated = store
        .probes
        .find_one_and_update(
            doc! { "_id": id.oid(), "token_version": { "$lt": i64::from(u32::MAX) } },
            doc! { "$inc": { "token_version": 1_i64 }, "$set": { "link": Bson::Null } },
        )
        .return_document(ReturnDocument::After)
        .await
        .map_err(errors::from_driver)?;
    match updated {
        Some(doc) => Probe::try_from(doc).map(Some),
        None if queries::find_one(&store.probes, doc! { "_id": id.oid() })
            .await?
            .is_some() =>
        {
            Err(StoreError::Corrupt(format!(
                "probe {id}: token_version exhausted"
            )))
        }
        None => Ok(None),
    }
}

/// Sets the link of every probe matching `filter` to `null`.
pub(super) async fn unlink(store: &MongoStore, filter: Document) -> StoreResult<()> {
    store
        .probes
        .update_many(filter, doc! { "$set": { "link": Bson::Null } })
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

/// How a link's in-use credits change, saturating at both ends as the embedded store does.
#[derive(Clone, Copy)]
pub(super) enum InUse {
    /// An operation was accepted: its credits are taken.
    Take,
    /// An operation finished: its credits are released, down to zero and never below (the probe
    /// may have reconnected reporting less in use than was counted).
    Release,
}

/// Takes or releases `credits` on the link of `probe` inside a transaction; a probe without a
/// link has nothing to adjust. Two conditional updates, because `$inc` cannot saturate: the
/// first increments when the result stays in range, the second (run only if the first matched
/// nothing) pins the value to the bound it would have crossed.
pub(super) async fn adjust_in_use<T>(
    store: &MongoStore,
    session: &mut ClientSession,
    probe: ProbeId,
    change: InUse,
    credits: u64,
) -> Result<(), Abort<T>> {
    let credits = i64::try_from(credits).unwrap_or(i64::MAX);
    let (fits, increment, crosses, bound) = match change {
        InUse::Take => {
            let ceiling = i64::MAX - credits;
            (
                doc! { "$lte": ceiling },
                credits,
                doc! { "$gt": ceiling },
                i64::MAX,
            )
        }
        InUse::Release => (
            doc! { "$gte": credits },
            -credits,
            doc! { "$lt": credits },
            0,
        ),
    };
    let id = probe.oid();
    let incremented = store
        .probes
        .update_one(
            doc! { "_id": id, IN_USE: fits },
            doc! { "$inc": { IN_USE: increment } },
        )
        .session(&mut *session)
        .await?;
    if incremented.matched_count == 0 {
        store
            .probes
            .update_one(
                doc! { "_id": id, IN_USE: crosses },
                doc! { "$set": { IN_USE: bound } },
            )
            .session(&mut *session)
            .await?;
    }
    Ok(())
}
