//! Paying results' rewards exactly once, one update per owner and batch.
//!
//! Before a batch inserts its results, it opens one settlement per owner: a small document in
//! `settlements` listing the results it is about to insert and what each earns (see
//! [`SettlementDoc`]). Each result carries its settlement's id. The settlement is paid by one
//! conditional update of the owner: `$inc` the sum, and push `{s: settlement, ids: [results
//! paid]}` onto the owner's `settled` list, only if no entry for that settlement is there. That
//! entry makes the payment idempotent and says exactly which results it paid. Then the
//! settlement document is deleted, then the entry. A result is written once: nothing on it
//! changes when it is paid.
//!
//! Recovery finds settlements still open. For each it reads the owner's entry; if there is none
//! it first pushes an empty one (a fence: from then on the writer's own payment of that
//! settlement can no longer match). The settlement's results that are stored and still name it,
//! but that the entry did not list, are unpaid: they move to a fresh settlement (opened first),
//! which recovery pays the same way. Every step only matches documents in the state it expects,
//! so writers and any number of recoveries, on any instances, may run at once: each result is
//! paid exactly once. A fenced settlement stays open for [`FORGET_AFTER`] unless its writer is
//! known gone, so that a result its writer inserts late is still found and paid. Fence entries
//! (empty) stay on the owner, a few bytes per settlement a crash interrupted.

use super::{errors, queries, Handles, SETTLEMENTS, USERS};
use crate::domain::UserId;
use crate::store::StoreResult;
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a fenced settlement stays open for its writer's late inserts: longer than a writer
/// takes from opening a settlement to its insert (it gives up after [`MAX_OPEN_TO_INSERT`], and
/// the driver's timeouts end an insert well before this).
pub(super) const FORGET_AFTER: Duration = Duration::from_secs(300);
/// A writer inserts a settlement's results only this soon after opening it.
pub(super) const MAX_OPEN_TO_INSERT: Duration = Duration::from_secs(30);

/// An open settlement: one owner's share of a batch, written before its results.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct SettlementDoc {
    #[serde(rename = "_id")]
    pub(super) id: ObjectId,
    pub(super) owner: ObjectId,
    /// The server instance that opened it, which finishes it at once after a crash.
    pub(super) instance: String,
    /// The results it pays, and what each earns (same order).
    pub(super) results: Vec<ObjectId>,
    pub(super) credits: Vec<i64>,
}

/// Why a settlement was not paid.
#[derive(Debug)]
pub(super) enum Unpaid {
    /// Its entry is on the owner already: a recovery fenced it and pays its results.
    Fenced,
    /// The balance would pass the maximum.
    Overflow,
    /// There is no such owner.
    NoOwner,
}

/// One owner's share of a batch.
pub(super) struct Settlement {
    pub(super) id: ObjectId,
    pub(super) owner: UserId,
    pub(super) results: Vec<ObjectId>,
    pub(super) credits: i64,
}

/// The settlements of this process's batches still being written: a duplicate of one of their
/// results waits for them rather than settling them through recovery.
#[derive(Clone, Default)]
pub(crate) struct Live(Arc<Mutex<HashSet<ObjectId>>>);

impl Live {
    /// Registers `ids` until the returned guard is dropped.
    pub(super) fn hold(&self, ids: impl IntoIterator<Item = ObjectId>) -> Held {
        let ids: Vec<ObjectId> = ids.into_iter().collect();
        self.lock().extend(ids.iter().copied());
        Held {
            live: self.clone(),
            ids,
        }
    }

