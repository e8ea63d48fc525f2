//! The probe's view of the time.
//!
//! Probes of one operation are meant to measure at the same instants, so schedules follow the
//! local clock corrected by its NTP offset, measured against the deployment's Chrony by
//! default. The first measurement is awaited before the first connection, since `hello` is
//! the only way to tell the coordinator; later ones run in the background. An unreachable NTP
//! server delays the start by at most [`SYNC_TIMEOUT`] and otherwise only leaves the offset
//! unknown (zero) and `hello.clock_offset_ms` absent.

use chrono::{DateTime, TimeDelta, Utc};
use probe_protocol::NtpServer;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often the offset is measured again.
pub const SYNC_PERIOD: Duration = Duration::from_secs(15 * 60);
/// How long one NTP exchange may take.
pub const SYNC_TIMEOUT: Duration = Duration::from_secs(5);

/// The local clock plus the last measured NTP offset. Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_us: Arc<AtomicI64>,
    measured: Arc<AtomicBool>,
}

impl Clock {
    /// The corrected time: what the NTP server would say now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::microseconds(self.offset_us.load(Ordering::Relaxed))
    }

    /// The last measured offset in milliseconds (positive: the local clock is behind), if any.
    pub fn offset_ms(&self) -> Option<f64> {
        self.measured
            .load(Ordering::Relaxed)
            .then(|| self.offset_us.load(Ordering::Relaxed) as f64 / 1000.0)
    }

    /// Records a measured offset in seconds.
    pub fn set_offset_secs(&self, offset: f64) {
        if offset.is_finite() {
            self.offset_us
                .store((offset * 1e6) as i64, Ordering::Relaxed);
            self.measured.store(true, Ordering::Relaxed);
        }
    }

    /// Measures the offset against `server` now, then every [`SYNC_PERIOD`] in the background
    /// until cancelled. Returns after the first measurement (at most [`SYNC_TIMEOUT`]), so that
    /// the first `hello` can carry the offset: the coordinator only learns it from `hello`.
    pub async fn start_sync(&self, server: NtpServer, cancel: CancellationToken) {
        self.sync_once(&server).await;
        let clock = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(SYNC_PERIOD) => {}
                }
                clock.sync_once(&server).await;
            }
        });
    }

    async fn sync_once(&self, server: &NtpServer) {
        match tokio::time::timeout(SYNC_TIMEOUT, measure_offset(server)).await {
            Ok(Ok(offset)) => {
                self.set_offset_secs(offset);
                tracing::info!(%server, offset_ms = offset * 1000.0, "clock offset measured");
            }
            Ok(Err(error)) => tracing::warn!(%server, %error, "NTP synchronisation failed"),
            Err(_) => tracing::warn!(%server, "NTP synchronisation timed out"),
        }
    }
}

/// One SNTP exchange with `server`; the offset in seconds. The socket is bound to the
/// server's address family: rsntp binds IPv4 by default and could not reach an IPv6 server.
async fn measure_offset(server: &NtpServer) -> Result<f64, String> {
    let address = tokio::net::lookup_host(server.as_str())
        .await
        .map_err(|e| format!("cannot resolve: {e}"))?
        .next()
        .ok_or("cannot resolve: no address")?;
    let unspecified = if address.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let config = rsntp::Config::default()
        .bind_address(unspecified.parse().expect("valid address"))
        .timeout(SYNC_TIMEOUT);
    let result = rsntp::AsyncSntpClient::with_config(config)
        .synchronize(address)
        .await
        .map_err(|e| e.to_string())?;
    Ok(result.clock_offset().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_offset_is_zero_and_absent() {
        let clock = Clock::default();
        assert_eq!(clock.offset_ms(), None);
        assert!((clock.now() - Utc::now()).num_milliseconds().abs() < 1000);
    }

    #[test]
    fn a_measured_offset_moves_now_and_is_shared_by_clones() {
        let clock = Clock::default();
        let copy = clock.clone();
        clock.set_offset_secs(3600.0);
        assert_eq!(copy.offset_ms(), Some(3_600_000.0));
        let ahead = copy.now() - Utc::now();
        assert!((ahead.num_seconds() - 3600).abs() <= 1);
        clock.set_offset_secs(f64::NAN);
        assert_eq!(copy.offset_ms(), Some(3_600_000.0));
    }
}
