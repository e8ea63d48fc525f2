//! The one [`Store`] decorator: every call, whichever code path makes it, is reported to
//! [`StoreObserver`]s once it returned.
//!
//! Two concerns need to see every store call: telemetry counts failures and logs outages
//! (`telemetry::StoreFailures`), and the cached probe list must notice every change to a probe
//! record (`probes::ProbeGeneration`). Each used to be a decorator of its own, repeating every
//! method of the contract; a new method then had to be written into both. Here the
//! pass-through methods are generated from one list, one line per method, which also says what
//! the method may change ([`Touched`]). A new [`Store`] method needs one line here (the
//! compiler asks for it, as `ObservedStore` implements `Store`), and its author decides on
//! that line whether it can change probes; observers need no change at all.

use super::{
    AssignmentState, AssignmentStep, ImportOutcome, ImportedOperation, Insertion, Inventory, Link,
    MeasurementResult, Operation, PageLimit, Probe, Progress, Reward, SessionId, Store, StoreError,
    StoreResult, User,
};
use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// What a store call may have changed, as far as observers care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touched {
    /// A probe record, i.e. what GET /probes shows: registration, link state, token version,
    /// removal, in-use credits.
    Probes,
    /// No probe record: a read, or a write to accounts, operations or results only.
    NoProbes,
}

/// Told about every call made through an [`ObservedStore`], after it returned.
pub trait StoreObserver: Send + Sync + 'static {
    /// `touched` is what the call may have changed, also when it failed (an error may still
    /// have written); `outcome` carries its error, if any.
    fn after_call(&self, touched: Touched, outcome: Result<(), &StoreError>);
}

/// A [`Store`] that reports each call of `inner` to its observers, in order.
pub struct ObservedStore {
    inner: Arc<dyn Store>,
    observers: Vec<Arc<dyn StoreObserver>>,
}

impl ObservedStore {
    /// Reports the calls made through `inner` to `observers`.
    pub fn new(inner: Arc<dyn Store>, observers: Vec<Arc<dyn StoreObserver>>) -> Self {
        Self { inner, observers }
    }

    /// Passes `outcome` through once every observer has seen it.
    fn report<T>(&self, touched: Touched, outcome: StoreResult<T>) -> StoreResult<T> {
        let seen = outcome.as_ref().map(drop);
        for observer in &self.observers {
            observer.after_call(touched, seen);
        }
        outcome
    }
}

/// Implements [`Store`] for [`ObservedStore`] from one line per method:
/// `name(arguments) -> success type, what it may change;` where the last part is `Probes`,
/// `NoProbes`, or `ProbesIfTrue` for a method whose `Ok(false)` means nothing changed.
macro_rules! observed_store {
    ($($method:ident($($arg:ident: $type:ty),*) -> $ok:ty, $touched:ident;)*) => {
        #[async_trait]
        impl Store for ObservedStore {
            $(
                async fn $method(&self, $($arg: $type),*) -> StoreResult<$ok> {
                    let outcome = self.inner.$method($($arg),*).await;
                    let touched = observed_store!(@touched $touched, outcome);
                    self.report(touched, outcome)
                }
            )*
        }
    };
    (@touched Probes, $outcome:ident) => { Touched::Probes };
    (@touched NoProbes, $outcome:ident) => { Touched::NoProbes };
    (@touched ProbesIfTrue, $outcome:ident) => {
        if matches!($outcome, Ok(false)) { Touched::NoProbes } else { Touched::Probes }
    };
}

observed_store! {
    insert_user(user: &User) -> (), NoProbes;
    user_by_email(email: &Email) -> Option<User>, NoProbes;
    user(id: UserId) -> Option<User>, NoProbes;
    add_credits(id: UserId, amount: Credits) -> Option<User>, NoProbes;
    replace_password_hash(id: UserId, current: &str, new: &str) -> bool, NoProbes;
    insert_probe(probe: &Probe, max_per_owner: u32) -> (), Probes;
    probe_count(owner: UserId) -> u64, NoProbes;
    probe(id: ProbeId) -> Option<Probe>, NoProbes;
    probes_by_id(ids: &[ProbeId]) -> Vec<Option<Probe>>, NoProbes;
    probes(owner: Option<UserId>) -> Vec<Probe>, NoProbes;
    link_up(id: ProbeId, link: &Link) -> (), Probes;
    link_down(id: ProbeId, session: &SessionId) -> (), Probes;
    reset_links(instance: &str) -> (), Probes;
    // Clears the link, which the list shows (`connected`).
    revoke_probe_tokens(id: ProbeId) -> Option<Probe>, Probes;
    remove_probe(id: ProbeId) -> bool, Probes;
    create_operation(operation: &Operation) -> (), NoProbes;
    operation(id: OperationId) -> Option<Operation>, NoProbes;
    operations(owner: Option<UserId>) -> Vec<Operation>, NoProbes;
    pending_operations(probe: ProbeId, now: DateTime<Utc>) -> Vec<Operation>, NoProbes;
    assignment(operation: OperationId, probe: ProbeId) -> Option<AssignmentState>, NoProbes;
    // Moves the probe's in-use credits, which the list shows (`availability`).
    advance_assignment(step: AssignmentStep) -> bool, ProbesIfTrue;
    insert_result(result: &MeasurementResult, reward: &Reward) -> Insertion, NoProbes;
    results(operation: OperationId, after: Option<ResultId>, page: PageLimit)
        -> Vec<MeasurementResult>, NoProbes;
    import_user(user: &User) -> bool, NoProbes;
    import_probe(probe: &Probe) -> bool, ProbesIfTrue;
    import_operation(import: &ImportedOperation) -> ImportOutcome, NoProbes;
    progress(operation: OperationId) -> Progress, NoProbes;
    ping() -> (), NoProbes;
    delete_all() -> (), Probes;
    write_marker(marker: &str) -> (), NoProbes;
    inventory() -> Inventory, NoProbes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;
    use std::sync::Mutex;

    /// Records what each call reported.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<(Touched, bool)>>);

    impl StoreObserver for Recorder {
        fn after_call(&self, touched: Touched, outcome: Result<(), &StoreError>) {
            self.0.lock().unwrap().push((touched, outcome.is_err()));
        }
    }

    #[tokio::test]
    async fn every_observer_sees_each_call_with_what_it_may_change_and_its_failure() {
        let dir = tempfile::tempdir().unwrap();
        let recorders = [Arc::new(Recorder::default()), Arc::new(Recorder::default())];
        let observers = recorders.iter().map(|r| r.clone() as _).collect();
        let store = ObservedStore::new(
            Arc::new(EmbeddedStore::open(dir.path()).unwrap()),
            observers,
        );

        assert_eq!(store.user(UserId::generate()).await.unwrap(), None);
        store.reset_links("instance").await.unwrap();
        assert!(!store.remove_probe(ProbeId::generate()).await.unwrap());
        let unassigned = store
            .advance_assignment(AssignmentStep {
                operation: OperationId::generate(),
                probe: ProbeId::generate(),
                to: AssignmentState::Finished,
                credits: 1,
            })
            .await;
        assert!(matches!(unassigned, Err(StoreError::NotAssigned)));

        let expected = [
            (Touched::NoProbes, false),
            (Touched::Probes, false),
            // Removing a probe that is not there is still reported as a probe change.
            (Touched::Probes, false),
            // A failed write may still have written.
            (Touched::Probes, true),
        ];
        for recorder in recorders {
            assert_eq!(*recorder.0.lock().unwrap(), expected);
        }
    }
}
