//! Per-client-address rate limit for the endpoints that guess passwords (POST /login and
//! /register): each Argon2 check costs the server real CPU, and an unlimited login is an
//! online password-guessing oracle.
//!
//! The key is the client address (`crate::client`): the TCP peer, or behind a trusted reverse
//! proxy the address it forwarded; an IPv6 client counts by its /64.

use super::error::ApiError;
use crate::client::ClientAddr;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use warp::{Filter, Rejection};

/// Addresses remembered before idle ones are forgotten, so a scan from many addresses cannot
/// grow the table without bound.
const FORGET_ABOVE: usize = 10_000;

/// A token bucket per client address.
#[derive(Clone)]
pub struct AuthRateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AuthRateLimit {
    /// `per_minute` requests per address and minute, all of which may come at once.
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))),
        }
    }

    fn check(&self, address: IpAddr) -> Result<(), ApiError> {
        if self.limiter.len() > FORGET_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::TooManyRequests {
                retry_after_s: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    /// Passes while the caller's address is within its quota, else rejects with 429.
    pub fn filter(&self) -> impl Filter<Extract = (), Error = Rejection> + Clone {
        let limit = self.clone();
        crate::listener::client()
            .and_then(move |client: Option<ClientAddr>| {
                let limit = limit.clone();
                async move {
                    match client {
                        Some(client) => limit.check(client.limit_key()).map_err(Rejection::from),
                        None => Ok(()),
                    }
                }
            })
            .untuple_one()
    }
}
