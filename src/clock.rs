//! The server's own clock, measured against the co-located Chrony.
//!
//! Probes timestamp measurements with their clocks and report their offset in `hello`; the
//! `server_time` of `welcome` is only as good as the server's clock, so the server measures
//! itself too. A background task asks the NTP server every `PLADMED_NTP_INTERVAL` seconds
//! (SNTP through rsntp on the async runtime, name resolution included, so a slow or absent server
//! never blocks a worker) and publishes the last sample through a watch channel that health
//! and metrics read. The task ends when the last [`Clock`] handle is dropped.

use crate::config::ClockSettings;
use chrono::{DateTime, Utc};
use probe_protocol::NtpServer;
use rsntp::{AsyncSntpClient, Config, SynchronizationError};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;

/// How long one sample may take, resolution and round trip each: a co-located server answers
/// in well under a millisecond, so anything slower is a failure worth reporting.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(2);

/// One successful measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSample {
    /// NTP server time minus ours, in milliseconds (positive: our clock is behind).
    pub offset_ms: f64,
    /// Round-trip delay of the exchange, in milliseconds.
    pub delay_ms: f64,
    /// The server's stratum (Chrony's `local stratum` when it has no upstream).
    pub stratum: u8,
    /// When the sample was taken.
    pub measured_at: DateTime<Utc>,
}

/// What is known about the clock now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClockStatus {
    /// The last successful sample, however old.
    pub last: Option<ClockSample>,
    /// Why the last attempt failed; `None` if it succeeded or none was made yet.
    pub last_error: Option<String>,
}

/// Why one sample failed.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The server's name did not resolve.
    #[error("cannot resolve {0}: {1}")]
    Resolve(String, String),
    /// The server did not answer in time or answered something unusable.
    #[error("no valid answer from {0}: {1}")]
    Exchange(SocketAddr, SynchronizationError),
}

/// The verdict on the clock for GET /health.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockHealth {
    /// A recent sample exists and its offset is within the limit.
    pub healthy: bool,
    /// What an operator reads, e.g. `offset 0.4 ms, delay 0.1 ms, stratum 10, 3 s ago`.
    pub message: String,
}

/// A handle on the clock sampler. Cheap to clone.
#[derive(Clone)]
pub struct Clock {
    status: watch::Receiver<ClockStatus>,
    settings: ClockSettings,
}

impl Clock {
    /// Starts sampling right away and then every `settings.interval`.
    pub fn start(settings: ClockSettings) -> Self {
        let (sender, status) = watch::channel(ClockStatus::default());
        tokio::spawn(run(settings.clone(), sender));
        Self { status, settings }
    }

    /// The latest status.
    pub fn status(&self) -> ClockStatus {
        self.status.borrow().clone()
    }

    /// Judges the latest status at `now`.
    pub fn health(&self, now: DateTime<Utc>) -> ClockHealth {
        assess(&self.status(), &self.settings, now)
    }
}

async fn run(settings: ClockSettings, status: watch::Sender<ClockStatus>) {
    loop {
        let outcome = sample(&settings.ntp_server).await;
        record(&settings, &status, outcome);
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = status.closed() => return,
        }
    }
}

/// One SNTP exchange with `server`.
pub async fn sample(server: &NtpServer) -> Result<ClockSample, SampleError> {
    let resolve_error = |cause: String| SampleError::Resolve(server.to_string(), cause);
    let lookup = tokio::net::lookup_host(server.as_str());
    let address = tokio::time::timeout(SAMPLE_TIMEOUT, lookup)
        .await
        .map_err(|_| resolve_error("timed out".into()))?
        .map_err(|e| resolve_error(e.to_string()))?
        .next()
        .ok_or_else(|| resolve_error("no address".into()))?;
    let unspecified = if address.is_ipv6() {
        "[::]:0"
    } else {
        "0.0.0.0:0"
    };
    let config = Config::default()
        .bind_address(unspecified.parse().expect("valid address"))
        .timeout(SAMPLE_TIMEOUT);
    let reply = AsyncSntpClient::with_config(config)
        .synchronize(address)
        .await
        .map_err(|e| SampleError::Exchange(address, e))?;
    Ok(ClockSample {
        offset_ms: reply.clock_offset().as_secs_f64() * 1000.0,
        delay_ms: reply.round_trip_delay().as_secs_f64() * 1000.0,
        stratum: reply.stratum(),
        measured_at: Utc::now(),
    })
}

