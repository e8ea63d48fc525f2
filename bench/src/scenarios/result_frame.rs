//! The result the simulated probes of `ingest` send: a realistic traceroute, and its frame
//! split around the unique code so that sending costs no JSON encoding.

use chrono::Utc;
use probe_protocol::{ContentFormat, ProbeMessage, ResultReport};
use serde_json::{json, Value};

const CODE: &str = "@@CODE@@";

/// A scamper traceroute (JSON output) of 12 hops: about 3.5 KiB, like a real one.
pub fn traceroute() -> Value {
    let hops: Vec<Value> = (1..=12)
        .map(|ttl| {
            json!({
                "addr": format!("10.{ttl}.{}.1", ttl * 7 % 256), "probe_ttl": ttl, "probe_id": 1,
                "probe_size": 44, "tx": {"sec": 1_764_000_000 + ttl, "usec": 123_456},
                "rtt": 1.234 * ttl as f64, "reply_ttl": 255 - ttl, "reply_tos": 0,
                "reply_ipid": 4_000 + ttl, "reply_size": 56, "icmp_type": 11, "icmp_code": 0,
                "icmp_q_ttl": 1, "icmp_q_ipl": 44, "icmp_q_tos": 0
            })
        })
        .collect();
    json!([{
        "type": "trace", "version": "0.1", "userid": 0, "method": "icmp-echo-paris",
        "src": "192.0.2.10", "dst": "198.51.100.20", "icmp_sum": 54_321, "stop_reason": "COMPLETED",
        "stop_data": 0, "start": {"sec": 1_764_000_000, "usec": 1, "ftime": "2025-11-24 16:00:00"},
        "hop_count": 12, "attempts": 2, "hoplimit": 0, "firsthop": 1, "wait": 5, "wait_probe": 0,
        "tos": 0, "probe_size": 44, "probe_count": 12, "hops": hops
    }])
}

/// A result frame split around its unique code, so sending costs no JSON encoding.
pub struct Template(String, String);

impl Template {
    pub fn new(operation: &str) -> Template {
        let frame = ProbeMessage::Result(ResultReport {
            operation_id: operation.into(),
            unique_code: CODE.into(),
            format: ContentFormat::Json,
            content: traceroute().into(),
            measured_at: Utc::now(),
            error: None,
        })
        .encode();
        let (head, tail) = frame.split_once(CODE).expect("code in frame");
        Template(head.into(), tail.into())
    }

    pub fn frame(&self, code: &str) -> String {
        format!("{}{code}{}", self.0, self.1)
    }
}
