//! A tiny authoritative DNS server on a loopback UDP port: it answers the PTR query for
//! 127.0.0.1 with `localhost.` and everything else with NXDOMAIN, so that dig gives the same
//! answer on any machine, with or without a network.

use std::net::SocketAddr;
use tokio::net::UdpSocket;

const REVERSE_OF_LOOPBACK: &str = "1.0.0.127.in-addr.arpa";
const PTR: u16 = 12;

/// A running responder; it stops when dropped.
pub struct DnsResponder {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl DnsResponder {
    pub async fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buffer = [0u8; 512];
            while let Ok((len, from)) = socket.recv_from(&mut buffer).await {
                if let Some(reply) = answer(&buffer[..len]) {
                    let _ = socket.send_to(&reply, from).await;
                }
            }
        });
        Self { addr, task }
    }
}

impl DnsResponder {
    /// The probe arguments making dig ask on this responder's port; an operation's `address`
    /// (127.0.0.1) names the responder.
    pub fn port_args(&self) -> Vec<String> {
        vec!["--dns-port".to_string(), self.addr.port().to_string()]
    }

    /// The probe arguments making this responder the probe's default resolver.
    pub fn resolver_args(&self) -> Vec<String> {
        let mut args = vec!["--dns-server".to_string(), self.addr.ip().to_string()];
        args.extend(self.port_args());
        args
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The reply to one query, or `None` for something that is not a one-question query.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let (name, question_end) = read_name(query, 12)?;
    let qtype = u16::from_be_bytes([*query.get(question_end)?, *query.get(question_end + 1)?]);
    let question = query.get(12..question_end + 4)?;
    let found = qtype == PTR && name.eq_ignore_ascii_case(REVERSE_OF_LOOPBACK);
    // QR, AA, RD, RA; rcode 0 (NOERROR) or 3 (NXDOMAIN).
    let flags: u16 = if found { 0x8580 } else { 0x8583 };
    let mut reply = Vec::new();
    reply.extend_from_slice(&query[..2]);
    reply.extend_from_slice(&flags.to_be_bytes());
    reply.extend_from_slice(&[0, 1, 0, u8::from(found), 0, 0, 0, 0]);
    reply.extend_from_slice(question);
    if found {
        let target = b"\x09localhost\x00";
        reply.extend_from_slice(&[0xC0, 12]);
        reply.extend_from_slice(&PTR.to_be_bytes());
        reply.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        reply.extend_from_slice(&(target.len() as u16).to_be_bytes());
        reply.extend_from_slice(target);
    }
    Some(reply)
}

/// The dotted name starting at `at` and the offset just after it.
fn read_name(message: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            return Some((labels.join("."), at + 1));
        }
        let label = message.get(at + 1..at + 1 + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += 1 + len;
    }
}
