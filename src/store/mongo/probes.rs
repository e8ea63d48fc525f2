//! Probes and their link state.
//!
//! The link is a sub-document of the probe (`null` while disconnected), so connecting,
//! disconnecting and adjusting in-use credits are single-document updates, atomic by themselves.

use super::documents::{LinkDoc, ProbeDoc};
use super::transaction::{self, Abort};
use super::{errors, queries, Handles};
use crate::domain::{ProbeId, UserId};
use crate::store::{Link, Probe, StoreError, StoreResult};
use bson::{doc, Bson, Document};
use mongodb::options::ReturnDocument;
use mongodb::ClientSession;

/// The in-use credits of a probe's link.
const IN_USE: &str = "link.in_use_credits";

/// Counter on the owner's `users` document, raised by every registration. Its value is not
/// read: writing it is what makes two registrations of one owner conflict.
const REGISTRATIONS: &str = "probes_registered";

/// Counts and inserts in one transaction that first writes the owner's document. Two concurrent
/// registrations of one owner (on any instance) therefore write the same document: MongoDB
/// lets one commit and makes the other run again, and the rerun counts the probe the first
/// one added. Counting alone would not do: snapshot isolation lets two transactions that wrote
/// different documents both commit, each having counted one probe short.
pub(super) async fn insert_probe(
    store: &Handles,
    probe: &Probe,
    max_per_owner: u32,
) -> StoreResult<()> {
    let context = (store, probe.owner, ProbeDoc::from(probe), max_per_owner);
    transaction::run(&store.client, &context, |session, context| {
        let (store, owner, document, max_per_owner) = context;
        Box::pin(async move {
            let claimed = store
                .users
                .update_one(
                    doc! { "_id": owner.oid() },
                    doc! { "$inc": { REGISTRATIONS: 1_i64 } },
                )
                .session(&mut *session)
                .await
                .map_err(transaction::updating)?;
            if claimed.matched_count == 0 {
                return Err(Abort::refuse(StoreError::NotFound("user")));
            }
            if probe_count(store, *owner, Some(&mut *session)).await? >= u64::from(*max_per_owner) {
                return Err(Abort::refuse(StoreError::TooManyProbes(*max_per_owner)));
            }
            match store
                .probes
                .insert_one(document)
                .session(&mut *session)
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if errors::duplicate_key(&e).is_some() => {
                    Err(Abort::refuse(StoreError::Duplicate("probe")))
                }
                Err(e) => Err(Abort::Driver(e)),
            }
        })
    })
    .await
}

/// The probes of `owner` (in the transaction's snapshot, given its session): the one count the
/// per-user cap uses.
pub(super) async fn probe_count(
    store: &Handles,
    owner: UserId,
    session: Option<&mut ClientSession>,
) -> Result<u64, mongodb::error::Error> {
    let count = store.probes.count_documents(doc! { "owner": owner.oid() });
    match session {
        Some(session) => count.session(session).await,
        None => count.await,
    }
}

/// Replaces the link; [`StoreError::NotFound`] if there is no such probe.
pub(super) async fn link_up(store: &Handles, id: ProbeId, link: &Link) -> StoreResult<()> {
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
pub(super) async fn revoke_tokens(store: &Handles, id: ProbeId) -> StoreResult<Option<Probe>> {
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
pub(super) async fn unlink(store: &Handles, filter: Document) -> StoreResult<()> {
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

/// Takes or releases `credits` on the link of `probe`; a probe without a link has nothing to
/// adjust. Two conditional updates, because `$inc` cannot saturate: the first increments when
/// the result stays in range, the second (run only if the first matched nothing) pins the value
/// to the bound it would have crossed.
pub(super) async fn adjust_in_use(
    store: &Handles,
    probe: ProbeId,
    change: InUse,
    credits: u64,
) -> StoreResult<()> {
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
        .await
        .map_err(errors::from_driver)?;
    if incremented.matched_count == 0 {
        store
            .probes
            .update_one(
                doc! { "_id": id, IN_USE: crosses },
                doc! { "$set": { IN_USE: bound } },
            )
            .await
            .map_err(errors::from_driver)?;
    }
    Ok(())
}
