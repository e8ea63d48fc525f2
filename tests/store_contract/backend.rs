//! The stores under test, each on fresh, private storage.

use pladmed::store::embedded::EmbeddedStore;
use pladmed::store::mongo::MongoStore;
use pladmed::store::Store;
use std::sync::Arc;
use tempfile::TempDir;
use testkit::mongo::{mongo_uri, unique_db_name};

/// Where one case keeps its data; [`Backend::open`] may be called again to reopen the same data.
pub enum Backend {
    /// A temporary directory, removed when the case ends.
    Embedded(TempDir),
    /// A database of its own on the test server.
    Mongo { uri: String, database: String },
}

impl Backend {
    /// A store in a fresh temporary directory.
    pub fn embedded() -> Option<Backend> {
        let dir = tempfile::tempdir().expect("temporary directory");
        Some(Backend::Embedded(dir))
    }

    /// A fresh database on the test server; `None` when MongoDB is deliberately skipped.
    pub fn mongo() -> Option<Backend> {
        Some(Backend::Mongo {
            uri: mongo_uri()?,
            database: unique_db_name("store_contract"),
        })
    }

    /// A store on this backend's data. The previous store must be dropped first: the embedded
    /// file is locked while open. On MongoDB each call is a new client, so reopening proves the
    /// data is on the server, not in the client.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Embedded(dir) => {
                Arc::new(EmbeddedStore::open(dir.path()).expect("embedded store opens"))
            }
            Backend::Mongo { uri, database } => Arc::new(
                MongoStore::connect(uri, database)
                    .await
                    .expect("MongoDB store connects"),
            ),
        }
    }

    /// Removes the data of a case that passed; a failed case leaves its database on the test
    /// server for inspection (the temporary directory goes either way).
    pub async fn finish(self) {
        if let Backend::Mongo { uri, database } = self {
            let client = mongodb::Client::with_uri_str(&uri).await;
            let dropped = client.expect("client").database(&database).drop().await;
            dropped.expect("test database dropped");
        }
    }
}
