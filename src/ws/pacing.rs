//! The frame rate of one probe link, enforced by reading no faster than it allows.
//!
//! Closing a link over its rate punished well-behaved probes: one flushing its outbox after
//! an outage sends as fast as acks come back, and a fast store acks faster than any rate. Not
//! reading instead lets TCP push back on the probe, which then sends no faster than the rate,
//! and costs the server nothing while it waits (the frames stay in the kernel's buffers).

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::future::Future;
use std::num::NonZeroU32;
use tokio::time::Instant;

/// Tokens for the link's next message: one is taken before each read.
pub struct Pacer {
    rate: DefaultDirectRateLimiter,
    /// While no token is left: when the next one is there.
    resume_at: Option<Instant>,
}

impl Pacer {
    /// A pacer allowing `per_second` messages a second, with a burst of as many.
    pub fn new(per_second: u32) -> Self {
        let quota = Quota::per_second(NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN));
        let mut pacer = Self {
            rate: RateLimiter::direct(quota),
            resume_at: None,
        };
        pacer.take();
        pacer
    }

    /// Takes the token for the next message, or notes when there will be one.
    pub fn take(&mut self) {
        self.resume_at = match self.rate.check() {
            Ok(()) => None,
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.rate.clock().now());
                Some(Instant::now() + wait)
            }
        };
    }

    /// Whether the next message may be read now.
    pub fn ready(&self) -> bool {
        self.resume_at.is_none()
    }

    /// Resolves when a token may be there (then call [`Pacer::take`] again); never while one
    /// is held.
    pub fn refilled(&self) -> impl Future<Output = ()> + 'static {
        let resume_at = self.resume_at;
        async move {
            match resume_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_burst_is_read_at_once_then_the_rate_paces_reads() {
        let mut pacer = Pacer::new(100);
        let started = Instant::now();
        let mut read = 0;
        while started.elapsed() < Duration::from_millis(200) {
            if pacer.ready() {
                read += 1;
                pacer.take();
            } else {
                pacer.refilled().await;
                pacer.take();
            }
        }
        // The burst of 100, then about 20 in 200 ms.
        assert!((100..=130).contains(&read), "{read} reads");
    }
}
