//! How a probe link ends: the close codes of either side and [`CloseReason`], the close
//! frame's code and reason.
//!
//! Codes below 4000 are the standard WebSocket ones the link uses; 4001 to 4005 are this
//! protocol's own.

use std::borrow::Cow;

/// A probe ends its link normally (standard "normal closure"), e.g. when it shuts down.
pub const NORMAL: u16 = 1000;
/// The coordinator is shutting down (standard WebSocket "going away"); reconnect later.
pub const GOING_AWAY: u16 = 1001;
/// A frame or message exceeded the configured size limit (standard "message too big").
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// The coordinator cannot serve the link right now, e.g. its store is unreachable while it
/// authenticates the probe or records the link (standard "try again later"). Reconnect with
/// backoff.
pub const TRY_AGAIN_LATER: u16 = 1013;
/// Missing, malformed, revoked or unknown probe token, or a removed probe. Reconnecting with
/// the same token will not help.
pub const UNAUTHORIZED: u16 = 4001;
/// The probe sent something that is not protocol v1: a binary frame, text that is not a
/// known message, a wrong protocol version, a message before `hello`, or a result for an
/// operation that is not assigned to this probe.
pub const PROTOCOL_VIOLATION: u16 = 4002;
/// The same probe opened a newer link; the newer one wins and this one is closed.
pub const SUPERSEDED: u16 = 4003;
/// The probe did not read its frames fast enough: its outgoing queue filled up, or it did
/// not answer a ping by the next one (see
/// [`Welcome::heartbeat_s`](crate::Welcome::heartbeat_s)). It is disconnected so that it
/// cannot slow down or bloat the coordinator, nor hold a link it does not use. Reconnect.
pub const TOO_SLOW: u16 = 4004;
/// Reserved: coordinators before the result window closed a probe that sent more messages
/// per second than `PLADMED_PROBE_FRAMES_PER_S` with this code. This one paces such a link
/// instead (it stops reading it until the rate allows; see
/// [`Welcome::window`](crate::Welcome::window)) and never sends 4005. A probe that
/// receives it reconnects with backoff.
pub const RATE_LIMITED: u16 = 4005;

/// The most bytes of reason a close frame carries (RFC 6455: a control frame's payload is at
/// most 125 bytes, two of which hold the code).
pub const MAX_REASON_BYTES: usize = 123;

/// Why a link ends: the code and reason of its close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// One of this module's codes.
    pub code: u16,
    /// Human-readable detail, naming the offending field for [`PROTOCOL_VIOLATION`]. Any
    /// length: [`CloseReason::frame_reason`] cuts it to what a frame carries.
    pub reason: Cow<'static, str>,
}

impl CloseReason {
    /// A close with `code` and `reason`.
    pub fn new(code: u16, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// A close with a fixed reason, usable in constants.
    pub const fn fixed(code: u16, reason: &'static str) -> Self {
        Self {
            code,
            reason: Cow::Borrowed(reason),
        }
    }

    /// The reason cut to [`MAX_REASON_BYTES`] on a character boundary, ready for a close
    /// frame (a longer one would make the frame invalid).
    pub fn frame_reason(&self) -> &str {
        let reason = self.reason.as_ref();
        let mut end = reason.len().min(MAX_REASON_BYTES);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        &reason[..end]
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frame_reason_fits_a_close_frame_on_a_character_boundary() {
        let long = CloseReason::new(PROTOCOL_VIOLATION, "é".repeat(100));
        let cut = long.frame_reason();
        assert!(cut.len() <= MAX_REASON_BYTES && long.reason.starts_with(cut));
        assert_eq!(cut.len(), 122, "61 two-byte characters");
        let short = CloseReason::fixed(GOING_AWAY, "short");
        assert_eq!(short.frame_reason(), "short");
        assert_eq!(short.to_string(), "1001: short");
    }

    #[test]
    fn the_standard_codes_keep_their_websocket_numbers() {
        let codes = [NORMAL, GOING_AWAY, MESSAGE_TOO_BIG, TRY_AGAIN_LATER];
        assert_eq!(codes, [1000, 1001, 1009, 1013]);
        let own = [
            UNAUTHORIZED,
            PROTOCOL_VIOLATION,
            SUPERSEDED,
            TOO_SLOW,
            RATE_LIMITED,
        ];
        assert_eq!(own, [4001, 4002, 4003, 4004, 4005]);
    }
}
