//! Classifying what arrives on the socket.

use probe_protocol::close;
use std::error::Error as _;
use tokio_tungstenite::tungstenite;
use warp::ws::Message;

/// One thing read from the socket, as the session cares about it.
pub enum Incoming {
    /// A text frame.
    Text(String),
    /// Ping or pong: the probe is alive.
    Alive,
    /// The probe closed the link or the connection dropped.
    Gone,
    /// The link must be closed with this code and reason.
    Refuse(u16, String),
}

/// What `stream.next()` yielded.
pub fn classify(item: Option<Result<Message, warp::Error>>) -> Incoming {
    match item {
        None => Incoming::Gone,
        Some(Err(error)) => classify_error(&error),
        Some(Ok(message)) if message.is_text() => match message.to_str() {
            Ok(text) => Incoming::Text(text.to_string()),
            Err(()) => {
                Incoming::Refuse(close::PROTOCOL_VIOLATION, "text frame is not UTF-8".into())
            }
        },
        Some(Ok(message)) if message.is_ping() || message.is_pong() => Incoming::Alive,
        Some(Ok(message)) if message.is_close() => Incoming::Gone,
        Some(Ok(_)) => Incoming::Refuse(
            close::PROTOCOL_VIOLATION,
            "binary frames are not part of the protocol; send JSON text frames".into(),
        ),
    }
}

fn classify_error(error: &warp::Error) -> Incoming {
    match error
        .source()
        .and_then(|s| s.downcast_ref::<tungstenite::Error>())
    {
        Some(tungstenite::Error::Capacity(cause)) => {
            Incoming::Refuse(close::MESSAGE_TOO_BIG, format!("message too big: {cause}"))
        }
        Some(tungstenite::Error::Utf8(_)) => {
            Incoming::Refuse(close::PROTOCOL_VIOLATION, "text frame is not UTF-8".into())
        }
        Some(tungstenite::Error::Protocol(cause)) => Incoming::Refuse(
            close::PROTOCOL_VIOLATION,
            format!("websocket protocol error: {cause}"),
        ),
        _ => Incoming::Gone,
    }
}

/// A close reason cut to the 123 bytes a close frame can carry, on a character boundary.
pub fn close_reason(reason: &str) -> String {
    const MAX: usize = 123;
    if reason.len() <= MAX {
        return reason.to_string();
    }
    let mut end = MAX;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_fits_a_close_frame() {
        let long = "é".repeat(100);
        let cut = close_reason(&long);
        assert!(cut.len() <= 123 && long.starts_with(&cut));
        assert_eq!(close_reason("short"), "short");
    }
}
