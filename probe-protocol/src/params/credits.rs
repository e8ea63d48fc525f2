//! What one execution of an operation costs on one probe, as the original charged.
//!
//! The coordinator estimates a probe's share of an operation as
//! `credits_per_execution(kind, destinations) × Schedule::estimated_runs(now)` (a fractional
//! amount; rounding is the caller's), and the probe reserves the amount it is sent.

use crate::OperationKind;

/// Credits per destination per traceroute execution: a trace sends many probes.
pub const TRACEROUTE_CREDITS_PER_DESTINATION: u64 = 15;
/// Credits per destination per ping execution.
pub const PING_CREDITS_PER_DESTINATION: u64 = 1;
/// Credits per name (or reverse lookup) per dns execution.
pub const DNS_CREDITS_PER_DESTINATION: u64 = 1;

/// The per-destination price of `kind`.
pub fn credits_per_destination(kind: OperationKind) -> u64 {
    match kind {
        OperationKind::Traceroute => TRACEROUTE_CREDITS_PER_DESTINATION,
        OperationKind::Ping => PING_CREDITS_PER_DESTINATION,
        OperationKind::Dns => DNS_CREDITS_PER_DESTINATION,
    }
}

/// Credits one execution costs on one probe: the per-destination price × `destination_count`
/// (see [`super::Params::destination_count`]). Saturates instead of wrapping.
pub fn credits_per_execution(kind: OperationKind, destination_count: usize) -> u64 {
    let count = u64::try_from(destination_count).unwrap_or(u64::MAX);
    credits_per_destination(kind).saturating_mul(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_the_originals() {
        assert_eq!(credits_per_execution(OperationKind::Traceroute, 2), 30);
        assert_eq!(credits_per_execution(OperationKind::Ping, 3), 3);
        assert_eq!(credits_per_execution(OperationKind::Dns, 1), 1);
        assert_eq!(
            credits_per_execution(OperationKind::Traceroute, usize::MAX),
            u64::MAX
        );
    }
}
