//! The two ways of touching the database: a read snapshot, and one write transaction committed
//! with an fsync before the caller hears `Ok`. Also where redb's errors become [`StoreError`]s.

use super::tables;
use crate::store::{StoreError, StoreResult};
use redb::{Database, Durability, ReadTransaction, WriteTransaction};

/// Runs `apply` on a consistent snapshot.
pub(super) fn read<T>(
    db: &Database,
    apply: impl FnOnce(&ReadTransaction) -> StoreResult<T>,
) -> StoreResult<T> {
    apply(&db.begin_read()?)
}

/// Runs `apply` in one write transaction: committed and fsync'd if it returns `Ok`, rolled back
/// otherwise, so that a refused call (not enough credits, duplicate, …) leaves no trace. redb
/// runs one write transaction at a time, which is what makes read-check-write sequences such
/// as a debit safe against concurrent callers.
pub(super) fn write<T>(
    db: &Database,
    apply: impl FnOnce(&WriteTransaction) -> StoreResult<T>,
) -> StoreResult<T> {
    let mut txn = db.begin_write()?;
    // The default today, but the contract depends on it: a crash after Ok must not lose the write.
    txn.set_durability(Durability::Immediate);
    match apply(&txn) {
        Ok(value) => {
            txn.commit()?;
            Ok(value)
        }
        Err(refusal) => {
            txn.abort()?;
            Err(refusal)
        }
    }
}

/// Whether a write could start now. Reads keep working after a failed write (a full disk), but
/// redb refuses every later write until the file is reopened; a health check must see that.
/// Starting and aborting a write transaction touches no file.
pub(super) fn check_writable(db: &Database) -> StoreResult<()> {
    db.begin_write()?.abort()?;
    Ok(())
}

/// Creates the tables that do not exist yet.
pub(super) fn create_tables(db: &Database) -> StoreResult<()> {
    write(db, |txn| {
        for table in tables::ALL {
            txn.open_table(table)?;
        }
        Ok(())
    })
}

/// Empties every table. Deleting and recreating them frees their pages at once.
pub(super) fn empty_tables(txn: &WriteTransaction) -> StoreResult<()> {
    for table in tables::ALL {
        txn.delete_table(table)?;
        txn.open_table(table)?;
    }
    Ok(())
}

/// Sorts redb's errors into the two kinds callers care about: the data is bad (never retry) or
/// the storage failed (disk full, unwritable directory, file locked: retry later or fix the host).
fn classify(error: redb::Error) -> StoreError {
    use redb::Error as E;
    match error {
        E::Corrupted(_)
        | E::TableTypeMismatch { .. }
        | E::TableIsMultimap(_)
        | E::TableIsNotMultimap(_)
        | E::TypeDefinitionChanged { .. }
        | E::TableDoesNotExist(_) => StoreError::Corrupt(error.to_string()),
        E::DatabaseAlreadyOpen => StoreError::Unavailable(
            "the database file is already open in another process or store".into(),
        ),
        E::PreviousIo => StoreError::Unavailable(
            "an earlier write failed (disk full or I/O error): no write is possible until the \
             database is reopened; free space and restart the server"
                .into(),
        ),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Lets `?` turn each of redb's error types into a [`StoreError`].
macro_rules! from_redb {
    ($($error:ty),*) => {$(
        impl From<$error> for StoreError {
            fn from(error: $error) -> Self {
                classify(error.into())
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
