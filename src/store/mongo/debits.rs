//! Paying for an operation without a transaction: the debit is the commit point.
//!
//! 1. One conditional update of the owner takes the price if the balance covers it and, in the
//!    same update, pushes a pending-debit marker that carries the whole operation document.
//! 2. The operation and its assignments are inserted, side by side; then the caller hears `Ok`.
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
use bson::{doc, DateTime, Document};
use futures::TryStreamExt;
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

pub(super) async fn create_operation(
    store: &Handles,
    clearer: &Clearer,
    operation: &Operation,
) -> StoreResult<()> {
    let document = OperationDoc::try_from(operation)?;
    let price = operation.credits.as_i64();
    let marker = PendingDebit {
        id: operation.id.oid(),
        at: DateTime::now(),
        instance: store.instance.to_string(),
        operation: document.clone(),
    };
    let marker = bson::to_bson(&marker)
        .map_err(|e| StoreError::Corrupt(format!("pending debit cannot be stored: {e}")))?;
    // Conditional on the marker's absence, so that repeating the update (see
    // `errors::repeat_on_clash`) cannot debit twice: a repeat finds its own marker.
    let id = operation.id.oid();
    let covered = doc! {
        "_id": operation.owner.oid(),
        "credits": { "$gte": price },
        "pending_debits.id": { "$ne": id },
    };
    let debit = doc! { "$inc": { "credits": -price }, "$push": { "pending_debits": marker } };
    let debited =
        errors::repeat_on_clash(|| store.users.update_one(covered.clone(), debit.clone()))
            .await
            .map_err(errors::from_driver)?;
    if debited.matched_count == 0 && !marked(store, operation.owner, id).await? {
        return Err(if accounts::exists(store, operation.owner).await? {
            StoreError::NotEnoughCredits
        } else {
            StoreError::NotFound("user")
        });
    }
    // Failing here leaves the marker: the operation is completed by recovery.
    insert(store, &document, assignments_of(operation)).await?;
    // If the clearer is gone, so is the store: recovery pulls the marker.
    let _ = clearer
        .completed
        .send((operation.owner, operation.id.oid()));
    Ok(())
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

/// Inserts the operation and its assignments; those already there (recovery or the writer got
/// there first) count as inserted.
async fn insert(
    store: &Handles,
    operation: &OperationDoc,
    assignments: Vec<AssignmentDoc>,
) -> StoreResult<()> {
    let operation = async {
        match store.operations.insert_one(operation).await {
            Err(e) if errors::duplicate_key(&e).is_none() => Err(errors::from_driver(e)),
            _ => Ok(()),
        }
    };
    let assignments = async {
        if assignments.is_empty() {
            return Ok(());
        }
        let inserted = store
            .assignments
            .insert_many(assignments)
            .ordered(false)
            .await;
        match inserted {
            Err(e) if !errors::only_duplicates(&e) => Err(errors::from_driver(e)),
            _ => Ok(()),
        }
    };
    let (operation, assignments) = futures::join!(operation, assignments);
    operation.and(assignments)
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
            insert(store, &marker.operation, assignments_of(&operation)).await?;
            clear(store, owner.into(), &[marker.id]).await?;
            tracing::info!(operation = %marker.id, "operation of an interrupted debit completed");
            completed += 1;
        }
    }
    Ok(completed)
}
