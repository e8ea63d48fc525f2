//! The indexes, created at every startup (creating an existing index is a no-op).
//!
//! The unique ones are part of the contract, not an optimisation: they are what refuses a second
//! account with one address, a second assignment of one operation to one probe, and a result
//! stored twice. Their names are fixed because duplicate key errors are told apart by them.

use super::{ASSIGNMENTS, OPERATIONS, PROBES, RESULTS, SETTLEMENTS, USERS};
use bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Database, IndexModel};

/// Unique e-mail address of `users`.
pub(super) const USER_EMAIL: &str = "email_unique";
/// Unique (operation, probe, unique_code) of `results`: the dedup of re-sent results.
pub(super) const RESULT_CODE: &str = "operation_probe_unique_code_unique";

/// Creates every index of every collection.
pub(super) async fn create(db: &Database) -> mongodb::error::Result<()> {
    for (collection, keys, name, unique) in all() {
        let options = IndexOptions::builder()
            .name(name.to_owned())
            .unique(unique)
            .build();
        let model = IndexModel::builder().keys(keys).options(options).build();
        db.collection::<Document>(collection)
            .create_index(model)
            .await?;
    }
    Ok(())
}

/// (collection, keys, name, unique).
fn all() -> [(&'static str, Document, &'static str, bool); 8] {
    [
        (USERS, doc! { "email": 1 }, USER_EMAIL, true),
        (PROBES, doc! { "owner": 1 }, "owner", false),
        (OPERATIONS, doc! { "owner": 1 }, "owner", false),
        (
            ASSIGNMENTS,
            doc! { "operation": 1, "probe": 1 },
            "operation_probe_unique",
            true,
        ),
        (
            ASSIGNMENTS,
            doc! { "probe": 1, "state": 1 },
            "probe_state",
            false,
        ),
        (
            RESULTS,
            doc! { "operation": 1, "probe": 1, "unique_code": 1 },
            RESULT_CODE,
            true,
        ),
        // Pages of an operation's results, in `_id` order.
        (
            RESULTS,
            doc! { "operation": 1, "_id": 1 },
            "operation_id",
            false,
        ),
        // Recovery's search for the open settlements of an instance (see `settlement`).
        (SETTLEMENTS, doc! { "instance": 1 }, "instance", false),
    ]
}
