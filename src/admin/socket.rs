//! The server's end of the admin socket: `admin.sock` in the data directory, a Unix domain
//! socket (never a network port) that only the server's own user may open (mode 0600).
//!
//! The embedded store's file is locked by the server, so `pladmed superuser create` and the
//! other admin commands cannot open it while the server runs; they send their request here
//! instead, and the server executes it with its own store and hub.

use super::commands;
use super::protocol::{Refusal, Request, Response, MAX_REQUEST_BYTES};
use crate::accounts::PasswordHashing;
use crate::hub::Hub;
use crate::store::Store;
use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Name of the socket inside the data directory.
pub const SOCKET_NAME: &str = "admin.sock";

/// How long a client has to send its request line.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The admin socket of a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// A bound admin socket; its file is removed when this is dropped.
pub struct AdminSocket {
    listener: UnixListener,
    path: PathBuf,
    /// The socket file's inode, so that only our own file is ever removed.
    inode: u64,
}

impl AdminSocket {
    /// Binds `admin.sock` in `data_dir` with mode 0600. A socket left by a server that was
    /// killed is replaced; anything else at that path is an error, never deleted. The socket
    /// is bound in a fresh private directory, restricted, then renamed into place, so it is
    /// never reachable with a wider mode and the replacement is atomic.
    pub fn bind(data_dir: &Path) -> io::Result<AdminSocket> {
        let path = socket_path(data_dir);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ))
            }
            _ => {}
        }
        let staging = data_dir.join(format!(".admin-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::DirBuilder::new().mode(0o700).create(&staging)?;
        let bound = bind_restricted(&staging.join(SOCKET_NAME), &path);
        let _ = std::fs::remove_dir_all(&staging);
        let listener = bound?;
        let inode = std::fs::symlink_metadata(&path)?.ino();
        tracing::info!(path = %path.display(), "admin socket listening");
        Ok(AdminSocket {
            listener,
            path,
            inode,
        })
    }

    /// Where the socket is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Executes requests until `shutdown` resolves, then removes the socket.
    pub async fn serve(
        self,
        store: Arc<dyn Store>,
        hub: Arc<dyn Hub>,
        hashing: PasswordHashing,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let (store, hub, hashing) = (store.clone(), hub.clone(), hashing.clone());
                        tokio::spawn(async move { answer(stream, store, hub, hashing).await });
                    }
                    Err(error) => tracing::warn!(%error, "admin socket: accept failed"),
                },
                () = &mut shutdown => break,
            }
        }
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds at `staging`, restricts the file to its owner, and moves it to `path`.
fn bind_restricted(staging: &Path, path: &Path) -> io::Result<UnixListener> {
    let listener = UnixListener::bind(staging)?;
    std::fs::set_permissions(staging, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(staging, path)?;
    Ok(listener)
}

/// Reads one request line, executes it and writes the response line.
async fn answer(
    stream: UnixStream,
    store: Arc<dyn Store>,
    hub: Arc<dyn Hub>,
    hashing: PasswordHashing,
) {
    let (reader, mut writer) = stream.into_split();
    let mut line = String::new();
    let mut limited = BufReader::new(reader.take(MAX_REQUEST_BYTES as u64 + 1));
    let read = tokio::time::timeout(READ_TIMEOUT, limited.read_line(&mut line)).await;
    let response = match read {
        Err(_) => Response::refused(Refusal::Protocol, "no request line within 10 s"),
        Ok(Err(error)) => Response::refused(Refusal::Protocol, format!("request: {error}")),
        Ok(Ok(_)) if line.len() > MAX_REQUEST_BYTES => Response::refused(
            Refusal::Protocol,
            format!("request: longer than {MAX_REQUEST_BYTES} bytes"),
        ),
        Ok(Ok(_)) => match serde_json::from_str::<Request>(&line) {
            Ok(request) => commands::execute(store.as_ref(), hub.as_ref(), &hashing, request).await,
            Err(error) => Response::refused(Refusal::Protocol, format!("request: {error}")),
        },
    };
    let mut reply = serde_json::to_string(&response).expect("responses serialise");
    reply.push('\n');
    if let Err(error) = writer.write_all(reply.as_bytes()).await {
        tracing::debug!(%error, "admin socket: client left before the answer");
    }
}
