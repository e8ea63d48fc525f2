//! The stores under test, each in fresh, private storage.

use pladmed::store::embedded::EmbeddedStore;
use pladmed::store::Store;
use std::sync::Arc;
use tempfile::TempDir;

/// Where one case keeps its data; [`Backend::open`] may be called again to reopen the same data.
pub enum Backend {
    /// A temporary directory, removed when the case ends.
    Embedded(TempDir),
}

impl Backend {
    /// A store in a fresh temporary directory.
    pub fn embedded() -> Option<Backend> {
        Some(Backend::Embedded(
            tempfile::tempdir().expect("temporary directory"),
        ))
    }

    /// MongoDB is not wired in yet.
    pub fn mongo() -> Option<Backend> {
        None
    }

    /// A store on this backend's data. The previous store must be dropped first: the embedded
    /// file is locked while open.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self {
            Backend::Embedded(dir) => {
                Arc::new(EmbeddedStore::open(dir.path()).expect("embedded store opens"))
            }
        }
    }
}
