//! Following an operation's results in cursor order, for its live stream, with no gap.
//!
//! A result's cursor is its id, created (from the clock of the instance that took it in) before
//! the result is written; writes commit concurrently (MongoDB batches, possibly on several
//! instances, and the embedded store's group commits), so a result with a smaller id can become
//! visible after a reader has passed a larger one. A tail that emitted everything past its
//! cursor would skip it for good.
//!
//! So a tail only hands out results whose id is older than a *horizon*: the time within which
//! a result taken in becomes visible. Everything older than the horizon is visible, so the
//! results handed out are a prefix of the final cursor order, and a single cursor (the last
//! id handed out, what SSE calls `Last-Event-ID`) says exactly what a reader has: no gap, no
//! repeat across a reconnect. The price is latency: a result is handed out between one horizon
//! and one horizon plus a second after it was taken in (ids count whole seconds). When the
//! operation is over, [`ResultTail::rest`] hands out everything visible, ignoring the horizon.

use crate::domain::{OperationId, ResultId};
use crate::store::{MeasurementResult, PageLimit, Store, StoreResult};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The horizon on the embedded store: its group commits wait milliseconds, not seconds.
pub const EMBEDDED_HORIZON: Duration = Duration::from_secs(1);
/// The horizon on MongoDB: a result batch waits for the previous one and is then written with
/// two round trips; seconds cover that under load, and the clock difference between instances
/// (kept to milliseconds by NTP, see docs/deployment.md). A write slower than this can be
/// missed by a live stream (never by GET /operations/{id}/results).
pub const MONGO_HORIZON: Duration = Duration::from_secs(5);

/// One page a tail read.
#[derive(Debug)]
pub struct TailPage {
    /// The results, in cursor order, each after the previous page's.
    pub results: Vec<MeasurementResult>,
    /// Whether more may be ready now: the page was full and not cut at the horizon.
    pub more: bool,
}

/// A reader of one operation's results that moves past a result only once no earlier one can
/// still appear.
#[derive(Debug, Clone)]
pub struct ResultTail {
    operation: OperationId,
    after: Option<ResultId>,
    horizon_s: i64,
}

impl ResultTail {
    /// A tail of `operation` starting after `after` (from the first result when `None`).
    pub fn new(operation: OperationId, after: Option<ResultId>, horizon: Duration) -> Self {
        Self {
            operation,
            after,
            horizon_s: i64::try_from(horizon.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// The operation it follows.
    pub fn operation(&self) -> OperationId {
        self.operation
    }

    /// The last result handed out (or the starting cursor).
    pub fn cursor(&self) -> Option<ResultId> {
        self.after
    }

    /// The next results whose id is older than the horizon at `now`, at most `page` of them.
    pub async fn next(
        &mut self,
        store: &dyn Store,
        now: DateTime<Utc>,
        page: PageLimit,
    ) -> StoreResult<TailPage> {
        let mut results = store.results(self.operation, self.after, page).await?;
        let full = is_full(&results, page);
        // Ids count whole seconds: an id of second `s` is settled once `s` is a whole horizon
        // before the current second.
        let settled_before = now.timestamp().saturating_sub(self.horizon_s);
        let settled = results
            .iter()
            .take_while(|r| seconds_of(r.id) < settled_before)
            .count();
        let cut = settled < results.len();
        results.truncate(settled);
        Ok(self.hand_out(results, full && !cut))
    }

    /// The next results, whatever their age: once the operation is over and a horizon has
    /// passed since, everything it will have is visible.
    pub async fn rest(&mut self, store: &dyn Store, page: PageLimit) -> StoreResult<TailPage> {
        let results = store.results(self.operation, self.after, page).await?;
        let more = is_full(&results, page);
        Ok(self.hand_out(results, more))
    }

    fn hand_out(&mut self, results: Vec<MeasurementResult>, more: bool) -> TailPage {
        if let Some(last) = results.last() {
            self.after = Some(last.id);
        }
        TailPage { results, more }
    }
}

fn is_full(results: &[MeasurementResult], page: PageLimit) -> bool {
    let weight: usize = results.iter().map(MeasurementResult::weight).sum();
    results.len() >= page.count || weight >= page.bytes
}

/// The second an id was created in.
fn seconds_of(id: ResultId) -> i64 {
    id.oid().timestamp().timestamp_millis().div_euclid(1000)
}
