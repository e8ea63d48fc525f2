//! Reading the hops of `X-Forwarded-For` and of RFC 7239 `Forwarded` (`for=` only), from the
//! right, as far as the caller asks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use warp::http::HeaderMap;

/// One hop of a forwarding header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Hop {
    /// A node given by its address (any port dropped).
    Address(IpAddr),
    /// `unknown`, an obfuscated identifier (`_hidden`), or a `Forwarded` element without `for=`.
    Hidden,
}

/// A trusted proxy sent a forwarding header that cannot be read; answered 400 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {header} header: {reason}")]
pub struct MalformedForwarding {
    /// `X-Forwarded-For` or `Forwarded`.
    pub header: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The hops of the forwarding header in use, rightmost (nearest) first, each parsed only when
/// reached. Empty when neither header is present.
pub(super) fn hops_from_right(
    headers: &HeaderMap,
) -> Result<impl Iterator<Item = Result<Hop, MalformedForwarding>>, MalformedForwarding> {
    let (header, forwarded) = if headers.contains_key("x-forwarded-for") {
        ("X-Forwarded-For", false)
    } else {
        ("Forwarded", true)
    };
    let malformed = move |reason: String| MalformedForwarding { header, reason };
    let mut joined = Vec::new();
    for value in headers.get_all(header) {
        let value = value
            .to_str()
            .map_err(|_| malformed("not visible ASCII".into()))?;
        joined.push(value.to_string());
    }
    let elements: Vec<String> = split_outside_quotes(&joined.join(","), ',')
        .map(|element| element.trim().to_string())
        .filter(|element| !element.is_empty())
        .collect();
    Ok(elements.into_iter().rev().map(move |element| {
        let node = if forwarded {
            match for_parameter(&element).map_err(malformed)? {
                Some(node) => node,
                None => return Ok(Hop::Hidden),
            }
        } else {
            element
        };
        parse_node(&node).map_err(malformed)
    }))
}

/// The `for=` value of one `Forwarded` element, unquoted; `None` when it has none.
fn for_parameter(element: &str) -> Result<Option<String>, String> {
    let mut found = None;
    for pair in split_outside_quotes(element, ';') {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{:?} is not name=value", pair.trim()))?;
        let value = unquote(value.trim())?;
        if name.trim().eq_ignore_ascii_case("for") {
            found = Some(value);
        }
    }
    Ok(found)
}

/// A token as it is, or a quoted-string without its quotes and escapes.
fn unquote(value: &str) -> Result<String, String> {
    let Some(inner) = value.strip_prefix('"') else {
        return Ok(value.to_string());
    };
    let mut text = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => text.extend(chars.next()),
            '"' if chars.as_str().is_empty() => return Ok(text),
            '"' => return Err(format!("text after the closing quote in {value:?}")),
            c => text.push(c),
        }
    }
    Err(format!("unterminated quote in {value:?}"))
}

/// Splits at `delimiter` where it is not inside a quoted-string.
fn split_outside_quotes(text: &str, delimiter: char) -> impl Iterator<Item = &str> {
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    let mut parts = Vec::new();
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == delimiter && !quoted => {
                parts.push(&text[start..at]);
                start = at + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts.into_iter()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711`,
/// `unknown` or `_obfuscated`.
fn parse_node(node: &str) -> Result<Hop, String> {
    if node.eq_ignore_ascii_case("unknown") || node.starts_with('_') {
        return Ok(Hop::Hidden);
    }
    let not_an_address = || format!("{node:?} is not an IP address");
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or_else(not_an_address)?;
        let v6: Ipv6Addr = v6.parse().map_err(|_| not_an_address())?;
        if !after.is_empty() {
            after
                .strip_prefix(':')
                .filter(|port| valid_port(port))
                .ok_or_else(not_an_address)?;
        }
        return Ok(Hop::Address(IpAddr::V6(v6).to_canonical()));
    }
    if let Ok(address) = node.parse::<IpAddr>() {
        return Ok(Hop::Address(address.to_canonical()));
    }
    match node.split_once(':') {
        Some((v4, port)) if valid_port(port) => v4
            .parse::<Ipv4Addr>()
            .map(|v4| Hop::Address(IpAddr::V4(v4)))
            .map_err(|_| not_an_address()),
        _ => Err(not_an_address()),
    }
}

/// A port number, or an obfuscated port (`_abc`), as RFC 7239 allows.
fn valid_port(port: &str) -> bool {
    port.parse::<u16>().is_ok() || (port.len() > 1 && port.starts_with('_'))
}
