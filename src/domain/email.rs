//! E-mail addresses of accounts.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A syntactically valid e-mail address, trimmed and with its domain lower-cased, so that the
/// same mailbox cannot register twice by changing the case of the domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Longest address accepted (RFC 5321 path limit).
const MAX_LEN: usize = 254;

impl Email {
    /// Parses an address: `local@domain`, one `@`, a local part of printable non-space ASCII,
    /// a domain of at least two dot-separated labels of letters, digits and hyphens.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(format!("email must be 1 to {MAX_LEN} characters"));
        }
        let (local, domain) = raw
            .split_once('@')
            .ok_or_else(|| "email must contain '@'".to_string())?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_graphic() && !"@<>()[]\\,;:\"".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err("email has an invalid part before '@'".into());
        }
        if !is_domain(domain) {
            return Err("email has an invalid domain".into());
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

impl TryFrom<String> for Email {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_normalises_the_domain() {
        assert_eq!(
            Email::parse(" deramos@FI.uba.ar ").unwrap().as_str(),
            "deramos@fi.uba.ar"
        );
        assert!(Email::parse("a.b+tag@example.com").is_ok());
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@x.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@-b.com",
            "a@b.c",
            "a..b@c.com",
            "a@b.123",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
