//! Persistence: one [`Store`] contract, two implementations.
//!
//! [`mongo::MongoStore`] is the production store; [`embedded::EmbeddedStore`] keeps everything in
//! one file under a data directory so that the server runs on a fresh machine with nothing else
//! installed. Both pass the same contract suite (`tests/store_contract.rs`).
//!
//! Everything that several server instances must agree on lives here, not in memory: accounts,
//! credits, probes and their link state, operations, assignments and results.

pub mod embedded;
mod inventory;
pub mod mongo;
mod observed;
mod records;

pub use inventory::Inventory;
pub use observed::{ObservedStore, StoreObserver, Touched};
pub use records::*;

use crate::domain::{Credits, Email, OperationId, ProbeId, ResultId, UserId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated, e.g. an e-mail address already registered.
    #[error("{0} already exists")]
    Duplicate(&'static str),
    /// The user's balance does not cover the debit; nothing was changed.
    #[error("not enough credits")]
    NotEnoughCredits,
    /// A balance would pass [`crate::domain::MAX_CREDITS`]; nothing was changed.
    #[error("credit balance would overflow")]
    CreditOverflow,
    /// The operation is not assigned to that probe.
    #[error("operation not assigned to this probe")]
    NotAssigned,
    /// The owner already has this many probes (the per-user cap); nothing was stored.
    #[error("at most {0} probes per user")]
    TooManyProbes(u32),
    /// The assignment already holds the most results its operation allows (the number); the
    /// result was neither stored nor paid.
    #[error("the probe already delivered the {0} results its operation's schedule can produce")]
    OverQuota(u64),
    /// The result's `measured_at` is outside its operation's window; neither stored nor paid.
    #[error("measured_at: must be between {from} and {until} (the operation's run time, with clock tolerance)")]
    OutsideWindow {
        /// The earliest accepted instant.
        from: DateTime<Utc>,
        /// The latest accepted instant.
        until: DateTime<Utc>,
    },
    /// The referenced entity does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The store cannot be reached or refused the write; the caller may retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded: a bug or tampering, never the caller's fault.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// Short alias for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// The persistence contract. Every method is atomic: it applies entirely or not at all, also
/// across a crash of the process. Writes are durable when the method returns `Ok`.
///
/// The server reaches its store through [`ObservedStore`]: a new method gets one line there,
/// saying whether it can change a probe record.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account. [`StoreError::Duplicate`]`("email")` if the address is taken.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    /// The account with that address.
    async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>>;
    /// The account with that id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// Adds credits to an account and returns it updated; `None` if there is no such account.
    async fn add_credits(&self, id: UserId, amount: Credits) -> StoreResult<Option<User>>;
    /// Replaces an account's password hash by `new` if it is still `current` (a sign-in that
    /// upgraded a legacy hash); `false` if there is no such account or its hash changed.
    async fn replace_password_hash(
        &self,
        id: UserId,
        current: &str,
        new: &str,
    ) -> StoreResult<bool>;

    /// Registers a probe unless its owner already has `max_per_owner` probes
    /// ([`StoreError::TooManyProbes`]), counted by [`Store::probe_count`] in the same
    /// transaction, so that concurrent registrations (on any instance) cannot pass the cap
    /// together. [`StoreError::NotFound`]`("user")` if the owner has no account.
    async fn insert_probe(&self, probe: &Probe, max_per_owner: u32) -> StoreResult<()>;
    /// How many probes `owner` has: what the per-user cap counts (a removed probe does not).
    async fn probe_count(&self, owner: UserId) -> StoreResult<u64>;
    /// The probe with that id.
    async fn probe(&self, id: ProbeId) -> StoreResult<Option<Probe>>;
    /// The probes with these ids, in the same order: `None` for an unknown id. One round trip
    /// (one read transaction, one query) for an operation's whole probe list.
    async fn probes_by_id(&self, ids: &[ProbeId]) -> StoreResult<Vec<Option<Probe>>>;
    /// Probes, in creation order, optionally only those of one owner.
    async fn probes(&self, owner: Option<UserId>) -> StoreResult<Vec<Probe>>;
    /// Marks a probe connected through `link`, replacing any previous link state.
    async fn link_up(&self, id: ProbeId, link: &Link) -> StoreResult<()>;
    /// Marks a probe disconnected, but only if its current link is `session` (a newer link of
    /// the same probe, possibly on another instance, must stay up).
    async fn link_down(&self, id: ProbeId, session: &SessionId) -> StoreResult<()>;
    /// Marks every probe linked through `instance` disconnected; called at startup, when no link
    /// of this instance can have survived.
    async fn reset_links(&self, instance: &str) -> StoreResult<()>;
    /// Revokes every token of a probe: bumps its token version (tokens carry the version they
    /// were signed for) and clears its link, whose token is now revoked. Returns the probe as
    /// updated, `None` if there is no such probe.
    async fn revoke_probe_tokens(&self, id: ProbeId) -> StoreResult<Option<Probe>>;
    /// Removes a probe: it is no longer listed, found, linked or assignable. Its stored results
    /// and its operations' assignments stay. `false` if there was no such probe.
    async fn remove_probe(&self, id: ProbeId) -> StoreResult<bool>;

    /// Debits `operation.credits` from its owner and stores the operation with one
    /// [`AssignmentState::Assigned`] assignment per probe, each with the operation's
    /// [`ResultAllowance`] and no result yet, all or nothing.
    /// [`StoreError::NotEnoughCredits`] when the owner's balance does not cover it; concurrent
    /// calls can never drive a balance below zero.
    async fn create_operation(&self, operation: &Operation) -> StoreResult<()>;
    /// The operation with that id.
    async fn operation(&self, id: OperationId) -> StoreResult<Option<Operation>>;
    /// Operations in creation order, optionally only those of one owner.
    async fn operations(&self, owner: Option<UserId>) -> StoreResult<Vec<Operation>>;
    /// Operations assigned to `probe`, not yet accepted by it, not over at `now` (see
    /// [`Operation::ends_at`]: the stop minute runs to its end): what must be (re)delivered when
    /// the probe connects.
    async fn pending_operations(
        &self,
        probe: ProbeId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Operation>>;
    /// The state of an assignment; `None` if the operation is not assigned to that probe.
    async fn assignment(
        &self,
        operation: OperationId,
        probe: ProbeId,
    ) -> StoreResult<Option<AssignmentState>>;
    /// Moves an assignment forward and adjusts the probe's in-use credits with it:
    /// `Assigned → Accepted` adds `credits`, `Accepted → Finished` (or `Assigned → Finished`)
    /// releases what was added. Moving to the current or an earlier state changes nothing and
    /// returns `false`. [`StoreError::NotAssigned`] if there is no such assignment.
    async fn advance_assignment(&self, step: AssignmentStep) -> StoreResult<bool>;

    /// Stores a result and pays `reward` to the probe's owner, together or not at all.
    /// A result with the same (operation, probe, unique_code) stored before is left untouched,
    /// pays nothing and returns [`Insertion::Duplicate`], whatever else holds. Otherwise, checked
    /// in the same transaction: [`StoreError::NotAssigned`] if the operation is not (or no
    /// longer) assigned to the result's probe, [`StoreError::OutsideWindow`] if `measured_at`
    /// is outside the assignment's [`ResultAllowance`], [`StoreError::OverQuota`] if the
    /// assignment already holds `max_results` results (counted atomically with the insert, so
    /// concurrent calls never store more).
    async fn insert_result(
        &self,
        result: &MeasurementResult,
        reward: &Reward,
    ) -> StoreResult<Insertion>;
    /// Results of an operation in storage order, starting after the cursor, as many as `page`
    /// allows: at most its count, and none past the one that brings their weight to its bytes.
    async fn results(
        &self,
        operation: OperationId,
        after: Option<ResultId>,
        page: PageLimit,
    ) -> StoreResult<Vec<MeasurementResult>>;

    /// How many of the operation's assignments are in each state (each counted in the states it
    /// went through: a finished probe is also accepted) and how many results it has stored.
    /// All zero for an unknown operation. Read once a second by each live stream.
    async fn progress(&self, operation: OperationId) -> StoreResult<Progress>;

    // Import (`pladmed import`): records of another deployment, ids kept, each stored only if
    // absent, so that running the import again adds nothing twice.

    /// Stores `user` unless an account with its id exists (`false`: nothing changed).
    /// [`StoreError::Duplicate`]`("email")` if another account has its address.
    async fn import_user(&self, user: &User) -> StoreResult<bool>;
    /// Stores `probe` unless a probe with its id exists (`false`); no per-owner cap applies.
    async fn import_probe(&self, probe: &Probe) -> StoreResult<bool>;
    /// Stores an operation and its results unless an operation with its id exists (then
    /// nothing changes): no debit, no reward, and one [`AssignmentState::Finished`] assignment
    /// per probe (nothing is delivered), whose allowance counts the probe's imported results.
    /// A result whose (operation, probe, unique_code) is stored already is skipped.
    async fn import_operation(&self, import: &ImportedOperation) -> StoreResult<ImportOutcome>;

    /// A cheap round trip proving the store answers.
    async fn ping(&self) -> StoreResult<()>;
    /// Deletes every record (development mode only); unique indexes stay in force.
    async fn delete_all(&self) -> StoreResult<()>;

    // Monitoring: what GET /health and GET /metrics ask of the store.

    /// Writes a small marker record named `marker`, durably like any write, then deletes it.
    /// A store can answer a ping yet refuse writes (a full disk, a lost primary, a read-only
    /// file); this is what notices. `marker` should be unique per call (concurrent checks) and
    /// is left behind only if the process dies between the two writes.
    async fn write_marker(&self, marker: &str) -> StoreResult<()>;
    /// How many records of each kind the store holds, counted cheaply (see [`Inventory`]).
    async fn inventory(&self) -> StoreResult<Inventory>;
}
