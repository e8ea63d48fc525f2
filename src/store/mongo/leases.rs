//! Quota slots counted ahead: one conditional `$inc` of an assignment's count per
//! [`AHEAD`] results of a probe rather than one per batch.
//!
//! A probe's results arrive through one link, on one instance, a window at a time; every batch
//! holds a few of them for each of many probes, and counting each probe's slots in every batch
//! cost one write per probe and batch. So a batch counts [`AHEAD`] slots more than it needs
//! when the maximum allows, and this process keeps them for the probe's next batches, as it
//! keeps the slots of results that turned out to be duplicates. The count in the database never
//! falls below what is stored and held, so the maximum still holds across instances.
//!
//! Slots are kept briefly: a background task gives back to the database those unused for
//! [`IDLE`] or counted more than [`MAX_AGE`] ago (another instance may need them when the probe
//! moves there; the results it was refused meanwhile are only told to come again, see
//! `quota`). A crash loses the slots kept: the count stays above what is stored until it is
//! stale and repaired (`quota::STALE_COUNT`, far longer than [`MAX_AGE`], so that a repair
//! never undoes slots still kept).

use super::{quota, Handles};
use bson::doc;
use bson::oid::ObjectId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// Slots counted ahead of need, per assignment, when its maximum allows.
pub(super) const AHEAD: usize = 64;
/// Slots unused this long go back to the database.
pub(super) const IDLE: Duration = Duration::from_secs(1);
/// Slots counted this long ago are never used, and go back to the database.
pub(super) const MAX_AGE: Duration = Duration::from_secs(30);

/// An assignment: (operation, probe).
pub(super) type Pair = (ObjectId, ObjectId);

#[derive(Clone, Copy)]
struct Kept {
    slots: usize,
    /// When the oldest of them was counted in the database.
    counted: Instant,
    /// When they were last taken or added to.
    touched: Instant,
}

/// The slots this process counted and did not use, per assignment.
#[derive(Clone, Default)]
pub(crate) struct Leases(Arc<Mutex<HashMap<Pair, Kept>>>);

impl Leases {
    /// Takes up to `wanted` kept slots of `pair`; returns how many, and when the oldest of
    /// them was counted.
    pub(super) fn take(&self, pair: Pair, wanted: usize) -> (usize, Instant) {
        let now = Instant::now();
        let mut kept = self.lock();
        let Some(entry) = kept.get_mut(&pair) else {
            return (0, now);
        };
        if entry.counted.elapsed() >= MAX_AGE {
            return (0, now); // the sweep gives them back
        }
        let taken = entry.slots.min(wanted);
        entry.slots -= taken;
        entry.touched = now;
        (taken, entry.counted)
    }

    /// Keeps `slots` of `pair`, counted in the database at `counted`.
    pub(super) fn keep(&self, pair: Pair, slots: usize, counted: Instant) {
        if slots == 0 {
            return;
        }
        let now = Instant::now();
        let mut kept = self.lock();
        let entry = kept.entry(pair).or_insert(Kept {
            slots: 0,
            counted,
            touched: now,
        });
        entry.slots += slots;
        entry.counted = entry.counted.min(counted);
        entry.touched = now;
    }

    /// Removes and returns the slots due back to the database.
    fn due(&self) -> Vec<(Pair, usize)> {
        let mut due = Vec::new();
        self.lock().retain(|&pair, kept| {
            let expired = kept.touched.elapsed() >= IDLE || kept.counted.elapsed() >= MAX_AGE;
            if expired && kept.slots > 0 {
                due.push((pair, kept.slots));
            }
            !expired && kept.slots > 0
        });
        due
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Pair, Kept>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Gives back due slots, every [`IDLE`], until the store is dropped (the task is aborted).
pub(super) fn start_returning(store: Handles) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(IDLE);
        loop {
            ticks.tick().await;
            give_back_due(&store).await;
        }
    })
}

async fn give_back_due(store: &Handles) {
    let returns = store
        .leases
        .due()
        .into_iter()
        .map(|((o, p), slots)| async move {
            let key = doc! { "operation": o, "probe": p };
            if let Err(error) = quota::release(store, &key, slots).await {
                // Left counted: repaired once stale (see `quota`).
                tracing::warn!(%error, slots, "kept quota slots not given back");
            }
        });
    futures::future::join_all(returns).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Pair {
        (ObjectId::new(), ObjectId::new())
    }

    #[tokio::test(start_paused = true)]
    async fn kept_slots_are_taken_until_idle_or_old() {
        let leases = Leases::default();
        let p = pair();
        leases.keep(p, 5, Instant::now());
        assert_eq!(leases.take(p, 3).0, 3);
        assert_eq!(leases.take(p, 3).0, 2);
        assert_eq!(leases.take(p, 3).0, 0);
        leases.keep(p, 4, Instant::now());
        assert!(leases.due().is_empty());
        tokio::time::advance(IDLE).await;
        assert_eq!(leases.due(), vec![(p, 4)]);
        assert_eq!(leases.take(p, 1).0, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn slots_counted_long_ago_are_not_used_even_when_busy() {
        let leases = Leases::default();
        let p = pair();
        leases.keep(p, 100, Instant::now());
        let step = Duration::from_millis(500);
        for _ in 1..(MAX_AGE.as_millis() / step.as_millis()) {
            tokio::time::advance(step).await;
            assert_eq!(leases.take(p, 1).0, 1);
        }
        tokio::time::advance(step).await;
        assert_eq!(leases.take(p, 1).0, 0);
        assert_eq!(leases.due().len(), 1);
    }
}
