//! `pladmed import --from-mongodb URI [--database NAME]`: an original pladmed-backend
//! database into ours, ids kept, so that links, bookmarks, probe ids and (with
//! `PLADMED_LEGACY_SECRET_KEY`) tokens stay valid. See docs/migration.md.
//!
//! Users, then probes, then operations with their results go through the `Store` import
//! methods, which store a record only if its id is absent: a second run imports nothing twice,
//! and a run that stopped half way is finished by the next. Imported operations are over for
//! our server (finished assignments: nothing is redelivered); imported passwords keep their
//! passlib hash until the first sign-in replaces it.

mod original;

use crate::config::{Settings, StorageSettings};
use crate::store::{Store, StoreError};
use bson::Document;
use futures::TryStreamExt;
use mongodb::options::ClientOptions;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The original database.
#[derive(Debug, Clone)]
pub struct Source {
    /// Its MongoDB connection string.
    pub uri: String,
    /// Its database name (the original's `MONGO_DATABASE`, `pladmed` by default).
    pub database: String,
}

/// Why the import could not run (a record that cannot be imported is skipped and counted).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The original database could not be read.
    #[error("original database: {0}")]
    Source(String),
    /// Our store could not be opened or written.
    #[error("target store: {0}")]
    Target(#[from] StoreError),
    /// Source and target are one database: the original's documents lack our fields.
    #[error("--from-mongodb and --database name the database PLADMED_MONGODB_URI and PLADMED_MONGODB_DATABASE use: import into another database")]
    SameDatabase,
    /// A server holds the embedded store.
    #[error("a server is running on {0}: stop it, import, then start it again")]
    ServerRunning(PathBuf),
}

/// How many records of one kind were imported, found already there, or skipped as unreadable
/// or conflicting (each skip is logged with its reason).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Stored by this run.
    pub new: u64,
    /// Imported by an earlier run.
    pub present: u64,
    /// Not imported.
    pub skipped: u64,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tally {
            new,
            present,
            skipped,
        } = self;
        write!(f, "{new} new, {present} already there, {skipped} skipped")
    }
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Accounts (`users`).
    pub users: Tally,
    /// Probes (`probes`).
    pub probes: Tally,
    /// Operations (`operations`).
    pub operations: Tally,
    /// The results pushed inside the operations.
    pub results: Tally,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported users: {}; probes: {}; operations: {}; results: {}",
            self.users, self.probes, self.operations, self.results
        )
    }
}

/// Records between two progress lines.
const PROGRESS_EVERY: u64 = 1000;

/// Imports `source` into the store `settings` name.
pub async fn run(settings: &Settings, source: &Source) -> Result<Summary, ImportError> {
    refuse_same_database(settings, source)?;
    refuse_running_server(settings).await?;
    let db = connect(source).await?;
    let store = crate::startup::open_store(settings).await?;
    import(store.as_ref(), &db).await
}

/// Imports the original database `db` into `store`.
pub async fn import(store: &dyn Store, db: &mongodb::Database) -> Result<Summary, ImportError> {
    let mut summary = Summary::default();
    for doc in read_all(db, "users").await? {
        summary.users = count(summary.users, import_user(store, &doc).await?, "users");
    }
    for doc in read_all(db, "probes").await? {
        summary.probes = count(summary.probes, import_probe(store, &doc).await?, "probes");
    }
    let mut operations = collection(db, "operations").await?;
    while let Some(doc) = operations.try_next().await.map_err(source_error)? {
        let (done, results) = import_operation(store, &doc).await?;
        summary.operations = count(summary.operations, done, "operations");
        summary.results.new += results.new;
        summary.results.present += results.present;
        summary.results.skipped += results.skipped;
    }
    tracing::info!(%summary, "import finished");
    Ok(summary)
}

/// What became of one record.
#[derive(Debug, Clone, Copy)]
enum Done {
    New,
    Present,
    Skipped,
}

impl From<bool> for Done {
    fn from(new: bool) -> Self {
        if new {
            Done::New
        } else {
            Done::Present
        }
    }
}

/// Adds `done` to `tally`, logging progress every [`PROGRESS_EVERY`] records.
fn count(mut tally: Tally, done: Done, kind: &str) -> Tally {
    match done {
        Done::New => tally.new += 1,
        Done::Present => tally.present += 1,
        Done::Skipped => tally.skipped += 1,
    }
    if (tally.new + tally.present + tally.skipped).is_multiple_of(PROGRESS_EVERY) {
        tracing::info!(kind, %tally, "import progress");
    }
    tally
}

