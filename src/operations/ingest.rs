//! Taking in what a probe reports: progress (`accepted`, `finished`) and results.
//!
//! A result is acknowledged only after [`ingest`] returned, i.e. after the store made it durable
//! together with its owner's reward; a re-sent result comes back as a duplicate and is neither
//! stored nor paid again. That is what makes delivery exactly-once from the probe's outbox.
//! A result past its assignment's quota or measured outside its operation's window is refused
//! for good (see `probe_protocol::params::Params::max_results`): results are worth credits, and
//! a probe must not be able to mint them.

use super::Prices;
use crate::domain::{Credits, OperationId, ResultId};
use crate::store::{
    AssignmentState, AssignmentStep, Insertion, MeasurementResult, Probe, Reward, Store, StoreError,
};
use chrono::Utc;
use probe_protocol::{error_code, ResultReport, MAX_UNIQUE_CODE_LEN};

/// What a probe's owner earns per new result.
pub const CREDITS_PER_RESULT: u64 = 10;

/// Why a report was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The report breaks the protocol (bad id, bad unique_code, operation not assigned to this
    /// probe): the link is closed with a protocol-violation code.
    #[error("{0}")]
    Violation(String),
    /// The operation does not exist (any more: deleted). The probe's record of it is stale, not
    /// forged: it is told so, and the link stays open.
    #[error("operation_id: operation {0} does not exist")]
    UnknownOperation(OperationId),
    /// The result can never be stored: measured outside its operation's window, or past the
    /// number of results its schedule can produce. Not stored, not paid; the probe is told so
    /// (naming the result) and drops it, and the link stays open.
    #[error("{}", .0.cause)]
    Refused(Box<RefusedResult>),
    /// The store could not take it now; not acknowledged, the probe re-sends later.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A result refused for good, and why.
#[derive(Debug)]
pub struct RefusedResult {
    /// Its operation.
    pub operation: OperationId,
    /// Its code, so that the probe knows which result to drop.
    pub unique_code: String,
    /// [`StoreError::OverQuota`] or [`StoreError::OutsideWindow`].
    pub cause: StoreError,
}

impl RefusedResult {
    /// The protocol's error code for the refusal.
    pub fn code(&self) -> &'static str {
        match self.cause {
            StoreError::OutsideWindow { .. } => error_code::OUTSIDE_WINDOW,
            _ => error_code::OVER_QUOTA,
        }
    }
}

fn operation_id(raw: &str) -> Result<OperationId, IngestError> {
    raw.parse().map_err(|_| {
        IngestError::Violation(format!(
            "operation_id: {raw:?} is not an operation identifier"
        ))
    })
}

/// Why a probe without an assignment for `operation` may not report for it: the operation is
/// gone, or it is another probe's.
async fn refusal(store: &dyn Store, operation: OperationId) -> IngestError {
    match store.operation(operation).await {
        Ok(None) => IngestError::UnknownOperation(operation),
        Ok(Some(_)) => not_assigned(operation),
        Err(error) => error.into(),
    }
}

fn not_assigned(operation: OperationId) -> IngestError {
    IngestError::Violation(format!(
        "operation_id: operation {operation} is not assigned to this probe"
    ))
}

/// Stores one result of `probe` and pays its owner; returns whether it was new.
pub async fn ingest(
    store: &dyn Store,
    probe: &Probe,
    report: ResultReport,
) -> Result<Insertion, IngestError> {
    let operation = operation_id(&report.operation_id)?;
    if report.unique_code.is_empty() || report.unique_code.len() > MAX_UNIQUE_CODE_LEN {
        return Err(IngestError::Violation(format!(
            "unique_code: must be 1 to {MAX_UNIQUE_CODE_LEN} bytes"
        )));
    }
    let result = MeasurementResult {
        id: ResultId::generate(),
        operation,
        probe: probe.id,
        unique_code: report.unique_code,
        format: report.format,
        content: report.content,
        error: report.error,
        measured_at: report.measured_at,
        received_at: Utc::now(),
    };
    let reward = Reward {
        user: probe.owner,
        credits: Credits::new(CREDITS_PER_RESULT).expect("small constant"),
    };
    match store.insert_result(&result, &reward).await {
        Err(StoreError::NotAssigned) => Err(refusal(store, operation).await),
        Err(cause @ (StoreError::OverQuota(_) | StoreError::OutsideWindow { .. })) => {
            Err(IngestError::Refused(Box::new(RefusedResult {
                operation,
                unique_code: result.unique_code,
                cause,
            })))
        }
        other => Ok(other?),
    }
}

/// Records `accepted` or `finished` for an operation of `probe`, adjusting its in-use credits
/// by the operation's per-probe price (from `prices`, which reads the store only for an
/// operation this process has not seen).
pub async fn record_progress(
    store: &dyn Store,
    prices: &Prices,
    probe: &Probe,
    raw_operation: &str,
    to: AssignmentState,
) -> Result<(), IngestError> {
    let operation_id = operation_id(raw_operation)?;
    let credits = prices
        .of(store, operation_id)
        .await?
        .ok_or(IngestError::UnknownOperation(operation_id))?;
    match store
        .advance_assignment(AssignmentStep {
            operation: operation_id,
            probe: probe.id,
            to,
            credits,
        })
        .await
    {
        Err(StoreError::NotAssigned) => Err(refusal(store, operation_id).await),
        other => other.map(|_| ()).map_err(IngestError::from),
    }
}
