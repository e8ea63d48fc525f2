//! The only task that writes to the socket; everything else queues frames for it.

use futures::stream::SplitSink;
use futures::SinkExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The write half of the link.
pub type Sink = SplitSink<WebSocketStream<MaybeTlsStream<TcpStream>>, Message>;

/// Writes queued frames until the queue closes or a close frame went out, then closes.
pub async fn run(mut sink: Sink, mut frames: mpsc::Receiver<Message>) {
    while let Some(frame) = frames.recv().await {
        let closing = frame.is_close();
        if let Err(error) = sink.send(frame).await {
            tracing::debug!(%error, "link write failed");
            return;
        }
        if closing {
            break;
        }
    }
    let _ = sink.close().await;
}
