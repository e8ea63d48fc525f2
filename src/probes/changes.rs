//! Noticing every change to what the public probe list shows, whichever code path makes it.
//!
//! [`ProbeChangeStore`] wraps the store and bumps a [`ProbeGeneration`] after every call that
//! can change a probe record: registration, revocation, removal, link up and down, the in-use
//! credits moved by an assignment, a reset. The cached list of GET /probes (see [`super::listing`]) is valid only
//! for the generation it was read at. Wrapping the store, rather than bumping in each handler,
//! means a new path that changes probes cannot forget to: a new [`Store`] method must be
//! written here, and its author decides whether it bumps.
//!
//! Only this instance's calls are seen; with MongoDB, another instance's changes reach this one's
//! cache through the cache's maximum age.

use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use crate::store::{
    AssignmentState, Insertion, Inventory, Link, MeasurementResult, Operation, Probe, Reward,
    SessionId, Store, StoreResult, User,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
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

/// A [`Store`] that bumps a [`ProbeGeneration`] after each call that can change probes.
pub struct ProbeChangeStore {
    inner: Arc<dyn Store>,
    generation: ProbeGeneration,
}

impl ProbeChangeStore {
    /// Reports the probe changes made through `inner` to `generation`.
    pub fn new(inner: Arc<dyn Store>, generation: ProbeGeneration) -> Self {
        Self { inner, generation }
    }

    /// Passes `outcome` through once the generation is bumped.
    fn changed<T>(&self, outcome: StoreResult<T>) -> StoreResult<T> {
        self.generation.bump();
        outcome
    }
}

#[async_trait]
impl Store for ProbeChangeStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        self.inner.insert_user(user).await
    }
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        self.inner.user_by_email(email).await
    }
    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.inner.user(id).await
    }
    async fn add_credits(&self, id: UserId, amount: Credits) -> StoreResult<Option<User>> {
        self.inner.add_credits(id, amount).await
    }
    async fn insert_probe(&self, probe: &Probe, max_per_owner: u32) -> StoreResult<()> {
        self.changed(self.inner.insert_probe(probe, max_per_owner).await)
    }
    async fn probe_count(&self, owner: UserId) -> StoreResult<u64> {
        self.inner.probe_count(owner).await
    }
    async fn probe(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.inner.probe(id).await
    }
    async fn probes_by_id(&self, ids: &[ProbeId]) -> StoreResult<Vec<Option<Probe>>> {
        self.inner.probes_by_id(ids).await
    }
    async fn probes(&self, owner: Option<UserId>) -> StoreResult<Vec<Probe>> {
        self.inner.probes(owner).await
    }
    /// Clears the link, which the list shows (`connected`).
    async fn revoke_probe_tokens(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.changed(self.inner.revoke_probe_tokens(id).await)
    }
    async fn remove_probe(&self, id: ProbeId) -> StoreResult<bool> {
        self.changed(self.inner.remove_probe(id).await)
    }
    async fn link_up(&self, id: ProbeId, link: &Link) -> StoreResult<()> {
        self.changed(self.inner.link_up(id, link).await)
    }
    async fn link_down(&self, id: ProbeId, session: &SessionId) -> StoreResult<()> {
        self.changed(self.inner.link_down(id, session).await)
    }
    async fn reset_links(&self, instance: &str) -> StoreResult<()> {
        self.changed(self.inner.reset_links(instance).await)
    }
    async fn create_operation(&self, operation: &Operation) -> StoreResult<()> {
        self.inner.create_operation(operation).await
    }
    async fn operation(&self, id: OperationId) -> StoreResult<Option<Operation>> {
        self.inner.operation(id).await
    }
    async fn operations(&self, owner: Option<UserId>) -> StoreResult<Vec<Operation>> {
        self.inner.operations(owner).await
    }
    async fn pending_operations(
        &self,
        probe: ProbeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Operation>> {
        self.inner.pending_operations(probe, now).await
    }
    async fn assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
    ) -> StoreResult<Option<AssignmentState>> {
        self.inner.assignment(operation, probe).await
    }
    /// Moves the probe's in-use credits, which the list shows (`availability`); `Ok(false)`
    /// changed nothing.
    async fn advance_assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
        to: AssignmentState,
        credits: u64,
    ) -> StoreResult<bool> {
        let outcome = self
            .inner
            .advance_assignment(operation, probe, to, credits)
            .await;
        match outcome {
            Ok(false) => outcome,
            _ => self.changed(outcome),
        }
    }
    async fn insert_result(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion> {
        self.inner.insert_result(result, reward).await
    }
    async fn results(
        &self,
        operation: OperationId,
        after: Option<ResultId>,
        limit: crate::store::PageLimit,
    ) -> StoreResult<Vec<MeasurementResult>> {
        self.inner.results(operation, after, limit).await
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn delete_all(&self) -> StoreResult<()> {
        self.changed(self.inner.delete_all().await)
    }
    async fn write_marker(&self, marker: &str) -> StoreResult<()> {
        self.inner.write_marker(marker).await
    }
    async fn inventory(&self) -> StoreResult<Inventory> {
        self.inner.inventory().await
    }
}
