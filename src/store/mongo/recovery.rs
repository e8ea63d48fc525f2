//! Finishing what a writer left half done: debits whose operation may be missing, results
//! whose reward may be unpaid.
//!
//! Each write leaves a marker until it is finished ([`super::debits`], [`super::settlement`]),
//! naming its instance. At startup an instance finishes all of its own markers (none of its
//! writes can still be running); every [`SWEEP_EVERY`] each instance finishes every marker older
//! than [`STALE_AFTER`], for instances that crashed and did not come back. Finishing is safe even
//! while the writer is still running, so these delays only spare live writers useless work.

use super::debits::{self, Selection};
use super::{settlement, Handles};
use crate::store::StoreResult;
use bson::oid::ObjectId;
use bson::{doc, DateTime};
use std::time::Duration;

/// Age past which any instance finishes another's marker.
pub(super) const STALE_AFTER: Duration = Duration::from_secs(60);
/// Period of the sweep for stale markers.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Finishes every marker of `instance`.
pub(super) async fn of_instance(store: &Handles, instance: &str) -> StoreResult<()> {
    debits::recover(store, Selection::Instance(instance)).await?;
    let own = doc! { "instance": instance };
    settlement::recover(store, own, settlement::Writers::Gone).await?;
    let own = |entry: &bson::Document| entry.get_str("instance") == Ok(instance);
    settlement::recover_entries(store, doc! { "settled.instance": instance }, own).await
}

/// Finishes every marker older than [`STALE_AFTER`].
async fn stale(store: &Handles) -> StoreResult<()> {
    let cutoff = std::time::SystemTime::now() - STALE_AFTER;
    let cutoff = DateTime::from_system_time(cutoff);
    debits::recover(store, Selection::Before(cutoff)).await?;
    let before = settlement_id_at(cutoff);
    let old = doc! { "_id": { "$lt": before } };
    settlement::recover(store, old, settlement::Writers::MaybeRunning).await?;
    let old = |entry: &bson::Document| entry.get_object_id("s").is_ok_and(|s| s < before);
    settlement::recover_entries(store, doc! { "settled.s": { "$lt": before } }, old).await
}

/// The smallest ObjectId of second `at`: settlement ids below it are older.
fn settlement_id_at(at: DateTime) -> ObjectId {
    let seconds = u32::try_from(at.timestamp_millis() / 1000).unwrap_or(0);
    let mut bytes = [0u8; 12];
    bytes[..4].copy_from_slice(&seconds.to_be_bytes());
    ObjectId::from_bytes(bytes)
}

/// Starts the periodic sweep on the current runtime.
pub(super) fn start_sweeper(store: Handles) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.tick().await; // the first tick is immediate; startup has its own pass
        loop {
            ticks.tick().await;
            if let Err(error) = stale(&store).await {
                tracing::warn!(%error, "recovery sweep failed; next one in a minute");
            }
        }
    })
}
