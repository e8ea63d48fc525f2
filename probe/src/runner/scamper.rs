//! scamper command lines for traceroute and ping, and reading scamper's output.
//!
//! Each destination gets its own command (`scamper -I "trace … 192.0.2.1" "trace … ::1"`), so
//! that options depending on the address family can be set per destination. The reference
//! parameter ranges are wider than what scamper 20211212 accepts in a few places; an option
//! scamper would refuse makes it exit without measuring anything, so those values are brought
//! to the nearest value scamper accepts (the result's scamper JSON shows what was used):
//!
//! - traceroute `method` `icp` is not a scamper method: it is the reference's spelling of
//!   `icmp` (classic ICMP echo traceroute);
//! - traceroute `confidence` is a fraction, scamper's `-c` is 95 or 99 (percent): 0 turns
//!   confidence probing off, up to 0.95 asks for 95, above 0.95 for 99;
//! - traceroute `wait` goes up to 20, scamper's `-w` up to 10;
//! - ping `timeout` 0 becomes 1 (scamper's `-W` is 1–255);
//! - ping `size` below the headers of the probe (IP, then ICMP, TCP or UDP) becomes that
//!   minimum;
//! - ping `icmp-sum` is an ICMP option: with a TCP or UDP method scamper refuses it, so it is
//!   left out.

use probe_protocol::params::{PingMethod, PingParams, TraceMethod, TracerouteParams};
use serde_json::Value;
use std::net::IpAddr;

/// Largest `-w` scamper's trace accepts.
const TRACE_MAX_WAIT: u16 = 10;

/// scamper's output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One JSON object per line.
    Json,
    /// Binary warts.
    Warts,
}

/// The arguments of one scamper run executing `commands`.
pub fn arguments(output: Output, commands: Vec<String>) -> Vec<String> {
    let format = match output {
        Output::Json => "json",
        Output::Warts => "warts",
    };
    let mut args = vec!["-O".to_string(), format.to_string(), "-I".to_string()];
    args.extend(commands);
    args
}

/// Builds one scamper command from option/value pairs.
struct Command(Vec<String>);

impl Command {
    fn new(name: &str) -> Self {
        Self(vec![name.to_string()])
    }

    fn option(mut self, flag: &str, value: Option<impl ToString>) -> Self {
        if let Some(value) = value {
            self.0.push(flag.to_string());
            self.0.push(value.to_string());
        }
        self
    }

    fn target(mut self, address: IpAddr) -> String {
        self.0.push(address.to_string());
        self.0.join(" ")
    }
}

/// The `trace` command for one destination.
pub fn trace_command(p: &TracerouteParams, target: IpAddr) -> String {
    Command::new("trace")
        .option("-P", p.method.map(trace_method))
        .option("-q", p.attempts.map(|v| v.get()))
        .option("-c", p.confidence.and_then(|c| confidence_level(c.get())))
        .option("-d", p.dport.map(|v| v.get()))
        .option("-f", p.firsthop.map(|v| v.get()))
        .option("-m", p.maxttl.map(|v| v.get()))
        .option("-s", p.sport.map(|v| v.get()))
        .option("-w", p.wait.map(|v| v.get().min(TRACE_MAX_WAIT)))
        .option("-W", p.wait_probe.map(|v| v.get()))
        .target(target)
}

fn trace_method(method: TraceMethod) -> &'static str {
    match method {
        TraceMethod::Icp => "icmp",
        other => other.as_str(),
    }
}

/// scamper's `-c` for a confidence fraction; `None` (no confidence probing) for 0.
fn confidence_level(fraction: f64) -> Option<u8> {
    if fraction <= 0.0 {
        None
    } else if fraction <= 0.95 {
        Some(95)
    } else {
        Some(99)
    }
}

/// The `ping` command for one destination.
pub fn ping_command(p: &PingParams, target: IpAddr) -> String {
    let method = p.method.unwrap_or(PingMethod::IcmpEcho);
    let icmp_sum = p.icmp_sum.filter(|_| is_icmp(method));
    let minimum = minimum_ping_size(method, icmp_sum.is_some(), target);
    Command::new("ping")
        .option("-P", p.method)
        .option("-c", p.probecount.map(|v| v.get()))
        .option("-C", icmp_sum.map(|v| v.get()))
        .option("-d", p.dport.map(|v| v.get()))
        .option("-F", p.sport.map(|v| v.get()))
        .option("-i", p.wait.map(|v| v.get()))
        .option("-s", p.size.map(|v| v.get().max(minimum)))
        .option("-W", p.timeout.map(|v| v.get().max(1)))
        .target(target)
}

fn is_icmp(method: PingMethod) -> bool {
    matches!(method, PingMethod::IcmpEcho | PingMethod::IcmpTime)
}

/// The smallest probe scamper builds: IP header, then ICMP (8, plus 12 for a timestamp
/// request; the checksum trick of `-C` needs 2 payload bytes, a timestamp request at least 1),
/// TCP (20) or UDP (8). Measured against scamper 20211212.
fn minimum_ping_size(method: PingMethod, icmp_sum: bool, target: IpAddr) -> u16 {
    let ip = if target.is_ipv4() { 20 } else { 40 };
    let time = method == PingMethod::IcmpTime;
    let transport = match method {
        PingMethod::IcmpEcho | PingMethod::IcmpTime => {
            let payload = match (icmp_sum, time) {
                (true, _) => 2,
                (false, true) => 1,
                (false, false) => 0,
            };
            8 + if time { 12 } else { 0 } + payload
        }
        PingMethod::TcpAck | PingMethod::TcpAckSport | PingMethod::TcpSyn => 20,
        PingMethod::Udp | PingMethod::UdpDport => 8,
    };
    ip + transport
}

/// scamper's JSON output (one object per line) as an array. A line that does not parse is
/// reported, the others kept.
pub fn parse_json_lines(stdout: &[u8]) -> (Value, Option<String>) {
    let text = String::from_utf8_lossy(stdout);
    let mut objects = Vec::new();
    let mut unreadable = 0;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match serde_json::from_str::<Value>(line) {
            Ok(object) => objects.push(object),
            Err(_) => unreadable += 1,
        }
    }
    let error =
        (unreadable > 0).then(|| format!("{unreadable} line(s) of scamper output are not JSON"));
    (Value::Array(objects), error)
}

#[cfg(test)]
mod tests;
