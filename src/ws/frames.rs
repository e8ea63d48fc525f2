//! Classifying what arrives on the socket.

use probe_protocol::{close, CloseReason};
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
    /// The link must be closed so.
    Refuse(CloseReason),
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
        Some(Ok(Message::Binary(_) | Message::Frame(_))) => Incoming::Refuse(CloseReason::new(
            close::PROTOCOL_VIOLATION,
            "binary frames are not part of the protocol; send JSON text frames",
        )),
    }
}

fn classify_error(error: &tungstenite::Error) -> Incoming {
    let refuse = |code, reason: String| Incoming::Refuse(CloseReason::new(code, reason));
    match error {
        tungstenite::Error::Capacity(cause) => {
            refuse(close::MESSAGE_TOO_BIG, format!("message too big: {cause}"))
        }
        tungstenite::Error::Utf8(_) => {
            refuse(close::PROTOCOL_VIOLATION, "text frame is not UTF-8".into())
        }
        tungstenite::Error::Protocol(cause) => refuse(
            close::PROTOCOL_VIOLATION,
            format!("websocket protocol error: {cause}"),
        ),
        _ => Incoming::Gone,
    }
}

/// The close frame that ends a link so (its reason cut to fit).
pub fn close_frame(close: &CloseReason) -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::from(close.code),
        reason: close.frame_reason().into(),
    }))
}
