//! Embedded store: one redb file under a data directory, for a server on a fresh machine with
//! nothing else installed.
//!
//! Every write method is one redb write transaction, fsync'd before it returns `Ok`, so it is
//! atomic and durable across a crash. redb runs one write transaction at a time: checks such as
//! "the balance covers the debit" or "this result code is new" cannot race. redb blocks on disk
//! I/O, so reads run on tokio's blocking pool and writes on one commit thread that shares one
//! fsync among the writes queued meanwhile (`group_commit`); a caller that gives up waiting does
//! not cancel the transaction, which still commits or rolls back as a whole.

mod accounts;
mod group_commit;
mod import;
mod keys;
mod monitoring;
mod operations;
mod probes;
mod results;
mod tables;
mod transaction;

use super::{
    AssignmentState, AssignmentStep, ImportOutcome, ImportedOperation, Insertion, Inventory, Link,
    MeasurementResult, Operation, PageLimit, Probe, Progress, Reward, SessionId, Store, StoreError,
    StoreResult, User,
};
use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadTransaction, WriteTransaction};
use std::path::Path;
use std::sync::Arc;

/// Name of the database file inside the data directory.
const FILE_NAME: &str = "pladmed.redb";

/// The [`Store`] kept in one local file.
pub struct EmbeddedStore {
    db: Arc<Database>,
    commits: group_commit::GroupCommit,
}

impl EmbeddedStore {
    /// Opens (creating if needed) the directory and its database file. After a crash redb
    /// repairs the file here, so opening can take a while on a large store.
    pub fn open(dir: &Path) -> StoreResult<EmbeddedStore> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| match StoreError::from(e) {
            StoreError::Unavailable(cause) => {
                StoreError::Unavailable(format!("cannot open {}: {cause}", path.display()))
            }
            other => other,
        })?;
        transaction::create_tables(&db)?;
        let db = Arc::new(db);
        let commits = group_commit::GroupCommit::start(Arc::clone(&db))?;
        Ok(EmbeddedStore { db, commits })
    }

    /// Runs `apply` on a snapshot, off the async runtime.
    async fn read<T: Send + 'static>(
        &self,
        apply: impl FnOnce(&ReadTransaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let db = Arc::clone(&self.db);
        blocking(move || transaction::read(&db, apply)).await
    }

    /// Runs `apply` atomically, off the async runtime; `Ok` once fsync'd (in one transaction
    /// with the writes of other callers: see [`group_commit`]).
    async fn write<T: Send + 'static>(
        &self,
        apply: impl Fn(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.commits.write(apply).await
    }
}

