//! A client of a TLS reverse proxy on loopback, as browsers and probes are: HTTP/1.1 requests
//! and WebSocket links over TLS, each from a chosen loopback source address (127.0.0.N), so
//! that the proxy sees distinct clients. Trusts a throwaway CA it makes itself.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

/// A throwaway CA's certificate for the proxy (127.0.0.1 and localhost), and what trusts it.
pub struct TestCa {
    /// The CA's own certificate, PEM: what a client must trust (a probe's `--ca-file`).
    pub ca_pem: String,
    /// The proxy's certificate, PEM.
    pub chain_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    chain_der: CertificateDer<'static>,
    key_der: Vec<u8>,
    connector: TlsConnector,
}

/// A client of the proxy at `proxy`.
pub struct Https {
    proxy: SocketAddr,
    connector: TlsConnector,
}

/// An answer: status, headers and the body as JSON (or a JSON string of the raw text).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

impl TestCa {
    /// A fresh CA and a certificate it signed for 127.0.0.1 and localhost.
    pub fn new() -> TestCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "Pladmed test private CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let mut params =
            CertificateParams::new(["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &ca).unwrap();

        let mut roots = RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        TestCa {
            ca_pem: ca.pem(),
            chain_pem: certificate.pem(),
            key_pem: key.serialize_pem(),
            chain_der: certificate.der().clone(),
            key_der: key.serialize_der(),
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// The proxy's TLS settings: its certificate and key, HTTP/1.1 only (no ALPN).
    pub fn server_config(&self) -> ServerConfig {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.chain_der.clone()], key)
            .unwrap()
    }

    /// A client of the proxy at `proxy` that trusts this CA only. No ALPN: HTTP/1.1, as the
    /// WebSocket upgrade needs.
    pub fn client(&self, proxy: SocketAddr) -> Https {
        Https {
            proxy,
            connector: self.connector.clone(),
        }
    }
}

impl Https {
    /// A TLS connection to the proxy from loopback address `from`.
    async fn connect(&self, from: IpAddr) -> TlsStream<TcpStream> {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        let tcp = socket.connect(self.proxy).await.unwrap();
        let name = ServerName::IpAddress(self.proxy.ip().into());
        self.connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the proxy")
    }

    /// One request from `from`, on its own connection.
    pub async fn request(
        &self,
        from: IpAddr,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let stream = self.connect(from).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.proxy.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let content = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                body.to_string()
            }
            None => String::new(),
        };
        let request = request.body(Full::new(Bytes::from(content))).unwrap();
        let response = sender.send_request(request).await.expect("an answer");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    /// A GET from 127.0.0.1 of a response that does not end (a live stream): its status,
    /// headers, and the body read until it contains `until`, each piece within `wait`.
    pub async fn read_until(
        &self,
        path: &str,
        until: &str,
        wait: std::time::Duration,
    ) -> (StatusCode, HeaderMap, String) {
        let stream = self.connect(IpAddr::from([127, 0, 0, 1])).await;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let request = Request::builder()
            .uri(path)
            .header("host", self.proxy.to_string())
            .body(Full::new(Bytes::new()))
            .unwrap();
        let response = sender.send_request(request).await.expect("an answer");
        let (parts, mut body) = response.into_parts();
        let mut text = String::new();
        while !text.contains(until) {
            let frame = tokio::time::timeout(wait, body.frame())
                .await
                .unwrap_or_else(|_| panic!("{until:?} not passed on within {wait:?}: {text:?}"))
                .expect("the body goes on")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                text.push_str(&String::from_utf8_lossy(&data));
            }
        }
        (parts.status, parts.headers, text)
    }

    /// A POST from 127.0.0.1 with a JSON body and an optional `access_token`.
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let headers: Vec<(&str, &str)> = token.map(|t| ("access_token", t)).into_iter().collect();
        let from = IpAddr::from([127, 0, 0, 1]);
        self.request(from, Method::POST, path, &headers, Some(body))
            .await
    }

    /// The probe link with `token` from `from`: the upgrade's status, and the link if upgraded.
    pub async fn probe_link(
        &self,
        from: IpAddr,
        token: &str,
    ) -> (u16, Option<WebSocketStream<TlsStream<TcpStream>>>) {
        let stream = self.connect(from).await;
        let request = format!(
            "wss://{}{}?token={token}",
            self.proxy,
            probe_protocol::LINK_PATH
        )
        .into_client_request()
        .unwrap();
        match tokio_tungstenite::client_async(request, stream).await {
            Ok((socket, response)) => (response.status().as_u16(), Some(socket)),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                (response.status().as_u16(), None)
            }
            Err(e) => panic!("probe link handshake through the proxy failed: {e}"),
        }
    }
}
