//! What GET /health and GET /metrics ask of the embedded store: a real write, and counts.

use super::tables::{Def, OPERATIONS, PROBES, RESULTS, USERS};
use crate::store::{Inventory, StoreResult};
use redb::{
    ReadTransaction, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Marker name → nothing: written and deleted again by every health check. Not among
/// [`super::tables::ALL`]: it is empty between checks, and nothing else reads it.
const HEALTH_MARKERS: Def = TableDefinition::new("health_markers");

/// Writes the marker (its value is irrelevant).
pub(super) fn put_marker(txn: &WriteTransaction, marker: &str) -> StoreResult<()> {
    txn.open_table(HEALTH_MARKERS)?
        .insert(marker.as_bytes(), [].as_slice())?;
    Ok(())
}

/// Deletes the marker.
pub(super) fn remove_marker(txn: &WriteTransaction, marker: &str) -> StoreResult<()> {
    txn.open_table(HEALTH_MARKERS)?.remove(marker.as_bytes())?;
    Ok(())
}

/// Only whether a stored probe has a link, without decoding the rest of it.
#[derive(Deserialize)]
struct LinkPresence {
    #[serde(default)]
    link: Option<IgnoredAny>,
}

/// Table lengths are kept in redb's b-tree headers, so four of the counts cost nothing; the
/// connected probes take one pass over the probes table, which is small (one row per probe).
pub(super) fn inventory(txn: &ReadTransaction) -> StoreResult<Inventory> {
    let len = |table: Def| -> StoreResult<u64> { Ok(txn.open_table(table)?.len()?) };
    let mut probes_connected = 0;
    for entry in txn.open_table(PROBES)?.iter()? {
        let probe: LinkPresence = super::tables::decode(entry?.1.value())?;
        probes_connected += u64::from(probe.link.is_some());
    }
    Ok(Inventory {
        users: len(USERS)?,
        probes: len(PROBES)?,
        probes_connected,
        operations: len(OPERATIONS)?,
        results: len(RESULTS)?,
    })
}