/// Runs `task` on the blocking pool.
async fn blocking<T: Send + 'static>(
    task: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(task)
        .await
        .map_err(|e| StoreError::Unavailable(format!("store task failed: {e}")))?
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.write(move |txn| accounts::insert_user(txn, &user))
            .await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        let email = email.clone();
        self.read(move |txn| accounts::user_by_email(txn, &email))
            .await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        self.read(move |txn| accounts::user(txn, id)).await
    }

    async fn add_credits(&self, id: UserId, amount: Credits) -> StoreResult<Option<User>> {
        self.write(move |txn| accounts::add_credits(txn, id, amount))
            .await
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let (current, new) = (current.to_owned(), new.to_owned());
        self.write(move |txn| accounts::replace_password_hash(txn, id, &current, &new))
            .await
    }

    async fn insert_probe(&self, probe: &Probe, max_per_owner: u32) -> StoreResult<()> {
        // A write refused inside the group commit costs its batch a replay, so a registration
        // past the cap is refused on a read first; the write counts again, atomically.
        if self.probe_count(probe.owner).await? >= u64::from(max_per_owner) {
            return Err(StoreError::TooManyProbes(max_per_owner));
        }
        let probe = probe.clone();
        self.write(move |txn| probes::insert_probe(txn, &probe, max_per_owner))
            .await
    }

    async fn probe_count(&self, owner: UserId) -> StoreResult<u64> {
        self.read(move |txn| probes::probe_count(&txn.open_table(tables::PROBES)?, owner))
            .await
    }

    async fn probe(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.read(move |txn| probes::probe(txn, id)).await
    }

    async fn probes_by_id(&self, ids: &[ProbeId]) -> StoreResult<Vec<Option<Probe>>> {
        let ids = ids.to_vec();
        self.read(move |txn| probes::probes_by_id(txn, &ids)).await
    }

    async fn probes(&self, owner: Option<UserId>) -> StoreResult<Vec<Probe>> {
        self.read(move |txn| probes::probes(txn, owner)).await
    }

    async fn link_up(&self, id: ProbeId, link: &Link) -> StoreResult<()> {
        let link = link.clone();
        self.write(move |txn| probes::link_up(txn, id, &link)).await
    }

    async fn link_down(&self, id: ProbeId, session: &SessionId) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |txn| probes::link_down(txn, id, &session))
            .await
    }

    async fn reset_links(&self, instance: &str) -> StoreResult<()> {
        let instance = instance.to_owned();
        self.write(move |txn| probes::reset_links(txn, &instance))
            .await
    }

    async fn revoke_probe_tokens(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        self.write(move |txn| probes::revoke_probe_tokens(txn, id))
            .await
    }

    async fn remove_probe(&self, id: ProbeId) -> StoreResult<bool> {
        self.write(move |txn| probes::remove_probe(txn, id)).await
    }

    async fn create_operation(&self, operation: &Operation) -> StoreResult<()> {
        let operation = operation.clone();
        self.write(move |txn| operations::create_operation(txn, &operation))
            .await
    }

    async fn operation(&self, id: OperationId) -> StoreResult<Option<Operation>> {
        self.read(move |txn| operations::operation(txn, id)).await
    }

    async fn operations(&self, owner: Option<UserId>) -> StoreResult<Vec<Operation>> {
        self.read(move |txn| operations::operations(txn, owner))
            .await
    }

    async fn pending_operations(
        &self,
        probe: ProbeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Operation>> {
        self.read(move |txn| operations::pending_operations(txn, probe, now))
            .await
    }

    async fn assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
    ) -> StoreResult<Option<AssignmentState>> {
        self.read(move |txn| operations::assignment(txn, operation, probe))
            .await
    }

    async fn advance_assignment(&self, step: AssignmentStep) -> StoreResult<bool> {
        self.write(move |txn| operations::advance_assignment(txn, step))
            .await
    }

    async fn insert_result(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion> {
        let (result, reward) = (results::EncodedResult::new(result)?, *reward);
        self.write(move |txn| results::insert_result(txn, &result, &reward))
            .await?
    }

    async fn results(
        &self,
        operation: OperationId,
        after: Option<ResultId>,
        page: PageLimit,
    ) -> StoreResult<Vec<MeasurementResult>> {
        self.read(move |txn| results::results(txn, operation, after, page))
            .await
    }

    async fn import_user(&self, user: &User) -> StoreResult<bool> {
        let user = user.clone();
        self.write(move |txn| import::import_user(txn, &user)).await
    }

    async fn import_probe(&self, probe: &Probe) -> StoreResult<bool> {
        let probe = probe.clone();
        self.write(move |txn| import::import_probe(txn, &probe))
            .await
    }

    async fn import_operation(&self, import: &ImportedOperation) -> StoreResult<ImportOutcome> {
        let imported = Arc::new(import.clone());
        self.write(move |txn| import::import_operation(txn, &imported))
            .await
    }

    async fn progress(&self, operation: OperationId) -> StoreResult<Progress> {
        self.read(move |txn| results::progress(txn, operation))
            .await
    }

    async fn ping(&self) -> StoreResult<()> {
        let db = Arc::clone(&self.db);
        blocking(move || transaction::check_writable(&db)).await
    }

    async fn delete_all(&self) -> StoreResult<()> {
        self.write(transaction::empty_tables).await
    }

    // Monitoring.

    /// Two commits through the group-commit thread, like every real write: a failing disk or a
    /// stalled commit thread fails the check.
    async fn write_marker(&self, marker: &str) -> StoreResult<()> {
        let written = marker.to_owned();
        self.write(move |txn| monitoring::put_marker(txn, &written))
            .await?;
        let removed = marker.to_owned();
        self.write(move |txn| monitoring::remove_marker(txn, &removed))
            .await
    }

    async fn inventory(&self) -> StoreResult<Inventory> {
        self.read(monitoring::inventory).await
    }
}
