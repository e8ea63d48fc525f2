//! `--wait`: follows GET /operations/{id}/stream (Server-Sent Events) until its `end` event,
//! printing each result as it arrives and, on a terminal, a progress bar.
//!
//! A dropped connection is resumed with `Last-Event-ID` set to the last result's cursor, and
//! the server sends what follows it, so nothing is missed or printed twice. Ctrl-C stops
//! following only: the operation keeps running on the server.

use crate::api::Api;
use crate::error::{CliError, Result};
use crate::output::{self, ResultPrinter};
use eventsource_stream::{Event, Eventsource};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// Silence after which the connection is taken for dead: the server sends a keep-alive
/// comment every 15 s.
const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// Reconnections in a row without a single event before giving up.
const MAX_RETRIES: u32 = 8;
/// Longest pause between two reconnections.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

/// The counts of a `progress` or `end` event.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Progress {
    pub assigned: u64,
    pub accepted: u64,
    pub finished: u64,
    pub results: u64,
}

/// The `end` event: why the stream ended, and the final counts.
#[derive(Debug, Clone, Deserialize)]
pub struct End {
    pub reason: String,
    #[serde(flatten)]
    pub progress: Progress,
}

/// What happened to one connection.
enum Connection {
    /// The operation is over.
    Ended(End),
    /// The connection dropped (or fell silent) before the end; `saw_events` says whether it
    /// delivered anything, which resets the retry count.
    Dropped { why: String, saw_events: bool },
}

/// Follows `operation` until it ends or `interrupt` completes (Ctrl-C).
pub async fn follow(
    api: &Api,
    operation: &str,
    printer: ResultPrinter,
    interrupt: impl Future<Output = ()>,
) -> Result<End> {
    let mut follower = Follower::new(printer);
    tokio::pin!(interrupt);
    tokio::select! {
        ended = follower.run(api, operation) => {
            follower.bar.finish_and_clear();
            ended
        }
        () = &mut interrupt => {
            follower.bar.abandon();
            Err(CliError::Interrupted(format!(
                "stopped following; operation {operation} keeps running. Its results: \
                 pladmed-cli results {operation}"
            )))
        }
    }
}

/// The state kept across reconnections.
struct Follower {
    printer: ResultPrinter,
    bar: ProgressBar,
    /// Results printed so far (across reconnections).
    printed: u64,
    /// The stored results the last `progress` event counted; it may run ahead of `printed`.
    stored: u64,
    last_event_id: Option<String>,
}

impl Follower {
    fn new(printer: ResultPrinter) -> Self {
        // Drawn on stderr only when it is a terminal; otherwise hidden.
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} probes finished, {msg} ({elapsed})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        Self {
            printer,
            bar,
            printed: 0,
            stored: 0,
            last_event_id: None,
        }
    }

    async fn run(&mut self, api: &Api, operation: &str) -> Result<End> {
        let mut failures = 0;
        loop {
            let why = match self.connect(api, operation).await {
                Ok(Connection::Ended(end)) => return Ok(end),
                Ok(Connection::Dropped { why, saw_events }) => {
                    if saw_events {
                        failures = 0;
                    }
                    why
                }
                Err(CliError::Network(why)) => why,
                Err(other) => return Err(other),
            };
            failures += 1;
            if failures > MAX_RETRIES {
                return Err(CliError::Network(format!(
                    "lost the stream of operation {operation} ({why}); it keeps running. \
                     Its results: pladmed-cli results {operation}"
                )));
            }
            let pause = Duration::from_millis(500 * 2u64.pow(failures - 1)).min(MAX_BACKOFF);
            self.notice(&format!(
                "stream interrupted ({why}); reconnecting in {} s",
                pause.as_secs_f32()
            ));
            tokio::time::sleep(pause).await;
        }
    }

    /// One connection, from the last result seen on.
    async fn connect(&mut self, api: &Api, operation: &str) -> Result<Connection> {
        let response = api.stream(operation, self.last_event_id.as_deref()).await?;
        let mut events = std::pin::pin!(watched(response).eventsource());
        let mut saw_events = false;
        loop {
            let event = match events.next().await {
                None => {
                    let why = "the server closed the stream before its end".to_string();
                    return Ok(Connection::Dropped { why, saw_events });
                }
                Some(Err(e)) => {
                    let why = e.to_string();
                    return Ok(Connection::Dropped { why, saw_events });
                }
                Some(Ok(event)) => event,
            };
            saw_events = true;
            if let Some(end) = self.handle(event, api)? {
                return Ok(Connection::Ended(end));
            }
        }
    }

    /// Applies one event; `Some` on `end`.
    fn handle(&mut self, event: Event, api: &Api) -> Result<Option<End>> {
        let not_the_api = |e: serde_json::Error| {
            CliError::Network(format!(
                "{} sent a {} event that is not the API's: {e}",
                api.base(),
                event.event
            ))
        };
        match event.event.as_str() {
            "progress" => {
                let progress: Progress = serde_json::from_str(&event.data).map_err(not_the_api)?;
                self.show(progress);
            }
            "result" => {
                let result: Value = serde_json::from_str(&event.data).map_err(not_the_api)?;
                let text = self.printer.render(&result)?;
                self.bar.suspend(|| output::write_out(&text))?;
                if !event.id.is_empty() {
                    self.last_event_id = Some(event.id);
                }
                self.printed += 1;
                self.count_results();
            }
            "end" => {
                let end: End = serde_json::from_str(&event.data).map_err(not_the_api)?;
                self.show(end.progress);
                return Ok(Some(end));
            }
            _ => {}
        }
        Ok(None)
    }

    fn show(&mut self, progress: Progress) {
        if self.bar.length() == Some(0) {
            // Drawn from the first counts on: an empty bar would show as complete.
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
        self.stored = progress.results;
        self.bar.set_length(progress.assigned);
        self.bar.set_position(progress.finished);
        self.count_results();
    }

    fn count_results(&self) {
        let results = self.printed.max(self.stored);
        self.bar.set_message(format!("{results} results"));
    }

    fn notice(&self, text: &str) {
        self.bar.suspend(|| eprintln!("pladmed-cli: {text}"));
    }
}

/// Why the bytes of a stream stopped coming.
#[derive(Debug)]
struct Stalled(String);

impl std::fmt::Display for Stalled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The body's bytes, ending with an error after [`SILENCE_LIMIT`] without any. Watched below
/// the event parser, because the keep-alive comments that prove the connection alive are
/// never events.
fn watched(
    response: reqwest::Response,
) -> impl futures::Stream<Item = std::result::Result<bytes::Bytes, Stalled>> {
    futures::stream::unfold(Some(response), |response| async move {
        let mut response = response?;
        match tokio::time::timeout(SILENCE_LIMIT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => Some((Ok(chunk), Some(response))),
            Ok(Ok(None)) => None,
            Ok(Err(e)) => Some((Err(Stalled(e.to_string())), None)),
            Err(_) => {
                let why = format!("nothing received for {} s", SILENCE_LIMIT.as_secs());
                Some((Err(Stalled(why)), None))
            }
        }
    })
}
