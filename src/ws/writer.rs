//! The single task that writes to a probe's socket.
//!
//! Nothing else touches the sink, so frames from the hub, replies of the session and control
//! frames never interleave mid-message and a slow socket stalls only this task.

use super::frames::close_frame;
use super::upgrade::Socket;
use crate::hub::Frame;
use crate::telemetry::Telemetry;
use futures::stream::SplitSink;
use futures::SinkExt;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

/// Frames that do not go through the hub's queue.
pub enum Control {
    /// Send a WebSocket ping.
    Ping,
    /// Flush what is queued, then close with this code and reason.
    Close(u16, String),
}

/// Writes queued frames and control frames until closed or the socket fails.
pub async fn run(
    mut sink: SplitSink<Socket, Message>,
    mut frames: mpsc::Receiver<Frame>,
    mut control: mpsc::Receiver<Control>,
    telemetry: Arc<Telemetry>,
) {
    loop {
        let outcome = tokio::select! {
            biased;
            command = control.recv() => match command {
                Some(Control::Ping) => sink.send(Message::Ping(Default::default())).await,
                Some(Control::Close(code, reason)) => {
                    close(&mut sink, &mut frames, code, reason, &telemetry).await;
                    return;
                }
                None => return,
            },
            frame = frames.recv() => match frame {
                Some(frame) => {
                    telemetry.frames_out.inc();
                    sink.send(Message::Text(frame)).await
                }
                None => return,
            },
        };
        if outcome.is_err() {
            return;
        }
    }
}

async fn close(
    sink: &mut SplitSink<Socket, Message>,
    frames: &mut mpsc::Receiver<Frame>,
    code: u16,
    reason: String,
    telemetry: &Telemetry,
) {
    while let Ok(frame) = frames.try_recv() {
        if sink.feed(Message::Text(frame)).await.is_err() {
            return;
        }
        telemetry.frames_out.inc();
    }
    let _ = sink.send(close_frame(code, &reason)).await;
    let _ = sink.close().await;
}
