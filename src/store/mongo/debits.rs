//! Paying for an operation without a transaction: the debit is the commit point.
//!
//! 1. One conditional update of the owner takes the price if the balance covers it and, in the
//!    same update, pushes a pending-debit marker that carries the whole operation document.
//!    Operations of one owner created at the same time are paid together ([`super::debiter`]):
//!    one update takes their summed price and pushes all their markers, or takes nothing.
//! 2. The operations and their assignments are inserted, one `insert_many` each, side by side;
//!    then the callers hear `Ok`.
//! 3. The marker is pulled, after the answer, by the [`Clearer`]: one `$pull` per owner for all
//!    the markers of that owner's operations completed meanwhile.
//!
//! A crash after step 1 leaves the marker, and with it everything needed to finish: recovery
//! ([`super::recovery`]) inserts the operation and its assignments, skipping those already
//! there, then pulls the marker. So a paid operation is always completed and the payment is
//! never lost nor taken twice (the marker is pushed by the debit itself). Writer and recovery
//! only ever insert the same documents under fixed ids, so they may race freely, on any
//! number of instances. Operation ids are fresh ObjectIds, never reused, so an operation that
//! is already there is this one.

use super::documents::{AssignmentDoc, OperationDoc};
use super::operations::assignments_of;
use super::{accounts, errors, Handles, USERS};
use crate::domain::UserId;
use crate::store::{Operation, StoreError, StoreResult};
use bson::oid::ObjectId;
use bson::{doc, Bson, DateTime, Document};
use futures::TryStreamExt;
use mongodb::Collection;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use tokio::sync::mpsc;

/// The marker of a debit whose operation may not be stored yet.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PendingDebit {
    /// The operation's id.
    id: ObjectId,
    /// When the debit was made: recovery leaves younger markers of other instances alone.
    at: DateTime,
    /// The instance that made it, which finishes it at once when restarted.
    instance: String,
    /// What to insert.
    operation: OperationDoc,
}

/// Which markers a recovery pass finishes.
pub(super) enum Selection<'a> {
    /// Every marker of this instance (at its startup, when none of its writes can be running).
    Instance(&'a str),
    /// Every marker older than this (a writer that died, on an instance that did not return).
    Before(DateTime),
}

impl Selection<'_> {
    fn filter(&self) -> Document {
        match self {
            Selection::Instance(instance) => doc! { "pending_debits.instance": *instance },
            Selection::Before(at) => doc! { "pending_debits.at": { "$lt": *at } },
        }
    }

    fn selects(&self, marker: &PendingDebit) -> bool {
        match self {
            Selection::Instance(instance) => marker.instance == *instance,
            Selection::Before(at) => marker.at < *at,
        }
    }
}

/// Pulls the markers of completed operations in the background, many per update.
pub(super) struct Clearer {
    completed: mpsc::UnboundedSender<(UserId, ObjectId)>,
}

impl Clearer {
    /// Starts the clearing task on the current runtime; it ends when this is dropped.
    pub(super) fn start(store: Handles) -> Clearer {
        let (completed, queue) = mpsc::unbounded_channel();
        tokio::spawn(clear_completed(store, queue));
        Clearer { completed }
    }

    /// Queues the marker of `id`, whose operation is stored, for pulling.
    pub(super) fn completed(&self, owner: UserId, id: ObjectId) {
        // If the clearer is gone, so is the store: recovery pulls the marker.
        let _ = self.completed.send((owner, id));
    }
}

async fn clear_completed(store: Handles, mut queue: mpsc::UnboundedReceiver<(UserId, ObjectId)>) {
    while let Some(first) = queue.recv().await {
        let mut by_owner: HashMap<UserId, Vec<ObjectId>> = HashMap::new();
        let mut next = Some(first);
        while let Some((owner, id)) = next {
            by_owner.entry(owner).or_default().push(id);
            next = queue.try_recv().ok();
        }
        for (owner, ids) in by_owner {
            if let Err(error) = clear(&store, owner, &ids).await {
                tracing::debug!(%error, %owner, "pending debits left for recovery");
            }
        }
    }
}

/// An operation ready to be paid for: its marker and the documents to insert.
pub(super) struct Prepared {
    pub(super) owner: UserId,
    pub(super) id: ObjectId,
    price: i64,
    marker: Bson,
    /// Its probes: what its marker and its assignments weigh.
    pub(super) probes: usize,
    document: OperationDoc,
    assignments: Vec<AssignmentDoc>,
}

impl Prepared {
    pub(super) fn new(store: &Handles, operation: &Operation) -> StoreResult<Prepared> {
        let document = OperationDoc::try_from(operation)?;
        let marker = PendingDebit {
            id: operation.id.oid(),
            at: DateTime::now(),
            instance: store.instance.to_string(),
            operation: document.clone(),
        };
        let marker = bson::to_bson(&marker)
            .map_err(|e| StoreError::Corrupt(format!("pending debit cannot be stored: {e}")))?;
        Ok(Prepared {
            owner: operation.owner,
            id: operation.id.oid(),
            price: operation.credits.as_i64(),
            marker,
            probes: operation.probes.len(),
            document,
            assignments: assignments_of(operation),
        })
    }
}

