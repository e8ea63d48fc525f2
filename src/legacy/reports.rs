//! What an original probe emits: results (stored through our exactly-once ingest and
//! acknowledged once durable) and credit changes (`new_operation`, `finish_operation`).

use super::events::{report, CreditsChange, LegacyResult};
use super::link::LegacyLink;
use crate::domain::OperationId;
use crate::operations::{self, IngestError};
use crate::store::{AssignmentState, Insertion};
use socketioxide::extract::AckSender;
use socketioxide::ParserError;
use std::sync::Arc;
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
        let Some(credits) = credits(change, "new_operation") else {
            return;
        };
        let picked = pick(&mut self.0.offered.lock().expect("offered lock"), credits);
        let Some(operation) = picked else {
            tracing::debug!(credits, "new_operation: no operation offered at that price");
            return;
        };
        if self.advance(operation.0, AssignmentState::Accepted).await {
            let mut running = self.0.running.lock().expect("running lock");
            running.entry(self.0.probe.id).or_default().push(operation);
        }
    }

    /// `finish_operation`: the probe let go of an operation costing `credits`, the oldest it
    /// took on at that price.
    pub async fn finished(&self, change: Result<CreditsChange, ParserError>) {
        let Some(credits) = credits(change, "finish_operation") else {
            return;
        };
        let picked = {
            let mut running = self.0.running.lock().expect("running lock");
            let probe = self.0.probe.id;
            let picked = running.get_mut(&probe).and_then(|ops| pick(ops, credits));
            if running.get(&probe).is_some_and(Vec::is_empty) {
                running.remove(&probe);
            }
            picked
        };
        match picked {
            Some((operation, _)) => {
                self.advance(operation, AssignmentState::Finished).await;
            }
            None => tracing::debug!(
                credits,
                "finish_operation: no running operation at that price"
            ),
        }
    }

    async fn advance(&self, operation: OperationId, to: AssignmentState) -> bool {
        let link = &self.0;
        let id = operation.to_string();
        let store = link.state.store.as_ref();
        let prices = &link.state.prices;
        match operations::record_progress(store, prices, &link.probe, &id, to).await {
            Ok(()) => true,
            Err(error) => {
                tracing::info!(%error, %operation, ?to, "legacy progress not recorded");
                false
            }
        }
    }
}

fn credits(change: Result<CreditsChange, ParserError>, event: &str) -> Option<u64> {
    match change {
        Ok(change) => Some(change.credits),
        Err(error) => {
            tracing::info!(%error, event, "malformed legacy event: expected {{credits}}");
            None
        }
    }
}

/// Takes the oldest operation at `credits` out of `from`.
fn pick(from: &mut Vec<(OperationId, u64)>, credits: u64) -> Option<(OperationId, u64)> {
    let index = from.iter().position(|(_, c)| *c == credits)?;
    Some(from.remove(index))
}

fn refuse(ack: AckSender, error: String) {
    if let Err(send) = ack.send(&NotStored { error }) {
        tracing::debug!(%send, "refusal not sent");
    }
}
