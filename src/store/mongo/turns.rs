//! Taking turns at writing one account within this process.
//!
//! Every new result pays its probe's owner in the same transaction, so the results of all of an
//! owner's probes write one user document. MongoDB lets one of two concurrent transactions that
//! write a document proceed and fails the other with a write conflict, to be run again: with a
//! probe's whole window of results stored at once, dozens of transactions chase one document,
//! most runs are wasted, and some exhaust their retries and are refused (not lost: the probe
//! re-sends, but the store looks unavailable). Within one process the transactions paying one
//! owner therefore take turns; conflicts remain only across server instances and with other
//! writes of the account (a debit), which the retries absorb.
//!
//! Owners share a fixed number of locks by hash, so memory stays bounded whatever the number of
//! owners; two owners sharing a lock only take turns that they did not need to.
//!
//! Turns are an optimisation, never needed for correctness (MongoDB detects every conflict), so
//! a turn is awaited at most [`MAX_WAIT`]: past it the transaction runs anyway. Otherwise, while
//! the database is unreachable and each attempt takes the server-selection timeout to fail, a
//! window of results would fail one after the other instead of together. The wait is long (a
//! shorter one, 1 s, let a slow database's queue of turns run at once again and conflict).

use crate::domain::UserId;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard};

/// Number of locks; owners writing at once beyond this share.
const LOCKS: usize = 64;
/// Longest wait for a turn.
pub(super) const MAX_WAIT: Duration = Duration::from_secs(30);

/// The locks, one per hash bucket of owners.
pub(super) struct Turns {
    locks: Vec<Mutex<()>>,
    max_wait: Duration,
}

impl Turns {
    /// Turns awaited at most `max_wait` ([`MAX_WAIT`] in the store).
    pub(super) fn new(max_wait: Duration) -> Turns {
        Turns {
            locks: (0..LOCKS).map(|_| Mutex::new(())).collect(),
            max_wait,
        }
    }

    /// Waits for `owner`'s turn, which lasts as long as the guard; `None` if it did not come
    /// within the longest wait.
    pub(super) async fn of(&self, owner: UserId) -> Option<MutexGuard<'_, ()>> {
        let mut hasher = DefaultHasher::new();
        owner.hash(&mut hasher);
        let bucket = (hasher.finish() % LOCKS as u64) as usize;
        tokio::time::timeout(self.max_wait, self.locks[bucket].lock())
            .await
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test]
    async fn one_owner_takes_turns_others_need_not_wait_and_no_one_waits_long() {
        let turns = Turns::new(Duration::from_millis(200));
        let owner = UserId::generate();
        let held = turns.of(owner).await.expect("free");
        assert!(
            turns.of(owner).now_or_never().is_none(),
            "the same owner waits"
        );
        let others = (0..2 * LOCKS).map(|_| UserId::generate());
        let free = others.filter(|&o| matches!(turns.of(o).now_or_never(), Some(Some(_))));
        assert!(free.count() > 0, "other owners proceed");
        assert!(
            turns.of(owner).await.is_none(),
            "a turn that does not come is given up"
        );
        drop(held);
        assert!(matches!(turns.of(owner).now_or_never(), Some(Some(_))));
    }
}