/// What one debit of a group of operations did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Debit {
    /// The price of every operation was taken, each with its marker.
    Taken,
    /// The balance does not cover them all; nothing was taken.
    NotCovered,
}

/// Takes the price of every operation of `group` (all of one owner) in one conditional update
/// of the owner, pushing all their markers with it: all or nothing.
pub(super) async fn debit(
    store: &Handles,
    owner: UserId,
    group: &[&Prepared],
) -> StoreResult<Debit> {
    let ids: Vec<ObjectId> = group.iter().map(|p| p.id).collect();
    let price = group
        .iter()
        .fold(0i64, |sum, p| sum.saturating_add(p.price));
    let markers: Vec<Bson> = group.iter().map(|p| p.marker.clone()).collect();
    // Conditional on the markers' absence, so that repeating the update (see
    // `errors::repeat_on_clash`) cannot debit twice: a repeat finds its own markers.
    let covered = doc! {
        "_id": owner.oid(),
        "credits": { "$gte": price },
        "pending_debits.id": { "$nin": &ids },
    };
    let debit = doc! {
        "$inc": { "credits": -price },
        "$push": { "pending_debits": { "$each": markers } },
    };
    let debited =
        errors::repeat_on_clash(|| store.users.update_one(covered.clone(), debit.clone()))
            .await
            .map_err(errors::from_driver)?;
    // The markers are pushed together: finding the first means the update was applied before.
    if debited.matched_count == 1 || marked(store, owner, ids[0]).await? {
        Ok(Debit::Taken)
    } else if accounts::exists(store, owner).await? {
        Ok(Debit::NotCovered)
    } else {
        Err(StoreError::NotFound("user"))
    }
}

/// Inserts the operations of `group`, paid for, and their assignments.
pub(super) async fn complete(store: &Handles, group: &[&Prepared]) -> StoreResult<()> {
    let operations = group.iter().map(|p| &p.document);
    let assignments = group.iter().flat_map(|p| p.assignments.iter());
    insert(store, operations, assignments).await
}

/// Whether the owner holds the pending-debit marker of operation `id`.
async fn marked(store: &Handles, owner: UserId, id: ObjectId) -> StoreResult<bool> {
    let found = store
        .raw(USERS)
        .find_one(doc! { "_id": owner.oid(), "pending_debits.id": id })
        .projection(doc! { "_id": 1 })
        .await
        .map_err(errors::from_driver)?;
    Ok(found.is_some())
}

/// Inserts operations and assignments; those already there (recovery or the writer got there
/// first) count as inserted.
async fn insert<'a>(
    store: &Handles,
    operations: impl Iterator<Item = &'a OperationDoc>,
    assignments: impl Iterator<Item = &'a AssignmentDoc>,
) -> StoreResult<()> {
    let (operations, assignments) = futures::join!(
        insert_unordered(&store.operations, operations.collect()),
        insert_unordered(&store.assignments, assignments.collect()),
    );
    operations.and(assignments)
}

async fn insert_unordered<T>(collection: &Collection<T>, documents: Vec<&T>) -> StoreResult<()>
where
    T: Serialize + Send + Sync,
{
    if documents.is_empty() {
        return Ok(());
    }
    match collection.insert_many(documents).ordered(false).await {
        Err(e) if !errors::only_duplicates(&e) => Err(errors::from_driver(e)),
        _ => Ok(()),
    }
}

async fn clear(store: &Handles, owner: UserId, ids: &[ObjectId]) -> StoreResult<()> {
    let user = doc! { "_id": owner.oid() };
    let pull = doc! { "$pull": { "pending_debits": { "id": { "$in": ids } } } };
    errors::repeat_on_clash(|| store.users.update_one(user.clone(), pull.clone()))
        .await
        .map(drop)
        .map_err(errors::from_driver)
}

/// Completes the selected pending debits; returns how many.
pub(super) async fn recover(store: &Handles, selection: Selection<'_>) -> StoreResult<usize> {
    let mut users = store
        .raw(USERS)
        .find(selection.filter())
        .projection(doc! { "pending_debits": 1 })
        .await
        .map_err(errors::from_driver)?;
    let mut completed = 0;
    while let Some(user) = users.try_next().await.map_err(errors::from_driver)? {
        let owner = user
            .get_object_id("_id")
            .map_err(|e| StoreError::Corrupt(format!("user without an id: {e}")))?;
        let markers: Vec<PendingDebit> = match user.get("pending_debits") {
            Some(markers) => bson::from_bson(markers.clone())
                .map_err(|e| StoreError::Corrupt(format!("user {owner}: pending debit: {e}")))?,
            None => Vec::new(),
        };
        for marker in markers.into_iter().filter(|m| selection.selects(m)) {
            let operation = Operation::try_from(marker.operation.clone())?;
            let assignments = assignments_of(&operation);
            insert(store, [&marker.operation].into_iter(), assignments.iter()).await?;
            clear(store, owner.into(), &[marker.id]).await?;
            tracing::info!(operation = %marker.id, "operation of an interrupted debit completed");
            completed += 1;
        }
    }
    Ok(completed)
}
