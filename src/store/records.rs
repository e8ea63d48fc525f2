//! The records the store keeps.

use super::StoreError;
use crate::domain::{Credits, Email, Location, OperationId, ProbeId, ResultId, UserId};
use chrono::{DateTime, Utc};
use probe_protocol::params::ResultWindow;
use probe_protocol::{ContentFormat, OperationKind, RawContent, ResultFormat};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Identifier (`_id` in the API).
    pub id: UserId,
    /// Unique login name.
    pub email: Email,
    /// Argon2id PHC string; never leaves the server.
    pub password_hash: String,
    /// Current balance.
    pub credits: Credits,
    /// May grant credits.
    pub is_superuser: bool,
}

/// A registered probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Identifier (`identifier` in the API).
    pub id: ProbeId,
    /// The account that registered it and earns its rewards.
    pub owner: UserId,
    /// Where it is.
    pub location: Location,
    /// Part of the signed probe token; bumping it revokes every token issued before.
    pub token_version: u32,
    /// Present while the probe is connected to some instance.
    pub link: Option<Link>,
}

/// Identifies one WebSocket link of a probe, unique across instances and restarts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

/// The state of a connected probe, as it reported in `hello` and since adjusted by
/// `accepted`/`finished`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The server instance holding the WebSocket.
    pub instance: String,
    /// This link.
    pub session: SessionId,
    /// Capacity the probe offers.
    pub total_credits: u64,
    /// Capacity taken by accepted, unfinished operations.
    pub in_use_credits: u64,
    /// The probe's own clock offset, if it reported one.
    pub clock_offset_ms: Option<f64>,
    /// When the link came up.
    pub connected_at: DateTime<Utc>,
}

impl Link {
    /// Credits still free on the probe.
    pub fn available_credits(&self) -> u64 {
        self.total_credits.saturating_sub(self.in_use_credits)
    }

    /// Free fraction of the capacity, as the original API's `availability` (0.0 to 1.0).
    pub fn availability(&self) -> f64 {
        if self.total_credits == 0 {
            return 0.0;
        }
        self.available_credits() as f64 / self.total_credits as f64
    }
}

/// A measurement request fanned out to probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// Identifier (`_id` in the API).
    pub id: OperationId,
    /// Who created and paid for it.
    pub owner: UserId,
    /// What to measure.
    pub kind: OperationKind,
    /// Parameters as given (validated).
    pub params: Map<String, Value>,
    /// The probes it was assigned to.
    pub probes: Vec<ProbeId>,
    /// What the owner paid in total.
    pub credits: Credits,
    /// What each probe reserves for it between `accepted` and `finished`.
    pub credits_per_probe: u64,
    /// Requested output format.
    pub result_format: ResultFormat,
    /// The start of the last minute the schedule fires in (the `stop_time` as given); the
    /// operation runs, and is delivered, until that minute is over ([`Operation::ends_at`]).
    pub stop_time: DateTime<Utc>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The most results each probe may deliver ([`probe_protocol::params::Params::max_results`]).
    /// Operations stored before quotas existed have none (`u64::MAX`); they end within a year.
    #[serde(default = "no_quota")]
    pub max_results_per_probe: u64,
}

fn no_quota() -> u64 {
    u64::MAX
}

/// What one probe may deliver for one operation, fixed when the operation is created and kept
/// with the assignment, so that storing a result checks it without reading the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultAllowance {
    /// The most results stored (and paid) for the assignment.
    pub max_results: u64,
    /// The earliest `measured_at` accepted ([`ResultWindow`]).
    pub measured_from: DateTime<Utc>,
    /// The latest `measured_at` accepted.
    pub measured_until: DateTime<Utc>,
}

impl ResultAllowance {
    /// The allowance of each probe of `operation`.
    pub fn of(operation: &Operation) -> Self {
        let window = ResultWindow::new(operation.created_at, operation.stop_time);
        Self {
            max_results: operation.max_results_per_probe,
            measured_from: window.start,
            measured_until: window.end,
        }
    }

    /// Whether one more result measured at `measured_at` may join the `stored` ones:
    /// [`StoreError::OutsideWindow`] or [`StoreError::OverQuota`] if not.
    pub fn admit(&self, stored: u64, measured_at: DateTime<Utc>) -> Result<(), StoreError> {
        if measured_at < self.measured_from || measured_at > self.measured_until {
            return Err(StoreError::OutsideWindow {
                from: self.measured_from,
                until: self.measured_until,
            });
        }
        if stored >= self.max_results {
            return Err(StoreError::OverQuota(self.max_results));
        }
        Ok(())
    }
}

