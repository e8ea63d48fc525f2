//! The task behind one stream: reads the store once a [`TICK`], writes events, ends the
//! response when the operation is over.

use crate::api::operations::PAGE_BYTES;
use crate::api::replies;
use crate::operations::ResultTail;
use crate::store::{PageLimit, Progress, Store, StoreError};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A `: keep-alive` comment is sent after this long without any other event, so that proxies
/// and clients do not time an idle stream out.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// A client that reads nothing for this long while events wait is dropped: its stream ends,
/// and it may reconnect with `Last-Event-ID`.
pub const SLOW_READER: Duration = Duration::from_secs(60);
/// How often a stream reads the store: progress, and results that settled.
const TICK: Duration = Duration::from_secs(1);
/// Results read from the store at a time (fewer when they reach [`PAGE_BYTES`]).
const PAGE: PageLimit = PageLimit {
    count: 100,
    bytes: PAGE_BYTES,
};

type Chunk = Result<Bytes, std::io::Error>;

/// Why a stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Reason {
    /// Every assigned probe finished.
    Finished,
    /// The operation's stop minute has passed.
    StopTime,
}

#[derive(Serialize)]
struct End {
    reason: Reason,
    #[serde(flatten)]
    progress: Progress,
}

/// Why the producer stopped writing before the end.
enum Stop {
    /// The client went away, was too slow, or the server is shutting down.
    Gone,
    /// The store failed: the body is cut off, so the client sees an error and reconnects.
    Store(StoreError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Store(error)
    }
}

/// One stream's state.
pub(super) struct Producer {
    pub(super) store: Arc<dyn Store>,
    pub(super) tail: ResultTail,
    /// When the operation is over (see `Operation::ends_at`).
    pub(super) ends_at: DateTime<Utc>,
    /// The tail's horizon: how long after the end the last results may still appear.
    pub(super) horizon: Duration,
    pub(super) chunks: mpsc::Sender<Chunk>,
    pub(super) closing: CancellationToken,
}

impl Producer {
    /// Writes events from `first` progress on until the end, the client leaves, or the store
    /// fails.
    pub(super) async fn run(mut self, first: Progress) {
        let mut last_sent = Instant::now();
        let outcome = self.events(first, &mut last_sent).await;
        if let Err(Stop::Store(error)) = outcome {
            tracing::warn!(%error, "live stream cut off: store failed");
            let _ = self.chunks.try_send(Err(std::io::Error::other(error)));
        }
    }

    async fn events(&mut self, first: Progress, last_sent: &mut Instant) -> Result<(), Stop> {
        self.send(event("progress", None, &first), last_sent)
            .await?;
        let mut shown = first;
        let mut ending: Option<(Reason, DateTime<Utc>)> = None;
        loop {
            let now = Utc::now();
            loop {
                let page = self.tail.next(self.store.as_ref(), now, PAGE).await?;
                self.send_results(&page.results, last_sent).await?;
                if !page.more {
                    break;
                }
            }
            let progress = self.store.progress(self.tail_operation()).await?;
            if ending.is_none() {
                ending = reason(&progress, now, self.ends_at).map(|reason| (reason, now));
            }
            if let Some((reason, since)) = ending {
                // Results taken in before the end are all visible a horizon later.
                if now >= since + self.horizon + TICK {
                    return self.end(reason, last_sent).await;
                }
            }
            if progress != shown {
                self.send(event("progress", None, &progress), last_sent)
                    .await?;
                shown = progress;
            } else if last_sent.elapsed() >= HEARTBEAT {
                self.send(Bytes::from_static(b": keep-alive\n\n"), last_sent)
                    .await?;
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.closing.cancelled() => return Err(Stop::Gone),
                // The client left: free its slot now, not at the next event.
                () = self.chunks.closed() => return Err(Stop::Gone),
            }
        }
    }

    /// Every result left, whatever its age, then the `end` event.
    async fn end(&mut self, reason: Reason, last_sent: &mut Instant) -> Result<(), Stop> {
        loop {
            let page = self.tail.rest(self.store.as_ref(), PAGE).await?;
            self.send_results(&page.results, last_sent).await?;
            if !page.more {
                break;
            }
        }
        let progress = self.store.progress(self.tail_operation()).await?;
        self.send(event("end", None, &End { reason, progress }), last_sent)
            .await
    }

    fn tail_operation(&self) -> crate::domain::OperationId {
        self.tail.operation()
    }

    async fn send_results(
        &mut self,
        results: &[crate::store::MeasurementResult],
        last_sent: &mut Instant,
    ) -> Result<(), Stop> {
        for result in results {
            let view = replies::MeasurementResult::from(result);
            let id = result.id.to_string();
            self.send(event("result", Some(&id), &view), last_sent)
                .await?;
        }
        Ok(())
    }

    /// Waits at most [`SLOW_READER`] for room in the body.
    async fn send(&self, chunk: Bytes, last_sent: &mut Instant) -> Result<(), Stop> {
        let sent = tokio::select! {
            sent = tokio::time::timeout(SLOW_READER, self.chunks.send(Ok(chunk))) => sent,
            () = self.closing.cancelled() => return Err(Stop::Gone),
        };
        match sent {
            Ok(Ok(())) => {
                *last_sent = Instant::now();
                Ok(())
            }
            Ok(Err(_)) => Err(Stop::Gone),
            Err(_) => {
                tracing::info!("live stream dropped: the client read nothing for too long");
                Err(Stop::Gone)
            }
        }
    }
}

/// Why the operation is over at `now`, if it is.
fn reason(progress: &Progress, now: DateTime<Utc>, ends_at: DateTime<Utc>) -> Option<Reason> {
    if progress.assigned > 0 && progress.finished >= progress.assigned {
        Some(Reason::Finished)
    } else if now >= ends_at {
        Some(Reason::StopTime)
    } else {
        None
    }
}

/// One event: `event:`, `id:` when given, one `data:` line of JSON (JSON text holds no line
/// break), and the blank line that ends it.
fn event(name: &str, id: Option<&str>, data: &impl Serialize) -> Bytes {
    let mut text = format!("event: {name}\n").into_bytes();
    if let Some(id) = id {
        text.extend_from_slice(format!("id: {id}\n").as_bytes());
    }
    text.extend_from_slice(b"data: ");
    serde_json::to_writer(&mut text, data).expect("an event serialises");
    text.extend_from_slice(b"\n\n");
    Bytes::from(text)
}
