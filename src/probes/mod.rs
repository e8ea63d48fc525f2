//! Probes: where they are, and the public list of them.

pub mod changes;
pub mod listing;
mod location;

pub use changes::{ProbeChangeStore, ProbeGeneration};
pub use listing::ProbeListCache;
pub use location::Location;
