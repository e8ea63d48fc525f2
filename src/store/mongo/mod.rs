//! MongoDB store: the production [`Store`], shared by every server instance.
//!
//! Collections and documents follow the original pladmed-backend (`users`, `probes`,
//! `operations`), plus `assignments` (where an operation stands on each probe) and `results`
//! (one document per result). Every write is acknowledged by a majority from the journal, so
//! `Ok` means durable.
//!
//! The hot paths use no multi-document transaction and write no document per request that
//! every request writes: an operation is paid by one conditional update of its owner that
//! carries the operation ([`debits`]); results are stored in batches, one unordered
//! `insert_many` per batch, and paid with one update per owner and batch ([`ingest`],
//! [`settlement`]). What a crash leaves half done is finished by [`recovery`], at startup and
//! every minute. Only registering a probe under the per-owner cap is still a transaction, so
//! MongoDB must run as a replica set (one node is enough). See docs/storage.md.

mod accounts;
mod batcher;
mod content;
mod debiter;
mod debits;
mod documents;
mod errors;
mod import;
mod indexes;
mod ingest;
mod json;
mod monitoring;
mod operations;
mod probes;
mod queries;
mod quota;
mod recovery;
mod results;
mod settlement;
mod transaction;

use super::{
    AssignmentState, AssignmentStep, ImportOutcome, ImportedOperation, Insertion, Inventory, Link,
    MeasurementResult, Operation, PageLimit, Probe, Progress, Reward, SessionId, Store, StoreError,
    StoreResult, User,
};
use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use async_trait::async_trait;
use bson::{doc, Document};
use chrono::{DateTime, Utc};
use documents::{AssignmentDoc, OperationDoc, ProbeDoc, ResultDoc, UserDoc};
use mongodb::options::{ClientOptions, ReadConcern, ReadPreference, SelectionCriteria};
use mongodb::{Client, Collection, Database};
use std::sync::Arc;
use std::time::Duration;

const USERS: &str = "users";
const PROBES: &str = "probes";
const OPERATIONS: &str = "operations";
const ASSIGNMENTS: &str = "assignments";
const RESULTS: &str = "results";
const SETTLEMENTS: &str = "settlements";

/// How long a call waits for a reachable primary before failing with
/// [`StoreError::Unavailable`] (the driver's default, 30 s, would hold every request that long
/// during an outage). A `serverSelectionTimeoutMS` in the URI takes precedence.
const SERVER_SELECTION_TIMEOUT: Duration = Duration::from_secs(5);

/// The instance name [`MongoStore::connect`] writes under (`PLADMED_INSTANCE`'s default).
const DEFAULT_INSTANCE: &str = "pladmed";

/// The [`Store`] on a MongoDB replica set.
pub struct MongoStore {
    handles: Handles,
    /// Collects concurrent result inserts into batches.
    batcher: batcher::Batcher,
    /// Pays for concurrent operations of one owner together.
    debiter: debiter::Debiter,
    /// Finishes what crashed writers left half done, every minute; stopped on drop.
    sweeper: tokio::task::JoinHandle<()>,
}

/// The database and its collections: cheap to clone, shared with the background tasks.
#[derive(Clone)]
pub(crate) struct Handles {
    client: Client,
    db: Database,
    users: Collection<UserDoc>,
    probes: Collection<ProbeDoc>,
    operations: Collection<OperationDoc>,
    assignments: Collection<AssignmentDoc>,
    results: Collection<ResultDoc>,
    settlements: Collection<settlement::SettlementDoc>,
    /// Written into every pending marker, so that this instance, restarted after a crash,
    /// finishes its own half-done writes at once rather than after [`recovery::STALE_AFTER`].
    instance: Arc<str>,
    /// Settlements this process is writing (see [`settlement::Live`]).
    live: settlement::Live,
}

impl Drop for MongoStore {
    fn drop(&mut self) {
        self.sweeper.abort();
    }
}

/// The driver options the store connects with: those of `uri`, with the store's durability
/// (majority, journaled writes; majority reads on the primary), which the URI cannot weaken.
///
/// Retryable writes are off unless the URI sets `retryWrites`: exactly-once is the store's own,
/// not the driver's. A write whose outcome is unknown (the connection dropped before the reply)
/// is left as a crash would leave it: results, operations, assignments and settlement entries
/// are written under fixed keys and found again; debit markers and open settlements are
/// resolved by recovery; a quota count is checked against the stored results before it refuses;
/// in-use credits belong to the link, which the probe rebuilds when it links again. The one
/// exception is a superuser's credit grant, whose unknown outcome is reported as such (503),
/// not retried. A retryable write costs the server a session record per write; SecantusDB
/// scans its record list, and past 10,000 records sorts it, on every write
/// (docs/performance.md).
pub async fn client_options(uri: &str) -> StoreResult<ClientOptions> {
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|e| StoreError::Unavailable(format!("invalid MongoDB URI: {e}")))?;
    options
        .server_selection_timeout
        .get_or_insert(SERVER_SELECTION_TIMEOUT);
    options
        .connect_timeout
        .get_or_insert(SERVER_SELECTION_TIMEOUT);
    options.app_name.get_or_insert_with(|| "pladmed".into());
    options.retry_writes.get_or_insert(false);
    options.write_concern = Some(transaction::durable_write_concern());
    options.read_concern = Some(ReadConcern::majority());
    options.selection_criteria = Some(SelectionCriteria::ReadPreference(ReadPreference::Primary));
    Ok(options)
}

