//! A TLS-terminating reverse proxy in front of the coordinator, as operators run one, with a
//! certificate for 127.0.0.1 and localhost signed by a throwaway private CA.

use rustls::ServerConfig;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use testkit::https::TestCa;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A running proxy; it stops accepting when dropped.
pub struct TlsProxy {
    pub addr: SocketAddr,
    /// The private CA's certificate, PEM: what `--ca-file` must hold.
    pub ca_pem: String,
    handshakes: Arc<Handshakes>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Handshakes {
    completed: AtomicUsize,
    failed: AtomicUsize,
}

impl TlsProxy {
    /// Listens on a free loopback port and relays every connection, once its TLS handshake
    /// succeeds, to `upstream` in plain TCP.
    pub async fn start(upstream: SocketAddr) -> Self {
        let (ca_pem, config) = certificates();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(Handshakes::default());
        let counts = handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(relay(acceptor.clone(), client, upstream, counts.clone()));
            }
        });
        Self {
            addr,
            ca_pem,
            handshakes,
            task,
        }
    }

    /// The probe arguments pointing it at this proxy, over https.
    pub fn server_args(&self) -> Vec<String> {
        vec!["--server".to_string(), format!("https://{}", self.addr)]
    }

    /// TLS handshakes that succeeded.
    pub fn completed(&self) -> usize {
        self.handshakes.completed.load(Ordering::SeqCst)
    }

    /// TLS handshakes that failed (a client refusing the certificate, for one).
    pub fn failed(&self) -> usize {
        self.handshakes.failed.load(Ordering::SeqCst)
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    acceptor: TlsAcceptor,
    client: TcpStream,
    upstream: SocketAddr,
    handshakes: Arc<Handshakes>,
) {
    let mut client = match acceptor.accept(client).await {
        Ok(client) => client,
        Err(_) => {
            handshakes.failed.fetch_add(1, Ordering::SeqCst);
            return;
        }
    };
    handshakes.completed.fetch_add(1, Ordering::SeqCst);
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
}

/// A fresh CA's certificate (PEM) and the proxy's settings: a certificate the CA signed for
/// 127.0.0.1 and localhost, with its key.
fn certificates() -> (String, ServerConfig) {
    let ca = TestCa::new();
    (ca.ca_pem.clone(), ca.server_config())
}
