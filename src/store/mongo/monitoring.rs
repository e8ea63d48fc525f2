//! What GET /health and GET /metrics ask of MongoDB: a real write, and counts.

use super::{errors, Handles, OPERATIONS, PROBES, RESULTS, USERS};
use crate::store::{Inventory, StoreResult};
use bson::{doc, DateTime};

/// Marker documents, written and deleted again by every health check; empty between checks.
const HEALTH_MARKERS: &str = "health_markers";

/// Inserts then deletes `{_id: marker}`, each acknowledged by a majority from the journal (the
/// client's write concern): a lost primary or a member that cannot write fails here.
pub(super) async fn write_marker(store: &Handles, marker: &str) -> StoreResult<()> {
    let markers = store.raw(HEALTH_MARKERS);
    markers
        .insert_one(doc! { "_id": marker, "at": DateTime::now() })
        .await
        .map_err(errors::from_driver)?;
    markers
        .delete_one(doc! { "_id": marker })
        .await
        .map_err(errors::from_driver)?;
    Ok(())
}

/// Collection sizes from MongoDB's metadata (`estimatedDocumentCount`: no scan, whatever the
/// size); the connected probes are counted exactly, over the probes collection, which is small.
pub(super) async fn inventory(store: &Handles) -> StoreResult<Inventory> {
    let estimate = |name: &'static str| async move {
        store
            .raw(name)
            .estimated_document_count()
            .await
            .map_err(errors::from_driver)
    };
    let probes_connected = store
        .raw(PROBES)
        .count_documents(doc! { "link": { "$ne": null } })
        .await
        .map_err(errors::from_driver)?;
    Ok(Inventory {
        users: estimate(USERS).await?,
        probes: estimate(PROBES).await?,
        probes_connected,
        operations: estimate(OPERATIONS).await?,
        results: estimate(RESULTS).await?,
    })
}
