//! The CLI's end of the admin socket.

use super::protocol::{Request, Response};
use std::io;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// How long the CLI waits for the server's answer (creating an account hashes a password).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a request could not be sent over the socket.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server listens there (no socket file, or one left by a server that is gone).
    #[error("no server listens on {0}")]
    NoServer(String),
    /// The server was reached but the exchange failed.
    #[error("admin socket {path}: {message}")]
    Exchange {
        /// The socket.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Sends `request` to the server listening on `path` and returns its answer.
pub async fn send(path: &Path, request: &Request) -> Result<Response, ClientError> {
    let shown = path.display().to_string();
    let mut stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Err(ClientError::NoServer(shown))
        }
        Err(e) => return Err(exchange(&shown, e)),
    };
    let exchange_once = async {
        let mut line = serde_json::to_string(request).map_err(io::Error::other)?;
        line.push('\n');
        stream.write_all(line.as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(&mut stream).read_line(&mut answer).await?;
        serde_json::from_str::<Response>(&answer).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unreadable answer: {e}"),
            )
        })
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, exchange_once).await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(e)) => Err(exchange(&shown, e)),
        Err(_) => Err(exchange(&shown, "no answer within 60 s")),
    }
}

fn exchange(path: &str, error: impl ToString) -> ClientError {
    ClientError::Exchange {
        path: path.to_owned(),
        message: error.to_string(),
    }
}
