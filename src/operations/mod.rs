//! Operations: creating them (validation, probe selection, payment, fan-out) and taking in
//! what probes report about them (accepted, results, finished).

mod create;
mod ingest;
mod prices;
pub mod select;
pub mod tail;

pub use create::{create, CreateError, CreateRequest};
pub use ingest::{ingest, record_progress, IngestError, RefusedResult, CREDITS_PER_RESULT};
pub use prices::Prices;
pub use tail::{ResultTail, TailPage};

use crate::store::Operation;
use probe_protocol::{OperationOrder, ServerMessage};

/// The `operation` frame a probe receives for `operation`.
pub fn order_frame(operation: &Operation) -> crate::hub::Frame {
    ServerMessage::Operation(OperationOrder {
        operation_id: operation.id.to_string(),
        kind: operation.kind,
        params: operation.params.clone(),
        credits: operation.credits_per_probe,
        result_format: operation.result_format,
    })
    .encode()
    .into()
}