fn record(
    settings: &ClockSettings,
    status: &watch::Sender<ClockStatus>,
    outcome: Result<ClockSample, SampleError>,
) {
    let server = settings.ntp_server.as_str();
    match outcome {
        Ok(sample) => {
            if sample.offset_ms.abs() > settings.max_offset_ms {
                tracing::warn!(
                    server,
                    offset_ms = sample.offset_ms,
                    max_offset_ms = settings.max_offset_ms,
                    "clock offset exceeds PLADMED_MAX_CLOCK_OFFSET_MS"
                );
            } else {
                tracing::debug!(
                    server,
                    offset_ms = sample.offset_ms,
                    delay_ms = sample.delay_ms,
                    stratum = sample.stratum,
                    "clock sampled"
                );
            }
            let recovered = status.borrow().last_error.is_some();
            if recovered {
                tracing::info!(server, "clock sampling works again");
            }
            status.send_modify(|s| {
                s.last = Some(sample);
                s.last_error = None;
            });
        }
        // Warn once per outage, not at every interval: a development machine without a local
        // NTP server would otherwise log the same line forever.
        Err(error) if status.borrow().last_error.is_some() => {
            tracing::debug!(server, %error, "clock sample failed again");
            status.send_modify(|s| s.last_error = Some(error.to_string()));
        }
        Err(error) => {
            tracing::warn!(server, %error, "clock sample failed; /health reports ntp as unhealthy");
            status.send_modify(|s| s.last_error = Some(error.to_string()));
        }
    }
}

/// A sample older than this is stale: two intervals missed, plus the time one attempt may take.
fn max_age(settings: &ClockSettings) -> Duration {
    settings.interval * 2 + SAMPLE_TIMEOUT * 2
}

/// Healthy when the last sample is recent and within the offset limit.
pub fn assess(status: &ClockStatus, settings: &ClockSettings, now: DateTime<Utc>) -> ClockHealth {
    let unhealthy = |message: String| ClockHealth {
        healthy: false,
        message,
    };
    let failure = status.last_error.as_deref().unwrap_or("no answer yet");
    let Some(sample) = &status.last else {
        return unhealthy(format!("no sample from {}: {failure}", settings.ntp_server));
    };
    let age = (now - sample.measured_at).to_std().unwrap_or_default();
    let summary = format!(
        "offset {:.3} ms, delay {:.3} ms, stratum {}, {} s ago",
        sample.offset_ms,
        sample.delay_ms,
        sample.stratum,
        age.as_secs()
    );
    if age > max_age(settings) {
        return unhealthy(format!(
            "stale: last sample {summary}; since then: {failure}"
        ));
    }
    if sample.offset_ms.abs() > settings.max_offset_ms {
        return unhealthy(format!(
            "{summary}: |offset| exceeds {} ms",
            settings.max_offset_ms
        ));
    }
    ClockHealth {
        healthy: true,
        message: summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ClockSettings {
        ClockSettings {
            ntp_server: "127.0.0.1".parse().unwrap(),
            interval: Duration::from_secs(60),
            max_offset_ms: 100.0,
        }
    }

    fn status(offset_ms: f64, age_s: i64, last_error: Option<&str>) -> ClockStatus {
        ClockStatus {
            last: Some(ClockSample {
                offset_ms,
                delay_ms: 0.1,
                stratum: 10,
                measured_at: Utc::now() - chrono::Duration::seconds(age_s),
            }),
            last_error: last_error.map(str::to_string),
        }
    }

    #[test]
    fn a_recent_sample_within_the_limit_is_healthy() {
        let health = assess(&status(0.4, 3, None), &settings(), Utc::now());
        assert!(health.healthy);
        assert_eq!(
            health.message,
            "offset 0.400 ms, delay 0.100 ms, stratum 10, 3 s ago"
        );
    }

    #[test]
    fn a_large_offset_is_unhealthy() {
        let health = assess(&status(-150.0, 3, None), &settings(), Utc::now());
        assert!(!health.healthy);
        assert!(
            health.message.contains("exceeds 100 ms"),
            "{}",
            health.message
        );
    }

    #[test]
    fn a_stale_sample_is_unhealthy_and_says_why() {
        let health = assess(
            &status(0.4, 600, Some("timed out")),
            &settings(),
            Utc::now(),
        );
        assert!(!health.healthy);
        assert!(health.message.starts_with("stale"), "{}", health.message);
        assert!(health.message.ends_with("timed out"), "{}", health.message);
    }

    #[test]
    fn no_sample_at_all_is_unhealthy() {
        let health = assess(&ClockStatus::default(), &settings(), Utc::now());
        assert!(!health.healthy);
        assert_eq!(
            health.message,
            "no sample from 127.0.0.1:123: no answer yet"
        );
    }
}
