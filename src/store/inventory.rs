//! What the store holds, counted for the metrics' inventory gauges.

use serde::Serialize;

/// How many records of each kind the store holds. Counts come from the database's own
/// metadata where it keeps them (redb table lengths, MongoDB's collection statistics), so that
/// a scrape costs the same with a thousand results or a billion; MongoDB's estimates can be off
/// after an unclean shutdown until it recounts, which a gauge can live with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    /// Accounts.
    pub users: u64,
    /// Registered probes.
    pub probes: u64,
    /// Probes connected to any instance, as the store records their links.
    pub probes_connected: u64,
    /// Operations ever created.
    pub operations: u64,
    /// Stored results.
    pub results: u64,
}
