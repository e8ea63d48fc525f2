//! Scalar parameter values: bounded integers, the confidence fraction, keyword choices,
//! addresses and switches, each read from whatever JSON a user types for it.
//!
//! Numbers may come as JSON numbers or as strings holding one (the original validated with
//! Python's `float(param)`); integers may not have a fractional part; booleans, `null`, arrays
//! and objects are never numbers.

use super::error::echo;
use serde_json::Value;
use std::net::IpAddr;

/// An integer in `MIN..=MAX`. Holding one means the range was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ranged<const MIN: u16, const MAX: u16>(u16);

impl<const MIN: u16, const MAX: u16> Ranged<MIN, MAX> {
    /// `value`, if it lies in `MIN..=MAX`.
    pub fn new(value: u16) -> Option<Self> {
        (MIN..=MAX).contains(&value).then_some(Self(value))
    }

    /// The integer.
    pub fn get(self) -> u16 {
        self.0
    }

    pub(super) fn from_json(value: &Value) -> Result<Self, String> {
        number(value)
            .filter(|n| n.fract() == 0.0 && (f64::from(MIN)..=f64::from(MAX)).contains(n))
            .and_then(|n| Self::new(n as u16))
            .ok_or_else(|| format!("must be an integer between {MIN} and {MAX}"))
    }
}

/// A TCP/UDP port: "greater than zero" in the reference, at most 65535 on the wire.
pub type Port = Ranged<1, 65535>;
/// An IP TTL or hop number: "greater than zero" or 1–255, at most 255 on the wire.
pub type Ttl = Ranged<1, 255>;

/// scamper trace's `-c` confidence level, a fraction in `0..=0.99`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Confidence(f64);

impl Confidence {
    /// The fraction.
    pub fn get(self) -> f64 {
        self.0
    }

    pub(super) fn from_json(value: &Value) -> Result<Self, String> {
        number(value)
            .filter(|n| (0.0..=0.99).contains(n))
            .map(Self)
            .ok_or_else(|| "must be a number between 0 and 0.99".to_string())
    }
}

/// A finite number from a JSON number or a string holding one (surrounding spaces allowed).
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// A parameter whose value is one of a fixed set of words, spelt exactly (lower case).
pub(crate) trait Keyword: Copy + 'static {
    /// Every value, in the order the error message lists them.
    const ALL: &'static [Self];

    /// The word as users write it and as the measurement tool takes it.
    fn word(self) -> &'static str;
}

/// Declares a [`Keyword`] enum with its `as_str`, `ALL` and `Display`, so that the words are
/// written once.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident => $word:literal,)+ }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// Every value, in the order error messages list them.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The word as users write it and as the measurement tool takes it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word,)+ }
            }
        }

        impl $crate::params::values::Keyword for $name {
            const ALL: &'static [Self] = Self::ALL;

            fn word(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(super) fn keyword<K: Keyword>(value: &Value) -> Result<K, String> {
    value
        .as_str()
        .and_then(|word| K::ALL.iter().copied().find(|k| k.word() == word))
        .ok_or_else(|| {
            let words: Vec<String> = K::ALL.iter().map(|k| format!("{:?}", k.word())).collect();
            format!("must be one of {}", words.join(", "))
        })
}

/// An IPv4 or IPv6 literal in a string.
pub(super) fn ip_address(value: &Value) -> Result<IpAddr, String> {
    let text = value
        .as_str()
        .ok_or("must be a string holding an IPv4 or IPv6 address")?;
    parse_ip(text)
}

/// `text` (surrounding spaces allowed) as an address, or the rule naming what was wrong.
pub(super) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("\"{}\" is not an IPv4 or IPv6 address", echo(text)))
}

/// A switch (dig's `-4`, `-6`): present means on. It takes no value, so only `""` and `null`
/// are accepted; `true`, `"yes"` and the like are refused rather than guessed at.
pub(super) fn switch(value: &Value) -> Result<(), String> {
    match value {
        Value::Null => Ok(()),
        Value::String(s) if s.is_empty() => Ok(()),
        _ => Err("is a switch and takes no value (give \"\" or null)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ranged_accepts_its_edges_as_numbers_and_strings() {
        type Attempts = Ranged<1, 10>;
        for ok in [
            json!(1),
            json!(10),
            json!("1"),
            json!(" 10 "),
            json!(5.0),
            json!("5.0"),
        ] {
            assert!(Attempts::from_json(&ok).is_ok(), "{ok} refused");
        }
        assert_eq!(Attempts::from_json(&json!("7")).unwrap().get(), 7);
    }

    #[test]
    fn ranged_refuses_past_its_edges_and_non_integers() {
        type Attempts = Ranged<1, 10>;
        for bad in [
            json!(0),
            json!(11),
            json!(-1),
            json!(1.5),
            json!("2.5"),
            json!(true),
            json!(null),
            json!([1]),
            json!({"v": 1}),
            json!("NaN"),
            json!("inf"),
            json!("1e400"),
            json!(""),
            json!("ten"),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("99999999999999999999999999999999"),
        ] {
            assert_eq!(
                Attempts::from_json(&bad).unwrap_err(),
                "must be an integer between 1 and 10",
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn ranged_new_checks_the_range() {
        assert_eq!(Port::new(0), None);
        assert_eq!(Port::new(65535).map(Port::get), Some(65535));
        assert_eq!(Ttl::new(256), None);
    }

    #[test]
    fn confidence_takes_numbers_and_numeric_strings_in_range() {
        for ok in [json!(0), json!(0.99), json!("0.5"), json!(0.0)] {
            assert!(Confidence::from_json(&ok).is_ok(), "{ok} refused");
        }
        for bad in [
            json!(-0.01),
            json!(0.991),
            json!(1),
            json!("NaN"),
            json!(false),
        ] {
            assert_eq!(
                Confidence::from_json(&bad).unwrap_err(),
                "must be a number between 0 and 0.99"
            );
        }
    }

    #[test]
    fn addresses_are_ip_literals() {
        assert!(ip_address(&json!("8.8.8.8")).is_ok());
        assert!(ip_address(&json!("2001:db8::1")).is_ok());
        assert!(ip_address(&json!(" ::1 ")).is_ok());
        assert_eq!(
            ip_address(&json!("1.2.3")).unwrap_err(),
            "\"1.2.3\" is not an IPv4 or IPv6 address"
        );
        assert!(ip_address(&json!(1234)).is_err());
        assert!(ip_address(&json!("example.com")).is_err());
    }

    #[test]
    fn switches_take_no_value() {
        assert!(switch(&json!("")).is_ok());
        assert!(switch(&json!(null)).is_ok());
        for bad in [json!(true), json!(" "), json!("yes"), json!(1), json!([])] {
            assert!(switch(&bad)
                .unwrap_err()
                .starts_with("is a switch and takes no value"));
        }
    }
}
