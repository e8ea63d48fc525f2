//! Paying results' rewards exactly once, one update per owner and batch.
//!
//! A result is inserted carrying its unpaid reward and a settlement id, one per owner and batch
//! (see `documents::PendingReward`). The settlement is paid by one conditional update of the
//! owner: `$inc` the sum, and push `{s: settlement, ids: [results paid]}` onto the owner's
//! `settled` list, only if no entry for that settlement is there. That entry makes the payment
//! idempotent and says exactly which results it paid. Then the results' markers are removed,
//! then the entry.
//!
//! Recovery finds results still carrying a marker. For each settlement it reads the owner's
//! entry; if there is none it first pushes an empty one (a fence: from then on the writer's own
//! payment of that settlement can no longer match). Results the entry lists are paid: their
//! marker goes. The others are unpaid: they move to a fresh settlement that recovery pays the
//! same way. Every step only matches documents in the state it expects, so writers and any
//! number of recoveries, on any instances, may run at once: each result is paid exactly once.
//! Fence entries (empty) stay on the owner, a few bytes per settlement a crash interrupted.

use super::{errors, Handles, USERS};
use crate::domain::UserId;
use crate::store::{StoreError, StoreResult};
use bson::oid::ObjectId;
use bson::{doc, Bson, Document};
use futures::TryStreamExt;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// Most marked results one recovery pass reads.
const MAX_RECOVERED: i64 = 100_000;

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

/// Removes the markers of a paid settlement's results, then its entry on the owner.
pub(super) async fn finish(store: &Handles, settlement: &Settlement) -> StoreResult<()> {
    unmark(store, settlement.id, &settlement.results).await?;
    let owner = doc! { "_id": settlement.owner.oid() };
    let pull = doc! { "$pull": { "settled": { "s": settlement.id } } };
    errors::repeat_on_clash(|| store.users.update_one(owner.clone(), pull.clone()))
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

async fn unmark(store: &Handles, settlement: ObjectId, results: &[ObjectId]) -> StoreResult<()> {
    let marked = doc! { "_id": { "$in": results }, "pending.settlement": settlement };
    let unset = doc! { "$unset": { "pending": "" } };
    errors::repeat_on_clash(|| store.results.update_many(marked.clone(), unset.clone()))
        .await
        .map(drop)
        .map_err(errors::from_driver)
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

/// Settles every marked result `filter` selects; returns how many results were paid here.
pub(super) async fn recover(store: &Handles, filter: Document) -> StoreResult<usize> {
    let mut found = store
        .raw(super::RESULTS)
        .find(filter)
        .projection(doc! { "pending": 1 })
        .limit(MAX_RECOVERED)
        .await
        .map_err(errors::from_driver)?;
    let mut settlements: BTreeMap<ObjectId, (ObjectId, Vec<ObjectId>)> = BTreeMap::new();
    while let Some(result) = found.try_next().await.map_err(errors::from_driver)? {
        let (Ok(id), Ok(pending)) = (result.get_object_id("_id"), result.get_document("pending"))
        else {
            continue;
        };
        let (Ok(settlement), Ok(owner)) = (
            pending.get_object_id("settlement"),
            pending.get_object_id("owner"),
        ) else {
            return Err(StoreError::Corrupt(format!(
                "result {id}: bad pending reward"
            )));
        };
        settlements
            .entry(settlement)
            .or_insert((owner, Vec::new()))
            .1
            .push(id);
    }
    let mut paid = 0;
    for (settlement, (owner, results)) in settlements {
        paid += resolve(store, settlement, owner, results).await?;
    }
    Ok(paid)
}

/// Finishes one settlement of which `results` were seen marked.
async fn resolve(
    store: &Handles,
    settlement: ObjectId,
    owner: ObjectId,
    results: Vec<ObjectId>,
) -> StoreResult<usize> {
    let entry = match entry_of(store, owner, settlement).await? {
        Lookup::Entry(paid) => paid,
        Lookup::NoOwner => {
            tracing::error!(%owner, %settlement, "results owe a reward to an unknown user");
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
    // All the entry paid, not only what was seen: once the entry goes, a marked result must be
    // an unpaid one.
    let paid: Vec<ObjectId> = entry.iter().copied().collect();
    unmark(store, settlement, &paid).await?;
    let unpaid: Vec<ObjectId> = results.into_iter().filter(|r| !entry.contains(r)).collect();
    let repaid = if unpaid.is_empty() {
        0
    } else {
        repay(store, settlement, owner, unpaid).await?
    };
    if !entry.is_empty() {
        let done = Settlement {
            id: settlement,
            owner: owner.into(),
            results: Vec::new(),
            credits: 0,
        };
        finish(store, &done).await?;
    }
    Ok(repaid)
}

/// Finishes the settlement entries `filter` selects on owners (paid, but the writer died
/// before removing the entry, maybe after unmarking its results); `select` picks the entries.
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
            let done = Settlement {
                id: settlement,
                owner: owner.into(),
                results: ids.iter().filter_map(Bson::as_object_id).collect(),
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

/// Moves unpaid results of a fenced settlement to a fresh one and pays that.
async fn repay(
    store: &Handles,
    old: ObjectId,
    owner: ObjectId,
    unpaid: Vec<ObjectId>,
) -> StoreResult<usize> {
    let fresh = ObjectId::new();
    let unpaid = doc! { "_id": { "$in": &unpaid }, "pending.settlement": old };
    let moved =
        doc! { "$set": { "pending.settlement": fresh, "pending.instance": &*store.instance } };
    errors::repeat_on_clash(|| store.results.update_many(unpaid.clone(), moved.clone()))
        .await
        .map_err(errors::from_driver)?;
    let mut moved = store
        .raw(super::RESULTS)
        .find(doc! { "pending.settlement": fresh })
        .projection(doc! { "pending.credits": 1 })
        .await
        .map_err(errors::from_driver)?;
    let mut settlement = Settlement {
        id: fresh,
        owner: owner.into(),
        results: Vec::new(),
        credits: 0,
    };
    while let Some(result) = moved.try_next().await.map_err(errors::from_driver)? {
        let id = result
            .get_object_id("_id")
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let credits = result
            .get_document("pending")
            .and_then(|p| p.get_i64("credits"))
            .map_err(|e| StoreError::Corrupt(format!("result {id}: {e}")))?;
        settlement.results.push(id);
        settlement.credits = settlement.credits.saturating_add(credits);
    }
    if settlement.results.is_empty() {
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
            tracing::error!(%owner, ?unpaid, results = settlement.results.len(), "rewards cannot be paid; left marked");
            Ok(0)
        }
    }
}
