//! The public probe list (GET /probes), serialised once per change instead of once per call.
//!
//! The frontend polls the list; rendering it reads and serialises every probe. The bytes are
//! kept with the [`ProbeGeneration`] they were read at and served while that generation is
//! current and they are younger than [`MAX_AGE`]. The age bound is for changes this instance
//! cannot see: with MongoDB, several instances share the probes, and another instance's
//! registrations and link changes reach this one's list at most [`MAX_AGE`] late.

use super::changes::ProbeGeneration;
use bytes::Bytes;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest a list is served without reading the store again.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// One rendering of the list.
pub struct Snapshot {
    /// The JSON body.
    pub body: Bytes,
    /// A strong validator of `body` (its hash, quoted): equal bodies, on any instance, have
    /// equal tags, so a poll with `If-None-Match` is answered 304 whichever instance serves it.
    pub etag: String,
    generation: u64,
    taken: Instant,
}

/// The last rendering and what makes it stale.
pub struct ProbeListCache {
    generation: ProbeGeneration,
    last: Mutex<Option<Arc<Snapshot>>>,
}

impl ProbeListCache {
    /// A cache invalidated by `generation`.
    pub fn new(generation: ProbeGeneration) -> Self {
        Self {
            generation,
            last: Mutex::new(None),
        }
    }

    /// The current list: the kept one if still valid, else `render`'s, kept for later. Callers
    /// that miss at the same time each render (no waiting on one another: a slow store then
    /// delays each request once, not all of them one after the other).
    pub async fn get<E, F>(&self, render: impl FnOnce() -> F) -> Result<Arc<Snapshot>, E>
    where
        F: Future<Output = Result<Vec<u8>, E>>,
    {
        let generation = self.generation.current();
        if let Some(kept) = self.kept().filter(|kept| kept.valid_at(generation)) {
            return Ok(kept);
        }
        let body = render().await?;
        let snapshot = Arc::new(Snapshot {
            etag: etag(&body),
            body: Bytes::from(body),
            generation,
            taken: Instant::now(),
        });
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // A slower renderer must not replace a list read at a later generation.
        if last.as_ref().is_none_or(|l| l.generation <= generation) {
            *last = Some(Arc::clone(&snapshot));
        }
        Ok(snapshot)
    }

    fn kept(&self) -> Option<Arc<Snapshot>> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Snapshot {
    fn valid_at(&self, generation: u64) -> bool {
        self.generation == generation && self.taken.elapsed() < MAX_AGE
    }
}

fn etag(body: &[u8]) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}-{:x}\"", hasher.finish(), body.len())
}
