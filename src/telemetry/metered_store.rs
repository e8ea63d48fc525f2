//! A [`Store`] that counts database failures on every call, whichever path made it, and logs an
//! outage once when it starts and once when it ends (not once per failed call).

use super::Telemetry;
use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use crate::store::{
    AssignmentState, Insertion, Inventory, Link, MeasurementResult, Operation, PageLimit, Probe,
    Reward, SessionId, Store, StoreError, StoreResult, User,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Wraps a store and counts [`StoreError::Unavailable`] and [`StoreError::Corrupt`] in
/// [`Telemetry::store_errors`]; domain refusals (duplicate, not enough credits, ...) are answers,
/// not failures, and are not counted.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    telemetry: Arc<Telemetry>,
    in_outage: AtomicBool,
}

impl MeteredStore {
    /// Counts the failures of `inner` into `telemetry`.
    pub fn new(inner: Arc<dyn Store>, telemetry: Arc<Telemetry>) -> Self {
        Self {
            inner,
            telemetry,
            in_outage: AtomicBool::new(false),
        }
    }

    fn count<T>(&self, result: StoreResult<T>) -> StoreResult<T> {
        match &result {
            Err(StoreError::Unavailable(cause)) => {
                self.telemetry.store_errors.inc();
                if !self.in_outage.swap(true, Ordering::Relaxed) {
                    tracing::error!(%cause, "store unavailable: results are not acknowledged until it is back");
                }
            }
            Err(StoreError::Corrupt(_)) => self.telemetry.store_errors.inc(),
            _ => {
                if self.in_outage.swap(false, Ordering::Relaxed) {
                    tracing::warn!("store reachable again");
                }
            }
        }
        result
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.count(self.inner.insert_user(user).await)
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.count(self.inner.user_by_email(email).await)
    }
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.count(self.inner.user(id).await)
    }
    async fn add_credits(&self, id: UserId, amount: Credits) -> StoreResult<Option<User>> {
        self.count(self.inner.add_credits(id, amount).await)
    }
    async fn insert_probe(&self, probe: &Probe, max_per_owner: u32) -> StoreResult<()> {
        self.count(self.inner.insert_probe(probe, max_per_owner).await)
    }
    async fn probe_count(&self, owner: UserId) -> StoreResult<u64> {
        self.count(self.inner.probe_count(owner).await)
    }
    async fn probe(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.count(self.inner.probe(id).await)
    }
    async fn probes_by_id(&self, ids: &[ProbeId]) -> StoreResult<Vec<Option<Probe>>> {
        self.count(self.inner.probes_by_id(ids).await)
    }
    async fn probes(&self, owner: Option<UserId>) -> StoreResult<Vec<Probe>> {
        self.count(self.inner.probes(owner).await)
    }
    async fn revoke_probe_tokens(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.count(self.inner.revoke_probe_tokens(id).await)
    }
    async fn remove_probe(&self, id: ProbeId) -> StoreResult<bool> {
        self.count(self.inner.remove_probe(id).await)
    }
    async fn link_up(&self, id: ProbeId, link: &Link) -> StoreResult<()> {
        self.count(self.inner.link_up(id, link).await)
    }
    async fn link_down(&self, id: ProbeId, session: &SessionId) -> StoreResult<()> {
        self.count(self.inner.link_down(id, session).await)
    }
    async fn reset_links(&self, instance: &str) -> StoreResult<()> {
        self.count(self.inner.reset_links(instance).await)
    }
    async fn create_operation(&self, operation: &Operation) -> StoreResult<()> {
        self.count(self.inner.create_operation(operation).await)
    }
    async fn operation(&self, id: OperationId) -> StoreResult<Option<Operation>> {
        self.count(self.inner.operation(id).await)
    }
    async fn operations(&self, owner: Option<UserId>) -> StoreResult<Vec<Operation>> {
        self.count(self.inner.operations(owner).await)
    }
    async fn pending_operations(
        &self,
        probe: ProbeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Operation>> {
        self.count(self.inner.pending_operations(probe, now).await)
    }
    async fn assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
    ) -> StoreResult<Option<AssignmentState>> {
        self.count(self.inner.assignment(operation, probe).await)
    }
    async fn advance_assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
        to: AssignmentState,
        credits: u64,
    ) -> StoreResult<bool> {
        self.count(
            self.inner
                .advance_assignment(operation, probe, to, credits)
                .await,
        )
    }
    async fn insert_result(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion> {
        self.count(self.inner.insert_result(result, reward).await)
    }
    async fn results(
        &self,
        operation: OperationId,
        after: Option<ResultId>,
        page: PageLimit,
    ) -> StoreResult<Vec<MeasurementResult>> {
        self.count(self.inner.results(operation, after, page).await)
    }
    async fn ping(&self) -> StoreResult<()> {
        self.count(self.inner.ping().await)
    }
    async fn delete_all(&self) -> StoreResult<()> {
        self.count(self.inner.delete_all().await)
    }

    // Monitoring.

    async fn write_marker(&self, marker: &str) -> StoreResult<()> {
        self.count(self.inner.write_marker(marker).await)
    }
    async fn inventory(&self) -> StoreResult<Inventory> {
        self.count(self.inner.inventory().await)
    }
}
