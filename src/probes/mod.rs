//! Probes: where they are, the public list of them, their links and revocation.

pub mod changes;
pub mod link_audit;
pub mod listing;
mod location;
pub mod revocation;

pub use changes::{ProbeChangeStore, ProbeGeneration};
pub use listing::ProbeListCache;
pub use location::Location;
