//! One result in a few readable lines: what scamper's JSON and dig's text say, cut down to what
//! a researcher looks at first (RTTs for ping, hops for traceroute, answers for dns).

use serde_json::Value;

/// One line of a result: the destination it is about (empty on continuation lines) and what
/// was measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub target: String,
    pub text: String,
}

impl Line {
    fn new(target: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            text: text.into(),
        }
    }
}

/// The lines of `result`, an element of GET /operations/{id}/results' `results`.
pub fn summarize(result: &Value) -> Vec<Line> {
    if let Some(error) = result["error"].as_str() {
        return vec![Line::new("", format!("error: {error}"))];
    }
    let lines = match (&result["format"], &result["results"]) {
        (_, Value::Array(objects)) => objects.iter().flat_map(measurement).collect(),
        (format, Value::String(text)) if format == "text" => dig(text),
        (_, Value::String(text)) => text
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| Line::new("", line))
            .collect(),
        (_, other) => vec![Line::new("", other.to_string())],
    };
    if lines.is_empty() {
        vec![Line::new("", "no measurement in this result")]
    } else {
        lines
    }
}

/// A scamper object: `ping` and `trace` are summarized, the rest (cycle records) skipped.
fn measurement(object: &Value) -> Vec<Line> {
    match object["type"].as_str() {
        Some("ping") => vec![ping(object)],
        Some("trace") => trace(object),
        _ => Vec::new(),
    }
}

fn ping(ping: &Value) -> Line {
    let dst = ping["dst"].as_str().unwrap_or("?");
    let stats = &ping["statistics"];
    let sent = ping["ping_sent"].as_u64().unwrap_or(0);
    let replies = stats["replies"].as_u64().unwrap_or(0);
    let text = if replies == 0 {
        format!("0/{sent} replies")
    } else {
        format!(
            "{replies}/{sent} replies, rtt min/avg/max {}/{}/{} ms",
            ms(&stats["min"]),
            ms(&stats["avg"]),
            ms(&stats["max"])
        )
    };
    Line::new(dst, text)
}

fn trace(trace: &Value) -> Vec<Line> {
    let dst = trace["dst"].as_str().unwrap_or("?");
    let stop = trace["stop_reason"].as_str().unwrap_or("?");
    let hops = trace["hops"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let last_ttl = hops
        .iter()
        .filter_map(|hop| hop["probe_ttl"].as_u64())
        .max()
        .unwrap_or(0);
    let first = trace["firsthop"].as_u64().unwrap_or(1).max(1);
    let mut lines = vec![Line::new(dst, format!("{stop}, {last_ttl} hops"))];
    for ttl in first..=last_ttl {
        let reply = hops
            .iter()
            .find(|hop| hop["probe_ttl"].as_u64() == Some(ttl));
        let text = match reply {
            Some(hop) => format!(
                "{ttl:>3}  {}  {} ms",
                hop["addr"].as_str().unwrap_or("?"),
                ms(&hop["rtt"])
            ),
            None => format!("{ttl:>3}  *"),
        };
        lines.push(Line::new("", text));
    }
    lines
}

/// dig's output: per query, its name, status and answers.
fn dig(text: &str) -> Vec<Line> {
    let mut lines = Vec::new();
    let mut query = DigQuery::default();
    let mut section = "";
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(status) = line.split("status: ").nth(1) {
            query.flush(&mut lines);
            query.status = status.split(',').next().unwrap_or("").to_string();
            section = "";
        } else if let Some(name) = line.strip_prefix(";; ") {
            section = name;
        } else if line.is_empty() {
            section = "";
        } else if section == "QUESTION SECTION:" {
            let name = line.trim_start_matches(';');
            query.name = name.split_whitespace().next().unwrap_or("").to_string();
        } else if section == "ANSWER SECTION:" {
            // name TTL class type data...: the type and data are what differ.
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() >= 5 {
                query.answers.push(fields[3..].join(" "));
            }
        }
    }
    query.flush(&mut lines);
    if lines.is_empty() && !text.trim().is_empty() {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        lines.push(Line::new("", first.trim()));
    }
    lines
}

#[derive(Default)]
struct DigQuery {
    name: String,
    status: String,
    answers: Vec<String>,
}

impl DigQuery {
    fn flush(&mut self, lines: &mut Vec<Line>) {
        if self.status.is_empty() {
            return;
        }
        let query = std::mem::take(self);
        let text = if query.answers.is_empty() {
            query.status
        } else {
            format!("{} {}", query.status, query.answers.join(", "))
        };
        lines.push(Line::new(query.name, text));
    }
}

/// A round-trip time in milliseconds as scamper gives it (3 decimals), or `?`.
fn ms(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "?".to_string(), |rtt| format!("{rtt:.3}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ping_shows_replies_and_rtts() {
        let result = json!({"format": "json", "error": null, "results": [
            {"type": "cycle-start"},
            {"type": "ping", "dst": "127.0.0.1", "ping_sent": 2,
             "statistics": {"replies": 2, "min": 0.037, "avg": 0.047, "max": 0.057}}]});
        assert_eq!(
            summarize(&result),
            vec![Line::new(
                "127.0.0.1",
                "2/2 replies, rtt min/avg/max 0.037/0.047/0.057 ms"
            )]
        );
    }

    #[test]
    fn trace_shows_each_hop_and_the_silent_ones() {
        let result = json!({"format": "json", "error": null, "results": [
            {"type": "trace", "dst": "192.0.2.1", "stop_reason": "COMPLETED", "firsthop": 1,
             "hops": [{"probe_ttl": 1, "addr": "10.0.0.1", "rtt": 1.5},
                      {"probe_ttl": 3, "addr": "192.0.2.1", "rtt": 9.25}]}]});
        let texts: Vec<String> = summarize(&result).into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "COMPLETED, 3 hops",
                "  1  10.0.0.1  1.500 ms",
                "  2  *",
                "  3  192.0.2.1  9.250 ms"
            ]
        );
    }

    #[test]
    fn dig_shows_the_status_and_answers_of_each_query() {
        let text = ";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 1\n\
                    ;; QUESTION SECTION:\n;1.0.0.127.in-addr.arpa.\tIN\tPTR\n\n\
                    ;; ANSWER SECTION:\n1.0.0.127.in-addr.arpa.\t60\tIN\tPTR\tlocalhost.\n\n\
                    ;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 2\n\
                    ;; QUESTION SECTION:\n;nowhere.example.\tIN\tA\n";
        let result = json!({"format": "text", "error": null, "results": text});
        assert_eq!(
            summarize(&result),
            vec![
                Line::new("1.0.0.127.in-addr.arpa.", "NOERROR PTR localhost."),
                Line::new("nowhere.example.", "NXDOMAIN"),
            ]
        );
    }

    #[test]
    fn an_error_is_shown_as_such() {
        let result = json!({"format": "json", "error": "scamper exited", "results": []});
        assert_eq!(
            summarize(&result),
            vec![Line::new("", "error: scamper exited")]
        );
    }
}
