//! A Server-Sent Events reader for GET /operations/{id}/stream: what an `EventSource` or the
//! CLI sees, one event (or comment) at a time.

use crate::wait::WAIT;
use reqwest::StatusCode;
use serde_json::Value;

/// One event of the stream, or one comment (`: keep-alive`).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `event:` (empty for a comment).
    pub name: String,
    /// `id:`, when set.
    pub id: Option<String>,
    /// `data:`, parsed as JSON (`Null` for a comment).
    pub data: Value,
    /// The comment's text, for a comment.
    pub comment: Option<String>,
}

/// An open stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: Vec<u8>,
}

/// Opens `/operations/{operation}/stream` on `base` (`http://host:port`), sending
/// `Last-Event-ID` when given; returns the status and, on 200, the stream.
pub async fn open(
    client: &reqwest::Client,
    base: &str,
    operation: &str,
    last_event_id: Option<&str>,
) -> Result<EventStream, (StatusCode, Value)> {
    let mut request = client.get(format!("{base}/operations/{operation}/stream"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    if status != StatusCode::OK {
        let body = response.json().await.unwrap_or(Value::Null);
        return Err((status, body));
    }
    let headers = response.headers();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    Ok(EventStream {
        response,
        buffer: Vec::new(),
    })
}

impl EventStream {
    /// The next event or comment; `None` once the server ended the response. Panics when
    /// nothing comes within `wait`.
    pub async fn next_within(&mut self, wait: std::time::Duration) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Some(parse(&String::from_utf8(block).expect("UTF-8 events")));
            }
            let chunk = tokio::time::timeout(wait, self.response.chunk())
                .await
                .expect("an event within the wait")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => {
                    assert!(self.buffer.is_empty(), "a partial event at the end");
                    return None;
                }
            }
        }
    }

    /// The next event or comment within [`WAIT`].
    pub async fn next(&mut self) -> Option<Event> {
        self.next_within(WAIT).await
    }

    /// Every event up to and including `end` (comments skipped), checking that the response
    /// ends right after it.
    pub async fn until_end(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let event = self
                .next()
                .await
                .expect("an end event before the response ends");
            if event.comment.is_some() {
                continue;
            }
            let end = event.name == "end";
            events.push(event);
            if end {
                assert_eq!(self.next().await, None, "the response ends after `end`");
                return events;
            }
        }
    }
}

fn parse(block: &str) -> Event {
    let mut event = Event {
        name: String::new(),
        id: None,
        data: Value::Null,
        comment: None,
    };
    for line in block.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix(':') {
            event.comment = Some(comment.trim().to_string());
        } else if let Some(name) = line.strip_prefix("event: ") {
            event.name = name.to_string();
        } else if let Some(id) = line.strip_prefix("id: ") {
            event.id = Some(id.to_string());
        } else if let Some(data) = line.strip_prefix("data: ") {
            event.data = serde_json::from_str(data).expect("data is JSON");
        } else {
            panic!("unexpected line in an event: {line:?}");
        }
    }
    event
}
