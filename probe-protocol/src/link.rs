//! Where the link is opened and when it counts as dead.

use std::time::Duration;

/// The path of the probe link on the coordinator: a probe opens a WebSocket to
/// `ws(s)://host[:port]` followed by this path.
pub const LINK_PATH: &str = "/probe/ws";

/// Heartbeat periods ([`Welcome::heartbeat_s`](crate::Welcome::heartbeat_s)) after which a
/// silent link is dead, on either side.
///
/// The coordinator pings every period, so a probe that has heard nothing from it for this
/// many periods drops the link and reconnects. The coordinator, in turn, drops a probe that
/// has not read for two periods (a ping not answered by the next one) and has closed its link
/// within the third.
pub const MISSED_HEARTBEATS: u32 = 3;

/// How long a link with this heartbeat period may stay silent before it is dead
/// ([`MISSED_HEARTBEATS`] periods).
pub fn silence_limit(heartbeat: Duration) -> Duration {
    heartbeat * MISSED_HEARTBEATS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_dead_after_three_silent_heartbeats_on_probe_ws() {
        assert_eq!(LINK_PATH, "/probe/ws");
        assert_eq!(MISSED_HEARTBEATS, 3);
        let limit = silence_limit(Duration::from_secs(20));
        assert_eq!(limit, Duration::from_secs(60));
    }
}
