//! Delays between reconnection attempts.
//!
//! After a coordinator restart every probe reconnects at once; without jitter they would all
//! knock in the same instant, again and again. Each delay is drawn between half and all of an
//! exponentially growing cap, so probes spread out while none waits longer than the maximum.

use rand::Rng;
use std::time::Duration;

/// Exponential backoff with "equal jitter".
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    /// Delays start around `first` and double up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first: first.min(max),
            max,
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call grows the cap.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self
            .first
            .saturating_mul(2u32.saturating_pow(self.attempt))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = cap / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=cap - half)
    }

    /// Back to the first delay, after a link that worked.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_and_stay_within_it() {
        let (first, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut backoff = Backoff::new(first, max);
        let delays: Vec<Duration> = (0..20).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= first / 2 && delays[0] <= first);
        assert!(delays.iter().all(|d| *d <= max));
        assert!(delays[10..].iter().all(|d| *d >= max / 2));
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(60));
        for _ in 0..30 {
            backoff.next_delay();
        }
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(10));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        backoff.attempt = u32::MAX;
        assert!(backoff.next_delay() <= Duration::from_secs(30));
    }
}
