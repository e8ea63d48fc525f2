//! Noticing every change to what the public probe list shows, whichever code path makes it.
//!
//! [`ProbeGeneration`] observes the store (see [`ObservedStore`]) and is bumped after every
//! call that can change a probe record: registration, revocation, removal, link up and down,
//! the in-use credits moved by an assignment, a reset. The cached list of GET /probes (see
//! [`super::listing`]) is valid only for the generation it was read at. Observing the store,
//! rather than bumping in each handler, means a new path that changes probes cannot forget to:
//! a new [`Store`](crate::store::Store) method is listed in [`ObservedStore`] with what it may
//! change.
//!
//! Only this instance's calls are seen; with MongoDB, another instance's changes reach this one's
//! cache through the cache's maximum age.
//!
//! [`ObservedStore`]: crate::store::ObservedStore

use crate::store::{StoreError, StoreObserver, Touched};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A counter raised after every change to probe records. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ProbeGeneration(Arc<AtomicU64>);

impl ProbeGeneration {
    /// The current generation. Read it *before* reading the probes: a change that completes
    /// meanwhile then leaves the list tagged with an older generation, never a newer one.
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called *after* a change completed (or failed: an error may still have written).
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }
}

impl StoreObserver for ProbeGeneration {
    fn after_call(&self, touched: Touched, _: Result<(), &StoreError>) {
        if touched == Touched::Probes {
            self.bump();
        }
    }
}
