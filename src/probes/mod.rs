//! What the server does about probes beyond storing them: the cached public list and the
//! changes that invalidate it, revoking and removing, and auditing links against the store.
//! (A probe's record is `store::Probe`; its location is `domain::Location`.)

pub mod changes;
pub mod link_audit;
pub mod listing;
pub mod revocation;

pub use changes::ProbeGeneration;
pub use listing::ProbeListCache;