impl MongoStore {
    /// [`MongoStore::connect_as`] the default instance name.
    pub async fn connect(uri: &str, database: &str) -> StoreResult<MongoStore> {
        Self::connect_as(uri, database, DEFAULT_INSTANCE).await
    }

    /// Connects to `uri`, uses `database`, creates the indexes and starts the background
    /// tasks (batching results, the periodic recovery); writes as server instance `instance`.
    /// Fails with [`StoreError::Unavailable`] when no primary answers within a few seconds.
    pub async fn connect_as(uri: &str, database: &str, instance: &str) -> StoreResult<MongoStore> {
        let options = client_options(uri).await?;
        let client = Client::with_options(options).map_err(errors::from_driver)?;
        let db = client.database(database);
        require_transactions(&db).await?;
        indexes::create(&db).await.map_err(errors::from_driver)?;
        let handles = Handles {
            users: db.collection(USERS),
            probes: db.collection(PROBES),
            operations: db.collection(OPERATIONS),
            assignments: db.collection(ASSIGNMENTS),
            results: db.collection(RESULTS),
            settlements: db.collection(SETTLEMENTS),
            instance: instance.into(),
            live: settlement::Live::default(),
            client,
            db,
        };
        Ok(MongoStore {
            batcher: batcher::Batcher::start(handles.clone()),
            debiter: debiter::Debiter::start(handles.clone()),
            sweeper: recovery::start_sweeper(handles.clone()),
            handles,
        })
    }
}

impl Handles {
    /// A collection without a document type, for existence checks and deletes.
    fn raw(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }
}

/// Fails unless the server is a replica set member or a mongos: a standalone `mongod` refuses
/// transactions, and finding out at startup beats failing every debit later.
async fn require_transactions(db: &Database) -> StoreResult<()> {
    let hello = db
        .run_command(doc! { "hello": 1 })
        .await
        .map_err(errors::from_driver)?;
    if hello.contains_key("setName") || hello.get_str("msg") == Ok("isdbgrid") {
        return Ok(());
    }
    Err(StoreError::Unavailable(
        "MongoDB runs standalone; pladmed needs a replica set for transactions \
         (a one-node replica set is enough: start mongod with --replSet and run rs.initiate())"
            .into(),
    ))
}

/// Matches the documents of `owner`, or every document.
fn of_owner(owner: Option<UserId>) -> Document {
    owner.map(|o| doc! { "owner": o.oid() }).unwrap_or_default()
}

