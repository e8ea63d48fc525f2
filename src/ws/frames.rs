//! Classifying what arrives on the socket.

use probe_protocol::close;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

/// One thing read from the socket, as the session cares about it.
pub enum Incoming {
    /// A text frame.
    Text(tungstenite::Utf8Bytes),
    /// A ping: the peer's own heartbeat, which proves nothing about its reading.
    Alive,
    /// A pong, with its payload: the answer to one of the server's pings, or a guess.
    Pong(tokio_tungstenite::tungstenite::Bytes),
    /// The probe closed the link or the connection dropped.
    Gone,
    /// The link must be closed with this code and reason.
    Refuse(u16, String),
}

/// What `stream.next()` yielded.
pub fn classify(item: Option<Result<Message, tungstenite::Error>>) -> Incoming {
    match item {
        None => Incoming::Gone,
        Some(Err(error)) => classify_error(&error),
        Some(Ok(Message::Text(text))) => Incoming::Text(text),
        Some(Ok(Message::Ping(_))) => Incoming::Alive,
        Some(Ok(Message::Pong(payload))) => Incoming::Pong(payload),
        Some(Ok(Message::Close(_))) => Incoming::Gone,
        Some(Ok(Message::Binary(_) | Message::Frame(_))) => Incoming::Refuse(
            close::PROTOCOL_VIOLATION,
            "binary frames are not part of the protocol; send JSON text frames".into(),
        ),
    }
}

fn classify_error(error: &tungstenite::Error) -> Incoming {
    match error {
        tungstenite::Error::Capacity(cause) => {
            Incoming::Refuse(close::MESSAGE_TOO_BIG, format!("message too big: {cause}"))
        }
        tungstenite::Error::Utf8(_) => {
            Incoming::Refuse(close::PROTOCOL_VIOLATION, "text frame is not UTF-8".into())
        }
        tungstenite::Error::Protocol(cause) => Incoming::Refuse(
            close::PROTOCOL_VIOLATION,
            format!("websocket protocol error: {cause}"),
        ),
        _ => Incoming::Gone,
    }
}

/// A close frame with this code and reason (cut to fit).
pub fn close_frame(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(code),
        reason: close_reason(reason).into(),
    }))
}

/// A close reason cut to the 123 bytes a close frame can carry, on a character boundary.
fn close_reason(reason: &str) -> String {
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
