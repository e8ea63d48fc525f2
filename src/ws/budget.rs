//! The global budget of result bytes in flight (`PLADMED_INGEST_MEMORY_BYTES`).
//!
//! A result frame can be 16 MiB, a link stores up to 64 results at once and an address may hold
//! 32 links: without a bound, what probes send decides how much memory the coordinator takes.
//! Every result frame's bytes are held against one budget shared by all links, from when the
//! frame has been read until its write completed (acknowledged or refused). A link whose result
//! finds no room keeps it and stops reading its socket until room frees: it is paced (TCP flow
//! control pushes back on the probe), never closed. Other frames (`accepted`, `finished`, pongs)
//! are small and not counted.
//!
//! The semaphore is fair: a large frame waiting first is admitted before smaller ones that came
//! later, so no link starves. A frame larger than the whole budget takes all of it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bytes of result frames in flight, shared by every link of the server. Cheap to clone.
#[derive(Clone)]
pub struct IngestBudget {
    bytes: Arc<Semaphore>,
    total: u32,
}

/// One result frame's bytes, held against the budget until dropped.
#[derive(Debug)]
pub struct Held {
    _bytes: OwnedSemaphorePermit,
}

impl IngestBudget {
    /// A budget of `total_bytes` (at most `u32::MAX`, what the configuration allows).
    pub fn new(total_bytes: u64) -> Self {
        let total = u32::try_from(total_bytes).unwrap_or(u32::MAX).max(1);
        Self {
            bytes: Arc::new(Semaphore::new(total as usize)),
            total,
        }
    }

    /// What a frame of `bytes` holds: its size, all of the budget at most.
    fn charge(&self, bytes: usize) -> u32 {
        u32::try_from(bytes)
            .unwrap_or(u32::MAX)
            .clamp(1, self.total)
    }
}

type Admission = Pin<Box<dyn Future<Output = Held> + Send>>;

/// One link's side of the budget: at most one result read but not yet admitted. While it waits,
/// the link must not read its socket ([`LinkShare::may_read`]).
pub struct LinkShare<T> {
    budget: IngestBudget,
    waiting: Option<(T, Admission)>,
}

impl<T> LinkShare<T> {
    /// A link's share of `budget`.
    pub fn new(budget: IngestBudget) -> Self {
        Self {
            budget,
            waiting: None,
        }
    }

    /// Whether the link may read its next frame: no result of it waits for room.
    pub fn may_read(&self) -> bool {
        self.waiting.is_none()
    }

    /// Admits `item`, a result frame of `bytes`: with its [`Held`] bytes when the budget has room
    /// now; otherwise it waits, the link stops reading, and [`LinkShare::admitted`] returns it once
    /// room freed.
    pub fn admit(&mut self, bytes: usize, item: T) -> Option<(T, Held)> {
        let charge = self.budget.charge(bytes);
        match self.budget.bytes.clone().try_acquire_many_owned(charge) {
            Ok(permit) => Some((item, Held { _bytes: permit })),
            Err(_) => {
                let bytes = self.budget.bytes.clone();
                let admission = Box::pin(async move {
                    // The budget's semaphore is never closed.
                    let permit = bytes.acquire_many_owned(charge).await;
                    Held {
                        _bytes: permit.expect("the ingest budget is never closed"),
                    }
                });
                self.waiting = Some((item, admission));
                None
            }
        }
    }

    /// The waiting result, once the budget has room for it; never resolves when none waits.
    /// Cancel-safe: the wait keeps its place when this future is dropped.
    pub async fn admitted(&mut self) -> (T, Held) {
        let Some((_, admission)) = self.waiting.as_mut() else {
            return std::future::pending().await;
        };
        let held = admission.await;
        let (item, _) = self.waiting.take().expect("checked above");
        (item, held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_result_without_room_waits_until_bytes_are_released() {
        let budget = IngestBudget::new(100);
        let (mut first, mut second) = (
            LinkShare::new(budget.clone()),
            LinkShare::new(budget.clone()),
        );
        let (_, held) = first.admit(60, "a").expect("room for the first");
        assert!(second.admit(60, "b").is_none());
        assert!(!second.may_read());
        let early = tokio::time::timeout(Duration::from_millis(50), second.admitted()).await;
        assert!(early.is_err(), "admitted before room freed");
        drop(held);
        let (item, _held) = second.admitted().await;
        assert_eq!(item, "b");
        assert!(second.may_read());
    }

    #[tokio::test]
    async fn a_frame_larger_than_the_budget_takes_all_of_it() {
        let budget = IngestBudget::new(100);
        let mut pacer = LinkShare::new(budget.clone());
        let (_, held) = pacer.admit(1_000, ()).expect("the whole budget is free");
        assert!(LinkShare::new(budget.clone()).admit(1, ()).is_none());
        drop(held);
        assert!(LinkShare::new(budget).admit(100, ()).is_some());
    }
}