#[async_trait]
impl Store for MongoStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        accounts::insert_user(&self.handles, user).await
    }

    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
        accounts::find(&self.handles, doc! { "email": email.as_str() }).await
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        accounts::find(&self.handles, doc! { "_id": id.oid() }).await
    }

    async fn add_credits(&self, id: UserId, amount: Credits) -> StoreResult<Option<User>> {
        accounts::add_credits(&self.handles, id, amount).await
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &str,
        new: &str,
    ) -> StoreResult<bool> {
        let replaced = self
            .handles
            .users
            .update_one(
                doc! { "_id": id.oid(), "password": current },
                doc! { "$set": { "password": new } },
            )
            .await
            .map_err(errors::from_driver)?;
        Ok(replaced.modified_count == 1)
    }

    async fn insert_probe(&self, probe: &Probe, max_per_owner: u32) -> StoreResult<()> {
        probes::insert_probe(&self.handles, probe, max_per_owner).await
    }

    async fn probe_count(&self, owner: UserId) -> StoreResult<u64> {
        probes::probe_count(&self.handles, owner, None)
            .await
            .map_err(errors::from_driver)
    }

    async fn probe(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        let found = queries::find_one(&self.handles.probes, doc! { "_id": id.oid() }).await?;
        found.map(Probe::try_from).transpose()
    }

    async fn probes_by_id(&self, ids: &[ProbeId]) -> StoreResult<Vec<Option<Probe>>> {
        let oids: Vec<_> = ids.iter().map(|id| id.oid()).collect();
        let docs = queries::find_by_ids(&self.handles.probes, &oids).await?;
        let mut found = std::collections::HashMap::with_capacity(docs.len());
        for doc in docs {
            let probe = Probe::try_from(doc)?;
            found.insert(probe.id, probe);
        }
        Ok(ids.iter().map(|id| found.get(id).cloned()).collect())
    }

    async fn probes(&self, owner: Option<UserId>) -> StoreResult<Vec<Probe>> {
        let docs = queries::find_in_order(&self.handles.probes, of_owner(owner), None).await?;
        docs.into_iter().map(Probe::try_from).collect()
    }

    async fn link_up(&self, id: ProbeId, link: &Link) -> StoreResult<()> {
        probes::link_up(&self.handles, id, link).await
    }

    async fn link_down(&self, id: ProbeId, session: &SessionId) -> StoreResult<()> {
        probes::unlink(
            &self.handles,
            doc! { "_id": id.oid(), "link.session": &session.0 },
        )
        .await
    }

    /// Also finishes what this instance left half done when it stopped: no write of it can
    /// still be running.
    async fn reset_links(&self, instance: &str) -> StoreResult<()> {
        probes::unlink(&self.handles, doc! { "link.instance": instance }).await?;
        // Not fatal: the periodic sweep finishes these markers a minute later anyway.
        if let Err(error) = recovery::of_instance(&self.handles, instance).await {
            tracing::error!(%error, "recovery of this instance's half-done writes failed");
        }
        Ok(())
    }

    async fn revoke_probe_tokens(&self, id: ProbeId) -> StoreResult<Option<Probe>> {
        probes::revoke_tokens(&self.handles, id).await
    }

    async fn remove_probe(&self, id: ProbeId) -> StoreResult<bool> {
        let removed = self
            .handles
            .probes
            .delete_one(doc! { "_id": id.oid() })
            .await
            .map_err(errors::from_driver)?;
        Ok(removed.deleted_count == 1)
    }

    async fn create_operation(&self, operation: &Operation) -> StoreResult<()> {
        let prepared = debits::Prepared::new(&self.handles, operation)?;
        self.debiter.create(prepared).await
    }

    async fn operation(&self, id: OperationId) -> StoreResult<Option<Operation>> {
        let found = queries::find_one(&self.handles.operations, doc! { "_id": id.oid() }).await?;
        found.map(Operation::try_from).transpose()
    }

    async fn operations(&self, owner: Option<UserId>) -> StoreResult<Vec<Operation>> {
        let docs = queries::find_in_order(&self.handles.operations, of_owner(owner), None).await?;
        docs.into_iter().map(Operation::try_from).collect()
    }

    async fn pending_operations(
        &self,
        probe: ProbeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Operation>> {
        operations::pending_operations(&self.handles, probe, now).await
    }

    async fn assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
    ) -> StoreResult<Option<AssignmentState>> {
        operations::assignment(&self.handles, operation, probe).await
    }

    async fn advance_assignment(&self, step: AssignmentStep) -> StoreResult<bool> {
        operations::advance_assignment(&self.handles, step).await
    }

    async fn insert_result(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion> {
        self.batcher.insert(result, reward).await
    }

    async fn results(
        &self,
        operation: OperationId,
        after: Option<ResultId>,
        page: PageLimit,
    ) -> StoreResult<Vec<MeasurementResult>> {
        results::results(&self.handles, operation, after, page).await
    }

    async fn import_user(&self, user: &User) -> StoreResult<bool> {
        import::import_user(&self.handles, user).await
    }

    async fn import_probe(&self, probe: &Probe) -> StoreResult<bool> {
        import::import_probe(&self.handles, probe).await
    }

    async fn import_operation(&self, import: &ImportedOperation) -> StoreResult<ImportOutcome> {
        import::import_operation(&self.handles, import).await
    }

    async fn progress(&self, operation: OperationId) -> StoreResult<Progress> {
        results::progress(&self.handles, operation).await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.handles
            .db
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(errors::from_driver)
    }

    /// Deletes documents, never collections: dropping a collection drops its indexes too, and
    /// the original lost its unique e-mail index that way on every reset.
    async fn delete_all(&self) -> StoreResult<()> {
        for name in [USERS, PROBES, OPERATIONS, ASSIGNMENTS, RESULTS] {
            self.handles
                .raw(name)
                .delete_many(doc! {})
                .await
                .map_err(errors::from_driver)?;
        }
        Ok(())
    }

    // Monitoring.

    async fn write_marker(&self, marker: &str) -> StoreResult<()> {
        monitoring::write_marker(&self.handles, marker).await
    }

    async fn inventory(&self) -> StoreResult<Inventory> {
        monitoring::inventory(&self.handles).await
    }
}
