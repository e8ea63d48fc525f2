//! What an original probe emits: results (stored through our exactly-once ingest and
//! acknowledged once durable) and credit changes (`new_operation`, `finish_operation`).

use super::events::{report, CreditsChange, LegacyResult};
use super::link::LegacyLink;
use crate::domain::OperationId;
use crate::operations::{self, IngestError};
use crate::store::{AssignmentState, Insertion};
use socketioxide::extract::AckSender;
use socketioxide::ParserError;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The handlers of one link's events.
#[derive(Clone)]
pub struct Reports(pub Arc<LegacyLink>);

/// The acknowledgement of a result that was not stored. The client compares what it gets with
/// the operation id and keeps the result unless they match, so an object tells it "not
/// stored" while saying why.
#[derive(serde::Serialize)]
struct NotStored {
    error: String,
}

impl Reports {
    /// `results`: stores the result once, then acknowledges with its operation id, as the
    /// original did, also for a duplicate (the client must not tell them apart). A result that
    /// is not stored is acknowledged with `{"error": …}`, which the client does not take as
    /// success.
    pub async fn result(&self, result: Result<LegacyResult, ParserError>, ack: AckSender) {
        let link = &self.0;
        let telemetry = &link.state.telemetry;
        let received = Instant::now();
        telemetry.results_received.inc();
        let result = match result {
            Ok(result) => result,
            Err(error) => {
                tracing::info!(%error, "malformed legacy result");
                let error = format!("results: expected {{operation_id, content (binary), unique_code, format}}: {error}");
                return refuse(ack, error);
            }
        };
        let operation_id = result.operation_id.clone();
        let report = match report(result, link.state.settings.max_frame_bytes) {
            Ok(report) => report,
            Err(bad) => {
                tracing::info!(%bad, operation = %operation_id, "legacy result refused");
                return refuse(ack, bad.to_string());
            }
        };
        let unique_code = report.unique_code.clone();
        match operations::ingest(link.state.store.as_ref(), &link.probe, report).await {
            Ok(insertion) => {
                if insertion == Insertion::Duplicate {
                    telemetry.results_duplicate.inc();
                }
                if let Err(error) = ack.send(&operation_id) {
                    tracing::debug!(%error, "legacy result stored, its ack not sent");
                    return;
                }
                telemetry.ack_latency.observe(received.elapsed());
                telemetry.results_acked.inc();
            }
            Err(error) => {
                match &error {
                    IngestError::Store(cause) => {
                        tracing::debug!(%cause, "legacy result not stored")
                    }
                    refused => {
                        tracing::info!(%refused, operation = %operation_id, %unique_code, "legacy result refused")
                    }
                }
                refuse(ack, error.to_string());
            }
        }
    }

    /// `new_operation`: the probe took on an operation costing `credits`. The original names
    /// none, so it is the oldest one offered on this link at that price: the client answers
    /// in the order it receives them.
    pub async fn taken_on(&self, change: Result<CreditsChange, ParserError>) {
        let Some(operation) = self.pick(&self.0.offered, change, "new_operation") else {
            return;
        };
        if self.advance(operation.0, AssignmentState::Accepted).await {
            self.0.running.lock().expect("running lock").push(operation);
        }
    }

    /// `finish_operation`: the probe let go of an operation costing `credits`, the oldest
    /// taken on through this link at that price.
    pub async fn finished(&self, change: Result<CreditsChange, ParserError>) {
        if let Some((operation, _)) = self.pick(&self.0.running, change, "finish_operation") {
            self.advance(operation, AssignmentState::Finished).await;
        }
    }

    fn pick(
        &self,
        from: &Mutex<Vec<(OperationId, u64)>>,
        change: Result<CreditsChange, ParserError>,
        event: &str,
    ) -> Option<(OperationId, u64)> {
        let credits = match change {
            Ok(change) => change.credits,
            Err(error) => {
                tracing::info!(%error, event, "malformed legacy event: expected {{credits}}");
                return None;
            }
        };
        let mut from = from.lock().expect("operations lock");
        let Some(index) = from.iter().position(|(_, c)| *c == credits) else {
            tracing::debug!(credits, event, "no operation of this link at that price");
            return None;
        };
        Some(from.remove(index))
    }

    async fn advance(&self, operation: OperationId, to: AssignmentState) -> bool {
        let link = &self.0;
        let id = operation.to_string();
        let store = link.state.store.as_ref();
        match operations::record_progress(store, &link.probe, &id, to).await {
            Ok(()) => true,
            Err(error) => {
                tracing::info!(%error, %operation, ?to, "legacy progress not recorded");
                false
            }
        }
    }
}

fn refuse(ack: AckSender, error: String) {
    if let Err(send) = ack.send(&NotStored { error }) {
        tracing::debug!(%send, "refusal not sent");
    }
}