async fn import_user(store: &dyn Store, doc: &Document) -> Result<Done, ImportError> {
    let user = match original::user(doc) {
        Ok(user) => user,
        Err(refusal) => return Ok(skipped("user", doc, &refusal)),
    };
    match store.import_user(&user).await {
        Ok(new) => Ok(new.into()),
        Err(StoreError::Duplicate(_)) => Ok(skipped(
            "user",
            doc,
            &format!("email {}: another account has it", user.email),
        )),
        Err(error) => Err(error.into()),
    }
}

async fn import_probe(store: &dyn Store, doc: &Document) -> Result<Done, ImportError> {
    let probe = match original::probe(doc) {
        Ok(probe) => probe,
        Err(refusal) => return Ok(skipped("probe", doc, &refusal)),
    };
    // Its results pay its owner: a probe without one could not be paid.
    if store.user(probe.owner).await?.is_none() {
        let refusal = format!("owner {}: no such account", probe.owner);
        return Ok(skipped("probe", doc, &refusal));
    }
    Ok(store.import_probe(&probe).await?.into())
}

/// The operation, and the tally of its results.
async fn import_operation(store: &dyn Store, doc: &Document) -> Result<(Done, Tally), ImportError> {
    let (imported, unreadable) = match original::operation(doc) {
        Ok(read) => read,
        Err(refusal) => return Ok((skipped("operation", doc, &refusal), Tally::default())),
    };
    let outcome = store.import_operation(&imported).await?;
    let readable = imported.results.len() as u64;
    let results = Tally {
        new: outcome.results,
        present: readable - outcome.results,
        skipped: unreadable,
    };
    Ok((outcome.operation.into(), results))
}

fn skipped(kind: &str, doc: &Document, refusal: &str) -> Done {
    tracing::warn!(kind, id = %original::id_of(doc), %refusal, "not imported");
    Done::Skipped
}

/// The target is the source itself: refused, whatever the URI's spelling, when the strings
/// match (the common mistake: both left at their defaults on one server).
fn refuse_same_database(settings: &Settings, source: &Source) -> Result<(), ImportError> {
    match &settings.storage {
        StorageSettings::Mongo { uri, database }
            if uri == &source.uri && database == &source.database =>
        {
            Err(ImportError::SameDatabase)
        }
        _ => Ok(()),
    }
}

/// A server holds the embedded store's file: the import would wait on its lock, or fail.
async fn refuse_running_server(settings: &Settings) -> Result<(), ImportError> {
    if let StorageSettings::Embedded { dir } = &settings.storage {
        let socket = crate::admin::socket::socket_path(dir);
        if tokio::net::UnixStream::connect(&socket).await.is_ok() {
            return Err(ImportError::ServerRunning(dir.clone()));
        }
    }
    Ok(())
}

/// The original database; fails within a few seconds when no server answers.
async fn connect(source: &Source) -> Result<mongodb::Database, ImportError> {
    let mut options = ClientOptions::parse(&source.uri)
        .await
        .map_err(|e| ImportError::Source(format!("invalid URI: {e}")))?;
    options
        .server_selection_timeout
        .get_or_insert(Duration::from_secs(5));
    options
        .app_name
        .get_or_insert_with(|| "pladmed-import".into());
    let client = mongodb::Client::with_options(options).map_err(source_error)?;
    let db = client.database(&source.database);
    db.run_command(bson::doc! { "ping": 1 })
        .await
        .map_err(source_error)?;
    Ok(db)
}

/// A collection in `_id` order (creation order), as a stream.
async fn collection(
    db: &mongodb::Database,
    name: &str,
) -> Result<mongodb::Cursor<Document>, ImportError> {
    db.collection::<Document>(name)
        .find(bson::doc! {})
        .sort(bson::doc! { "_id": 1 })
        .await
        .map_err(source_error)
}

/// A whole collection: users and probes are small, and reading them first keeps the cursor
/// from timing out while each record is written.
async fn read_all(db: &mongodb::Database, name: &str) -> Result<Vec<Document>, ImportError> {
    collection(db, name)
        .await?
        .try_collect()
        .await
        .map_err(source_error)
}

fn source_error(error: mongodb::error::Error) -> ImportError {
    ImportError::Source(error.to_string())
}