impl Operation {
    /// When the operation is over: the end of its stop minute, as the original ran it. No
    /// delivery from then on.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.stop_time + probe_protocol::params::STOP_MINUTE
    }
}

/// Where an operation stands on one probe. The order of the variants is the order of the states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentState {
    /// Sent (or to be sent) to the probe, not yet accepted.
    Assigned,
    /// The probe accepted it; its credits are in use.
    Accepted,
    /// The probe finished it; its credits are released.
    Finished,
}

/// One step of an assignment: the operation moves on one probe `to` a later state, and the
/// probe's in-use credits move by `credits` with it (see `Store::advance_assignment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignmentStep {
    pub operation: OperationId,
    pub probe: ProbeId,
    pub to: AssignmentState,
    pub credits: u64,
}

/// How far an operation has come: what its live stream reports (`progress` and `end` events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Progress {
    /// Probes the operation is assigned to.
    pub assigned: u64,
    /// Of those, probes that accepted it (finished ones included: they accepted first).
    pub accepted: u64,
    /// Of those, probes that finished it.
    pub finished: u64,
    /// Results stored.
    pub results: u64,
}

/// One stored result of one execution on one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementResult {
    /// Storage identifier, also the pagination cursor.
    pub id: ResultId,
    /// The operation it answers.
    pub operation: OperationId,
    /// The probe that measured it.
    pub probe: ProbeId,
    /// The probe's identifier for this execution; unique per (operation, probe).
    pub unique_code: String,
    /// Encoding of `content`.
    pub format: ContentFormat,
    /// The measurement output, as the JSON text the probe sent (never built into a tree).
    pub content: RawContent,
    /// Error reported by the probe's tool, if it failed.
    pub error: Option<String>,
    /// When the probe measured it.
    pub measured_at: DateTime<Utc>,
    /// When the coordinator stored it.
    pub received_at: DateTime<Utc>,
}

impl MeasurementResult {
    /// What the result weighs in a page of results: the bytes of its content and error text,
    /// which are all that can be large.
    pub fn weight(&self) -> usize {
        self.content.len() + self.error.as_ref().map_or(0, String::len)
    }
}

/// How many results one read may return: what bounds the memory of a page, whatever the results
/// weigh (each can be as large as a probe's frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit {
    /// At most this many results.
    pub count: usize,
    /// The page ends with the result that brings the page's [`MeasurementResult::weight`] to this
    /// many bytes or more, so it weighs less than `bytes` plus one result.
    pub bytes: usize,
}

impl PageLimit {
    /// At most `count` results, whatever they weigh.
    pub fn count(count: usize) -> Self {
        Self {
            count,
            bytes: usize::MAX,
        }
    }

    /// At most `count` results, ending at `bytes` of them.
    pub fn new(count: usize, bytes: usize) -> Self {
        Self { count, bytes }
    }

    /// Fills a page from `results` in order, stopping at the first error.
    pub fn fill<E>(
        &self,
        results: impl IntoIterator<Item = Result<MeasurementResult, E>>,
    ) -> Result<Vec<MeasurementResult>, E> {
        let mut page = Vec::new();
        let mut weight = 0usize;
        for result in results.into_iter().take(self.count) {
            if weight >= self.bytes {
                break;
            }
            let result = result?;
            weight = weight.saturating_add(result.weight());
            page.push(result);
        }
        Ok(page)
    }
}

/// Credits paid to a probe's owner for a new result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reward {
    /// Who is paid.
    pub user: UserId,
    /// How much.
    pub credits: Credits,
}

/// Outcome of [`super::Store::insert_result`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insertion {
    /// New result, stored and rewarded.
    Stored,
    /// Stored before; nothing changed.
    Duplicate,
}

/// An operation of another deployment with its results, for [`super::Store::import_operation`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedOperation {
    /// The operation, its id kept.
    pub operation: Operation,
    /// Its results, in their original order.
    pub results: Vec<MeasurementResult>,
}

impl ImportedOperation {
    /// How many of the results `probe` delivered: what its assignment's quota starts from.
    pub fn results_of(&self, probe: ProbeId) -> u64 {
        self.results.iter().filter(|r| r.probe == probe).count() as u64
    }

    /// The operation's probes without repeats, in order: one assignment each.
    pub fn assigned_probes(&self) -> Vec<ProbeId> {
        let mut seen = std::collections::HashSet::new();
        let probes = self.operation.probes.iter();
        probes.filter(|p| seen.insert(**p)).copied().collect()
    }
}

/// What [`super::Store::import_operation`] added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ImportOutcome {
    /// The operation was new (`false`: it had been imported before, and nothing changed).
    pub operation: bool,
    /// Results stored (those already there are not counted).
    pub results: u64,
}
