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
use probe_protocol::CloseReason;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// Frames that do not go through the hub's queue.
pub enum Control {
    /// Send a WebSocket ping with this payload.
    Ping([u8; 8]),
    /// Flush what is queued, then close so.
    Close(CloseReason),
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
                Some(Control::Ping(payload)) => {
                    sink.send(Message::Ping(payload.to_vec().into())).await
                }
                Some(Control::Close(reason)) => {
                    close(&mut sink, &mut frames, &reason, &telemetry).await;
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

/// Has the writer flush what is queued and close so, waiting at most `grace` in all.
/// Neither the request nor the flush may wait longer: a writer blocked on a peer that does not
/// read (its control queue full of pings) would hold the session and its link slot forever.
/// Past `grace` the writer is aborted, which drops the socket. Returns whether it closed.
pub async fn finish(
    control: mpsc::Sender<Control>,
    mut writer: JoinHandle<()>,
    reason: CloseReason,
    grace: Duration,
) -> bool {
    let closing = async {
        if control.send(Control::Close(reason)).await.is_ok() {
            let _ = (&mut writer).await;
        }
    };
    if tokio::time::timeout(grace, closing).await.is_ok() {
        return true;
    }
    writer.abort();
    let _ = writer.await;
    false
}

async fn close(
    sink: &mut SplitSink<Socket, Message>,
    frames: &mut mpsc::Receiver<Frame>,
    reason: &CloseReason,
    telemetry: &Telemetry,
) {
    while let Ok(frame) = frames.try_recv() {
        if sink.feed(Message::Text(frame)).await.is_err() {
            return;
        }
        telemetry.frames_out.inc();
    }
    let _ = sink.send(close_frame(reason)).await;
    let _ = sink.close().await;
}
