//! Whether the peer still reads what the server writes.
//!
//! Anything arriving used to count as a sign of life, so a peer that kept sending (pings,
//! say) but never read held its link slot and a session task forever, while the server's
//! writes to it backed up. Only a pong echoing one of the server's pings proves that the peer
//! reads: each ping carries a number masked with a key of this link, which a peer cannot echo
//! without reading it. A ping not answered by the next heartbeat drops the peer: one that stops
//! reading is dropped within two periods ([`answer_time`]) and its link closed within the
//! protocol's [`MISSED_HEARTBEATS`](probe_protocol::MISSED_HEARTBEATS) periods
//! ([`close_grace`]), whatever it sends.

use probe_protocol::silence_limit;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;

/// Pings awaited at once; a pong answers every ping before it as well, so older ones suffice.
/// (Several are awaited only while the server does not read.)
const AWAITED: usize = 3;

/// Heartbeat periods a peer may go without reading: the period in which a ping is sent, and
/// the one by whose end it must be answered.
const ANSWER_PERIODS: u32 = 2;

/// How long after its last read a peer is found not to read (and dropped).
pub fn answer_time(period: Duration) -> Duration {
    period * ANSWER_PERIODS
}

/// How long closing a dropped link may take: what remains of [`silence_limit`] once the peer
/// was found not to read, so that its link is gone by the time the peer, too, holds it dead.
pub fn close_grace(period: Duration) -> Duration {
    silence_limit(period) - answer_time(period)
}

/// The pings of one link and their answers.
pub struct Liveness {
    period: Duration,
    key: u64,
    issued: u64,
    answered: u64,
    /// Unanswered pings, oldest first: number and the instant it must be answered by.
    awaited: VecDeque<(u64, Instant)>,
    /// Since when the server holds off reading, its own window full (no pong can be read).
    paused_since: Option<Instant>,
}

impl Liveness {
    /// Liveness of a link pinged every `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            key: rand::random(),
            issued: 0,
            answered: 0,
            awaited: VecDeque::with_capacity(AWAITED),
            paused_since: None,
        }
    }

    /// The payload of the next ping, sent at `now`.
    pub fn ping(&mut self, now: Instant) -> [u8; 8] {
        self.issued += 1;
        if self.awaited.len() < AWAITED {
            self.awaited.push_back((self.issued, now + self.period));
        }
        (self.issued ^ self.key).to_be_bytes()
    }

    /// A pong arrived: if it echoes one of this link's pings, that one and every earlier one
    /// are answered. Anything else (an unsolicited pong, a guess) proves nothing.
    pub fn pong(&mut self, payload: &[u8]) {
        let Ok(bytes) = <[u8; 8]>::try_from(payload) else {
            return;
        };
        let number = u64::from_be_bytes(bytes) ^ self.key;
        if number > self.answered && number <= self.issued {
            self.answered = number;
            self.awaited.retain(|(awaited, _)| *awaited > number);
        }
    }

    /// Whether a ping went unanswered past its deadline: the peer does not read.
    pub fn overdue(&self, now: Instant) -> bool {
        self.paused_since.is_none()
            && self
                .awaited
                .front()
                .is_some_and(|(_, deadline)| now >= *deadline)
    }

    /// Whether the server reads the link now. While it holds off, waiting for its window of
    /// results to be stored, a pong cannot be read: that time is not held against the peer.
    pub fn server_reads(&mut self, reads: bool, now: Instant) {
        match (reads, self.paused_since) {
            (false, None) => self.paused_since = Some(now),
            (true, Some(since)) => {
                for (_, deadline) in &mut self.awaited {
                    *deadline += now - since;
                }
                self.paused_since = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use probe_protocol::MISSED_HEARTBEATS;

    const PERIOD: Duration = Duration::from_secs(1);

    #[test]
    fn a_peer_that_stops_reading_is_gone_within_the_protocols_silence_limit() {
        assert_eq!(
            answer_time(PERIOD) + close_grace(PERIOD),
            PERIOD * MISSED_HEARTBEATS
        );
        assert_eq!(close_grace(PERIOD), PERIOD);
    }

    #[test]
    fn an_echoed_ping_keeps_the_link_and_a_missing_echo_drops_it_a_period_later() {
        let start = Instant::now();
        let mut liveness = Liveness::new(PERIOD);
        let first = liveness.ping(start);
        liveness.pong(&first);
        assert!(!liveness.overdue(start + PERIOD * 5));
        liveness.ping(start + PERIOD);
        assert!(!liveness.overdue(start + PERIOD * 2 - Duration::from_millis(1)));
        assert!(liveness.overdue(start + PERIOD * 2));
    }

    #[test]
    fn guessed_stale_or_malformed_pongs_prove_nothing() {
        let start = Instant::now();
        let mut liveness = Liveness::new(PERIOD);
        let first = liveness.ping(start);
        liveness.pong(&first);
        liveness.ping(start + PERIOD);
        for guess in [&first[..], &[0u8; 8][..], &2u64.to_be_bytes()[..], b"pong"] {
            liveness.pong(guess);
        }
        assert!(liveness.overdue(start + PERIOD * 2));
    }

    #[test]
    fn a_later_echo_answers_earlier_pings_too() {
        let start = Instant::now();
        let mut liveness = Liveness::new(PERIOD);
        liveness.ping(start);
        let second = liveness.ping(start + PERIOD);
        liveness.pong(&second);
        assert!(!liveness.overdue(start + PERIOD * 10));
    }

    #[test]
    fn time_the_server_does_not_read_is_not_held_against_the_peer() {
        let start = Instant::now();
        let mut liveness = Liveness::new(PERIOD);
        liveness.ping(start);
        liveness.server_reads(false, start + PERIOD / 2);
        assert!(!liveness.overdue(start + PERIOD * 4), "paused");
        liveness.server_reads(true, start + PERIOD * 4);
        assert!(!liveness.overdue(start + PERIOD * 4));
        assert!(liveness.overdue(start + PERIOD * 5 - PERIOD / 2));
    }
}
