//! Where a measurement goes: lists of IP literals and DNS names.
//!
//! The reference calls them comma-separated lists; the swagger sends JSON arrays. Both are
//! accepted: `["8.8.8.8", "1.1.1.1"]` and `"8.8.8.8, 1.1.1.1"` are the same list. `null` and
//! `""` are the empty list.

use super::error::{echo, ParamError};
use super::fields::Fields;
use super::values::parse_ip;
use serde_json::Value;
use std::fmt;
use std::net::IpAddr;

/// Longest DNS name, in characters, without the trailing dot (RFC 1035).
pub const MAX_NAME_LEN: usize = 253;
/// Longest label of a DNS name (RFC 1035).
pub const MAX_LABEL_LEN: usize = 63;

/// A syntactically valid DNS name: dot-separated labels of 1 to [`MAX_LABEL_LEN`] ASCII letters,
/// digits, hyphens and underscores, a hyphen at neither end of a label, at most
/// [`MAX_NAME_LEN`] characters, an optional trailing dot. Single labels (`localhost`) are fine.
/// Underscores are allowed because dig queries names such as `_dmarc.example.com`.
/// Internationalised names must be given in their `xn--` form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fqdn(String);

impl Fqdn {
    /// `text` as a name, or the rule it breaks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let name = text.strip_suffix('.').unwrap_or(text);
        let valid = !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('.').all(is_label);
        if valid {
            Ok(Self(text.to_string()))
        } else {
            Err(format!("\"{}\" is not a valid DNS name", echo(text)))
        }
    }

    /// The name as given (with its trailing dot, if it had one).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fqdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_label(label: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (1..=MAX_LABEL_LEN).contains(&label.len())
        && label.chars().all(allowed)
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The destinations of a traceroute or ping: at least one IP address or DNS name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destinations {
    ips: Vec<IpAddr>,
    fqdns: Vec<Fqdn>,
}

impl Destinations {
    /// Reads `ips` and `fqdns`, which together must name at least one destination.
    pub(super) fn from_fields(fields: &Fields) -> Result<Self, ParamError> {
        let ips = fields.optional("ips", ip_list)?.unwrap_or_default();
        let fqdns = fields.optional("fqdns", name_list)?.unwrap_or_default();
        if ips.is_empty() && fqdns.is_empty() {
            return Err(ParamError::new(
                "ips",
                "at least one destination is required in ips or fqdns",
            ));
        }
        Ok(Self { ips, fqdns })
    }

    /// The IP addresses, in the order given.
    pub fn ips(&self) -> &[IpAddr] {
        &self.ips
    }

    /// The DNS names, in the order given.
    pub fn fqdns(&self) -> &[Fqdn] {
        &self.fqdns
    }

    /// How many destinations there are (addresses plus names, repeats included); at least 1.
    pub fn count(&self) -> usize {
        self.ips.len() + self.fqdns.len()
    }
}

/// A list of IP literals.
pub(super) fn ip_list(value: &Value) -> Result<Vec<IpAddr>, String> {
    string_list(value)?.into_iter().map(parse_ip).collect()
}

/// A list of DNS names.
pub(super) fn name_list(value: &Value) -> Result<Vec<Fqdn>, String> {
    string_list(value)?.into_iter().map(Fqdn::parse).collect()
}

/// The trimmed entries of a JSON array of strings or of a comma-separated string. An entry that
/// is empty (`"a,,b"`, `["a", ""]`) is refused rather than skipped: it is likely a typo.
fn string_list(value: &Value) -> Result<Vec<&str>, String> {
    let entries: Vec<&str> = match value {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.trim().is_empty() => return Ok(Vec::new()),
        Value::String(s) => s.split(',').map(str::trim).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::trim).ok_or_else(not_a_list))
            .collect::<Result<_, _>>()?,
        _ => return Err(not_a_list()),
    };
    if entries.iter().any(|entry| entry.is_empty()) {
        return Err("contains an empty entry".to_string());
    }
    Ok(entries)
}

fn not_a_list() -> String {
    "must be a list of strings or a comma-separated string".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_dns_syntax() {
        let label = "a".repeat(MAX_LABEL_LEN);
        let longest = format!("{label}.{label}.{label}.{}", "b".repeat(61));
        assert_eq!(longest.len(), MAX_NAME_LEN);
        for ok in [
            "example.com",
            "example.com.",
            "localhost",
            "a-b.c1.io",
            "_dmarc.example.com",
            "xn--mnchen-3ya.de",
            "8.8.8.8",
            label.as_str(),
            longest.as_str(),
            &format!("{longest}."),
        ] {
            assert!(Fqdn::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "",
            ".",
            "example..com",
            ".example.com",
            "-example.com",
            "example-.com",
            "exa mple.com",
            "münchen.de",
            "2001:db8::1",
            "http://example.com",
            &"a".repeat(MAX_LABEL_LEN + 1),
            &format!("{longest}b"),
        ] {
            assert!(Fqdn::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn lists_come_as_arrays_or_comma_separated_strings() {
        let from_array = ip_list(&json!(["8.8.8.8", "2001:db8::1"])).unwrap();
        let from_string = ip_list(&json!("8.8.8.8, 2001:db8::1")).unwrap();
        assert_eq!(from_array, from_string);
        assert_eq!(from_array.len(), 2);
        assert_eq!(
            name_list(&json!("a.com,b.com")).unwrap(),
            name_list(&json!(["a.com", " b.com "])).unwrap()
        );
    }

    #[test]
    fn null_and_empty_strings_are_empty_lists() {
        for empty in [json!(null), json!(""), json!("  "), json!([])] {
            assert_eq!(ip_list(&empty).unwrap(), Vec::<IpAddr>::new());
        }
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(
            ip_list(&json!(["8.8.8.8", "8.8.8"])).unwrap_err(),
            "\"8.8.8\" is not an IPv4 or IPv6 address"
        );
        assert_eq!(
            name_list(&json!("a.com,,b.com")).unwrap_err(),
            "contains an empty entry"
        );
        assert_eq!(
            name_list(&json!(["a.com", 5])).unwrap_err(),
            "must be a list of strings or a comma-separated string"
        );
        assert!(ip_list(&json!({"ip": "8.8.8.8"})).is_err());
        assert!(ip_list(&json!(8)).is_err());
        assert!(name_list(&json!([["a.com"]])).is_err());
    }
}
