//! One execution of an operation: scamper for traceroute and ping, dig for DNS.
//!
//! Executions run concurrently (a slow traceroute must not delay the next run of another
//! operation) but hold credits while they run: the probe offered `--credits` of capacity and
//! an execution takes what it costs (`Params::credits_per_execution`), so the measurement load
//! stays within what the owner offered. A tool failure is not an error of the probe: it is a
//! result whose `error` says what went wrong, delivered like any other.

mod dig;
mod process;
mod resolve;
mod scamper;

pub use dig::Resolver;

use base64::Engine;
use probe_protocol::params::{Destinations, Params};
use probe_protocol::{ContentFormat, ResultFormat};
use serde_json::Value;
use std::net::IpAddr;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Where the measurement tools are and how long a run may take.
#[derive(Debug, Clone)]
pub struct Tools {
    /// scamper.
    pub scamper: PathBuf,
    /// sc_analysis_dump (warts to text, for traceroute's "dump" format).
    pub sc_analysis_dump: PathBuf,
    /// dig.
    pub dig: PathBuf,
    /// Whom dig asks when an operation names no resolver, and on which port.
    pub resolver: Resolver,
    /// Longest one tool run may take.
    pub timeout: Duration,
}

/// The outcome of one execution, ready to become a `result`.
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    /// How `content` is encoded.
    pub format: ContentFormat,
    /// The measurement output.
    pub content: Value,
    /// What failed, if anything (names that did not resolve, a tool that failed).
    pub error: Option<String>,
}

/// Runs executions within the probe's credit capacity.
#[derive(Debug)]
pub struct Runner {
    tools: Tools,
    capacity: Semaphore,
    permits: u32,
}

impl Runner {
    /// A runner offering `credits` of capacity.
    pub fn new(tools: Tools, credits: NonZeroU64) -> Self {
        let permits = credits
            .get()
            .min(Semaphore::MAX_PERMITS as u64)
            .min(u64::from(u32::MAX)) as u32;
        Self {
            tools,
            capacity: Semaphore::new(permits as usize),
            permits,
        }
    }

    /// Waits until the credits one execution of `params` costs are free, and takes them. An
    /// execution costing more than the whole capacity takes all of it.
    pub async fn reserve(&self, params: &Params) -> Credits<'_> {
        let cost = params
            .credits_per_execution()
            .clamp(1, u64::from(self.permits)) as u32;
        let permit = self
            .capacity
            .acquire_many(cost)
            .await
            .expect("the capacity semaphore is never closed");
        Credits { _permit: permit }
    }

    /// Runs one execution of `params` with the credits reserved for it.
    pub async fn measure(
        &self,
        _credits: &Credits<'_>,
        params: &Params,
        format: ResultFormat,
    ) -> Execution {
        match params {
            Params::Traceroute(p) => {
                self.scamper(&p.destinations, |t| scamper::trace_command(p, t), format)
                    .await
            }
            Params::Ping(p) => {
                self.scamper(&p.destinations, |t| scamper::ping_command(p, t), format)
                    .await
            }
            Params::Dns(p) => {
                let args = dig::arguments(p, self.tools.resolver);
                let output = process::run(&self.tools.dig, &args, b"", self.tools.timeout).await;
                Execution {
                    format: ContentFormat::Text,
                    content: Value::String(String::from_utf8_lossy(&output.stdout).into_owned()),
                    error: output.failure,
                }
            }
        }
    }

    async fn scamper(
        &self,
        destinations: &Destinations,
        command: impl Fn(IpAddr) -> String,
        format: ResultFormat,
    ) -> Execution {
        let targets = resolve::resolve(destinations).await;
        let mut errors = targets.unresolved;
        let commands: Vec<String> = targets.addresses.into_iter().map(command).collect();
        let mut execution = if commands.is_empty() {
            nothing_measured(format)
        } else if format == ResultFormat::Dump {
            self.scamper_dump(commands).await
        } else {
            self.scamper_json(commands).await
        };
        errors.extend(execution.error.take());
        execution.error = (!errors.is_empty()).then(|| errors.join("; "));
        execution
    }

    async fn scamper_json(&self, commands: Vec<String>) -> Execution {
        let args = scamper::arguments(scamper::Output::Json, commands);
        let output = process::run(&self.tools.scamper, &args, b"", self.tools.timeout).await;
        let (content, unreadable) = scamper::parse_json_lines(&output.stdout);
        Execution {
            format: ContentFormat::Json,
            content,
            error: join(output.failure, unreadable),
        }
    }

    /// scamper writes warts, sc_analysis_dump turns it into text. If the conversion fails the
    /// warts themselves are delivered (base64), so that the measurement is not lost.
    async fn scamper_dump(&self, commands: Vec<String>) -> Execution {
        let args = scamper::arguments(scamper::Output::Warts, commands);
        let warts = process::run(&self.tools.scamper, &args, b"", self.tools.timeout).await;
        let dump = process::run(
            &self.tools.sc_analysis_dump,
            &[],
            &warts.stdout,
            self.tools.timeout,
        )
        .await;
        match dump.failure {
            None => Execution {
                format: ContentFormat::Dump,
                content: Value::String(String::from_utf8_lossy(&dump.stdout).into_owned()),
                error: warts.failure,
            },
            Some(conversion) => Execution {
                format: ContentFormat::Warts,
                content: Value::String(
                    base64::engine::general_purpose::STANDARD.encode(&warts.stdout),
                ),
                error: join(warts.failure, Some(conversion)),
            },
        }
    }
}

/// Credits held by one execution, given back when dropped.
#[derive(Debug)]
pub struct Credits<'a> {
    _permit: SemaphorePermit<'a>,
}

/// The empty content of `format`, when no destination could be measured.
fn nothing_measured(format: ResultFormat) -> Execution {
    let (format, content) = match format {
        ResultFormat::Dump => (ContentFormat::Dump, Value::String(String::new())),
        ResultFormat::Text => (ContentFormat::Text, Value::String(String::new())),
        ResultFormat::Json => (ContentFormat::Json, Value::Array(Vec::new())),
    };
    Execution {
        format,
        content,
        error: None,
    }
}

fn join(first: Option<String>, second: Option<String>) -> Option<String> {
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests;
