//! The indexes, created at every startup (creating an existing index is a no-op).
//!
//! The unique ones are part of the contract, not an optimisation: they are what refuses a second
//! account with one address, a second assignment of one operation to one probe, and a result
//! stored twice. Their names are fixed because duplicate key errors are told apart by them.

use super::{ASSIGNMENTS, OPERATIONS, PROBES, RESULTS, USERS};
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
        // Only results owing a reward have `pending`: sparse keeps that index as small.
        let sparse = name.starts_with("pending_");
        let options = IndexOptions::builder()
            .name(name.to_owned())
            .unique(unique)
            .sparse(sparse.then_some(true))
            .build();
        let model = IndexModel::builder().keys(keys).options(options).build();
        db.collection::<Document>(collection)
            .create_index(model)
            .await?;
    }
    Ok(())
}

/// (collection, keys, name, unique).
fn all() -> [(&'static str, Document, &'static str, bool); 9] {
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
        // Recovery's searches for unpaid rewards (see `settlement`).
        (
            RESULTS,
            doc! { "pending.settlement": 1 },
            "pending_settlement",
            false,
        ),
        (
            RESULTS,
            doc! { "pending.instance": 1 },
            "pending_instance",
            false,
        ),
    ]
}
