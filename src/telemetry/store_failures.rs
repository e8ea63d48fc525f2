//! Counting database failures on every store call, whichever path made it, and logging an
//! outage once when it starts and once when it ends (not once per failed call).

use super::Telemetry;
use crate::store::{StoreError, StoreObserver, Touched};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Observes the store (see [`crate::store::ObservedStore`]) and counts
/// [`StoreError::Unavailable`] and [`StoreError::Corrupt`] in [`Telemetry::store_errors`];
/// domain refusals (duplicate, not enough credits, ...) are answers, not failures, and are not
/// counted.
pub struct StoreFailures {
    telemetry: Arc<Telemetry>,
    in_outage: AtomicBool,
}

impl StoreFailures {
    /// Counts the store's failures into `telemetry`.
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        Self {
            telemetry,
            in_outage: AtomicBool::new(false),
        }
    }
}

impl StoreObserver for StoreFailures {
    fn after_call(&self, _: Touched, outcome: Result<(), &StoreError>) {
        match outcome {
            Err(StoreError::Unavailable(cause)) => {
                self.telemetry.store_errors.inc();
                if !self.in_outage.swap(true, Ordering::Relaxed) {
                    tracing::error!(%cause, "store unavailable: results are not acknowledged until it is back");
                }
            }
            Err(StoreError::Corrupt(_)) => self.telemetry.store_errors.inc(),
            _ => {
                if self.in_outage.swap(false, Ordering::Relaxed) {
                    tracing::warn!("store reachable again");
                }
            }
        }
    }
}