    /// Whether `id` is being written by this process.
    pub(super) fn contains(&self, id: &ObjectId) -> bool {
        self.lock().contains(id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<ObjectId>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Keeps settlements registered in [`Live`] while it lives.
pub(super) struct Held {
    live: Live,
    ids: Vec<ObjectId>,
}

impl Held {
    /// The settlements held.
    pub(super) fn ids(&self) -> &[ObjectId] {
        &self.ids
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut live = self.live.lock();
        for id in &self.ids {
            live.remove(id);
        }
    }
}

/// Pays `settlement` unless it was paid or fenced before.
pub(super) async fn pay(
    store: &Handles,
    settlement: &Settlement,
) -> StoreResult<Result<(), Unpaid>> {
    let filter = doc! {
        "_id": settlement.owner.oid(),
        "settled.s": { "$ne": settlement.id },
        "credits": { "$lte": i64::MAX - settlement.credits },
    };
    let entry =
        doc! { "s": settlement.id, "ids": &settlement.results, "instance": &*store.instance };
    let update = doc! {
        "$inc": { "credits": settlement.credits },
        "$push": { "settled": entry },
    };
    let paid = errors::repeat_on_clash(|| store.users.update_one(filter.clone(), update.clone()))
        .await
        .map_err(errors::from_driver)?;
    if paid.matched_count == 1 {
        return Ok(Ok(()));
    }
    Ok(Err(
        match entry_of(store, settlement.owner.oid(), settlement.id).await? {
            Lookup::NoOwner => Unpaid::NoOwner,
            // Ours: an attempt that was applied although it reported an error, repeated.
            Lookup::Entry(paid)
                if !paid.is_empty()
                    && paid.len() == settlement.results.len()
                    && settlement.results.iter().all(|r| paid.contains(r)) =>
            {
                return Ok(Ok(()))
            }
            Lookup::Entry(_) => Unpaid::Fenced,
            Lookup::None => Unpaid::Overflow,
        },
    ))
}

/// Opens `settlements`, before their results are inserted.
pub(super) async fn open(store: &Handles, settlements: &[SettlementDoc]) -> StoreResult<()> {
    if settlements.is_empty() {
        return Ok(());
    }
    store
        .settlements
        .insert_many(settlements)
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

/// Closes a paid settlement: deletes its document, then its entry on the owner.
pub(super) async fn finish(store: &Handles, settlement: &Settlement) -> StoreResult<()> {
    close(store, settlement.id).await?;
    let owner = doc! { "_id": settlement.owner.oid() };
    let pull = doc! { "$pull": { "settled": { "s": settlement.id } } };
    errors::repeat_on_clash(|| store.users.update_one(owner.clone(), pull.clone()))
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

/// Deletes the documents of settlements `ids` (nothing of them is left to pay).
pub(super) async fn close_all(store: &Handles, ids: &[ObjectId]) -> StoreResult<()> {
    store
        .settlements
        .delete_many(doc! { "_id": { "$in": ids } })
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

async fn close(store: &Handles, id: ObjectId) -> StoreResult<()> {
    close_all(store, &[id]).await
}

/// Of settlements `ids`, those still open.
pub(super) async fn still_open(store: &Handles, ids: &[ObjectId]) -> StoreResult<Vec<ObjectId>> {
    let open = doc! { "_id": { "$in": ids } };
    queries::object_ids(store, SETTLEMENTS, open, "_id").await
}

enum Lookup {
    NoOwner,
    None,
    Entry(HashSet<ObjectId>),
}

/// The owner's entry for `settlement`: the results it paid.
async fn entry_of(store: &Handles, owner: ObjectId, settlement: ObjectId) -> StoreResult<Lookup> {
    let user = store
        .raw(USERS)
        .find_one(doc! { "_id": owner })
        .projection(doc! { "settled": 1 })
        .await
        .map_err(errors::from_driver)?;
    let Some(user) = user else {
        return Ok(Lookup::NoOwner);
    };
    let entries = user.get_array("settled").map(Vec::as_slice).unwrap_or(&[]);
    for entry in entries.iter().filter_map(Bson::as_document) {
        if entry.get_object_id("s").ok() == Some(settlement) {
            let ids = entry.get_array("ids").map(Vec::as_slice).unwrap_or(&[]);
            return Ok(Lookup::Entry(
                ids.iter().filter_map(Bson::as_object_id).collect(),
            ));
        }
    }
    Ok(Lookup::None)
}

/// Whether the writers of the settlements a recovery finishes may still be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Writers {
    /// Gone for sure (this instance's own, at its startup): what is found is all there is.
    Gone,
    /// Maybe still running (another instance, or this one's live batches).
    MaybeRunning,
}

/// Finishes every open settlement `filter` selects; returns how many results were paid here.
pub(super) async fn recover(
    store: &Handles,
    filter: Document,
    writers: Writers,
) -> StoreResult<usize> {
    let open: Vec<SettlementDoc> = store
        .settlements
        .find(filter)
        .await
        .map_err(errors::from_driver)?
        .try_collect()
        .await
        .map_err(errors::from_driver)?;
    let mut paid = 0;
    for settlement in open {
        paid += resolve(store, settlement, writers).await?;
    }
    Ok(paid)
}

/// Finishes one open settlement.
async fn resolve(store: &Handles, open: SettlementDoc, writers: Writers) -> StoreResult<usize> {
    let (settlement, owner) = (open.id, open.owner);
    let entry = match entry_of(store, owner, settlement).await? {
        Lookup::Entry(paid) => paid,
        Lookup::NoOwner => {
            tracing::error!(%owner, %settlement, "results owe a reward to an unknown user");
            close(store, settlement).await?;
            return Ok(0);
        }
        Lookup::None => match fence(store, owner, settlement).await? {
            true => HashSet::new(),
            false => match entry_of(store, owner, settlement).await? {
                Lookup::Entry(paid) => paid,
                _ => return Ok(0), // changed under us: the next pass sees it settled
            },
        },
    };
    let credits: HashMap<ObjectId, i64> = open.results.iter().copied().zip(open.credits).collect();
    let stored = stored_results(store, settlement, &open.results).await?;
    let unpaid: Vec<(ObjectId, i64)> = stored
        .into_iter()
        .filter(|r| !entry.contains(r))
        .map(|r| (r, credits.get(&r).copied().unwrap_or(0)))
        .collect();
    let repaid = if unpaid.is_empty() {
        0
    } else {
        repay(store, settlement, owner, unpaid).await?
    };
    let done = Settlement {
        id: settlement,
        owner: owner.into(),
        results: Vec::new(),
        credits: 0,
    };
    if !entry.is_empty() {
        // Paid by its writer, who inserted everything before paying.
        finish(store, &done).await?;
    } else if writers == Writers::Gone || older_than(settlement, FORGET_AFTER) {
        close(store, settlement).await?;
    }
    Ok(repaid)
}

/// Whether settlement `id` was opened longer than `age` ago (its id's timestamp).
fn older_than(id: ObjectId, age: Duration) -> bool {
    let opened = id.timestamp().to_system_time();
    opened.elapsed().is_ok_and(|elapsed| elapsed > age)
}

/// Of `results`, those stored under `settlement`.
async fn stored_results(
    store: &Handles,
    settlement: ObjectId,
    results: &[ObjectId],
) -> StoreResult<Vec<ObjectId>> {
    let stored = doc! { "_id": { "$in": results }, "settlement": settlement };
    queries::object_ids(store, super::RESULTS, stored, "_id").await
}

/// Finishes the settlement entries `filter` selects on owners whose settlement is closed (paid,
/// but the writer died before removing the entry); `select` picks the entries.
pub(super) async fn recover_entries(
    store: &Handles,
    filter: Document,
    select: impl Fn(&Document) -> bool,
) -> StoreResult<()> {
    let mut users = store
        .raw(USERS)
        .find(filter)
        .projection(doc! { "settled": 1 })
        .await
        .map_err(errors::from_driver)?;
    while let Some(user) = users.try_next().await.map_err(errors::from_driver)? {
        let Ok(owner) = user.get_object_id("_id") else {
            continue;
        };
        let entries = user.get_array("settled").map(Vec::as_slice).unwrap_or(&[]);
        for entry in entries.iter().filter_map(Bson::as_document) {
            let ids = entry.get_array("ids").map(Vec::as_slice).unwrap_or(&[]);
            let Ok(settlement) = entry.get_object_id("s") else {
                continue;
            };
            if ids.is_empty() || !select(entry) {
                continue; // a fence: stays
            }
            if !still_open(store, &[settlement]).await?.is_empty() {
                continue; // resolved with its settlement
            }
            let done = Settlement {
                id: settlement,
                owner: owner.into(),
                results: Vec::new(),
                credits: 0,
            };
            finish(store, &done).await?;
        }
    }
    Ok(())
}

/// Pushes an empty entry for `settlement` unless one is there; whether it did.
async fn fence(store: &Handles, owner: ObjectId, settlement: ObjectId) -> StoreResult<bool> {
    let unfenced = doc! { "_id": owner, "settled.s": { "$ne": settlement } };
    let fence = doc! { "$push": { "settled": { "s": settlement, "ids": [] } } };
    let fenced =
        errors::repeat_on_clash(|| store.users.update_one(unfenced.clone(), fence.clone()))
            .await
            .map_err(errors::from_driver)?;
    Ok(fenced.matched_count == 1)
}

/// Moves unpaid results of a fenced settlement to a fresh one (opened first) and pays that.
async fn repay(
    store: &Handles,
    old: ObjectId,
    owner: ObjectId,
    unpaid: Vec<(ObjectId, i64)>,
) -> StoreResult<usize> {
    let fresh = SettlementDoc {
        id: ObjectId::new(),
        owner,
        instance: store.instance.to_string(),
        results: unpaid.iter().map(|(id, _)| *id).collect(),
        credits: unpaid.iter().map(|(_, credits)| *credits).collect(),
    };
    open(store, std::slice::from_ref(&fresh)).await?;
    let unpaid = doc! { "_id": { "$in": &fresh.results }, "settlement": old };
    let moved = doc! { "$set": { "settlement": fresh.id } };
    errors::repeat_on_clash(|| store.results.update_many(unpaid.clone(), moved.clone()))
        .await
        .map_err(errors::from_driver)?;
    let moved = stored_results(store, fresh.id, &fresh.results).await?;
    let credits: HashMap<ObjectId, i64> =
        fresh.results.iter().copied().zip(fresh.credits).collect();
    let settlement = Settlement {
        id: fresh.id,
        owner: owner.into(),
        credits: moved
            .iter()
            .map(|r| credits.get(r).copied().unwrap_or(0))
            .fold(0i64, i64::saturating_add),
        results: moved,
    };
    if settlement.results.is_empty() {
        close(store, settlement.id).await?;
        return Ok(0);
    }
    match pay(store, &settlement).await? {
        Ok(()) => {
            finish(store, &settlement).await?;
            tracing::info!(%owner, results = settlement.results.len(), "rewards of interrupted results paid");
            Ok(settlement.results.len())
        }
        Err(Unpaid::Fenced) => Ok(0),
        Err(unpaid) => {
            tracing::error!(%owner, ?unpaid, results = settlement.results.len(), "rewards cannot be paid; settlement left open");
            Ok(0)
        }
    }
}
