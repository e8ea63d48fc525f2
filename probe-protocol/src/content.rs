//! A result's `content` as the JSON text the probe sent.
//!
//! A measurement's output can be as large as a frame (16 MiB by default). Built into a tree of
//! `serde_json::Value`s, a 16 MiB `[0,0,…]` becomes about 8 million values, 0.25–0.6 GiB: one
//! frame would cost the coordinator forty times its size. [`RawContent`] keeps the text instead:
//! decoding checks that it is one well-formed JSON value in a single streaming pass (serde_json's
//! `RawValue`) and copies it once, and encoding writes it back unchanged.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;

/// One JSON value kept as its text: validated, never built into a tree.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawContent(Box<RawValue>);

impl RawContent {
    /// The content of `text`, if it is exactly one JSON value.
    pub fn from_text(text: String) -> Result<Self, serde_json::Error> {
        RawValue::from_string(text).map(Self)
    }

    /// The content whose value is `value` (its compact text).
    pub fn from_value(value: &Value) -> Self {
        Self(serde_json::value::to_raw_value(value).expect("a JSON value always serialises"))
    }

    /// The JSON text, exactly as received.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// Length of the text in bytes: what the content weighs in memory and on disk.
    pub fn len(&self) -> usize {
        self.0.get().len()
    }

    /// Always false: the text of a JSON value is never empty.
    pub fn is_empty(&self) -> bool {
        self.0.get().is_empty()
    }

    /// The content as a tree. Only for small contents the caller made or trusts (the reference
    /// probe, tests): the coordinator never builds one from a probe's content.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.get()).expect("raw content is valid JSON")
    }
}

impl From<Value> for RawContent {
    fn from(value: Value) -> Self {
        Self::from_value(&value)
    }
}

/// Equal when the texts are: what travels and is stored is the text.
impl PartialEq for RawContent {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl fmt::Debug for RawContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 200;
        let text = self.get();
        match text.char_indices().nth(SHOWN) {
            None => f.write_str(text),
            Some((end, _)) => write!(f, "{}… ({} bytes)", &text[..end], text.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_is_kept_exactly_and_compared_as_text() {
        let content: RawContent = serde_json::from_str(r#"[ 1.0, {"b":2, "a":1} ]"#).unwrap();
        assert_eq!(content.get(), r#"[ 1.0, {"b":2, "a":1} ]"#);
        assert_eq!(serde_json::to_string(&content).unwrap(), content.get());
        assert_eq!(content.to_value(), json!([1.0, {"a": 1, "b": 2}]));
        assert_eq!(
            RawContent::from(json!([1])),
            RawContent::from_text("[1]".into()).unwrap()
        );
    }

    #[test]
    fn anything_but_one_json_value_is_refused() {
        for text in ["", "[1", "1 2", "{\"a\":}", "nul"] {
            assert!(RawContent::from_text(text.into()).is_err(), "{text}");
            assert!(serde_json::from_str::<RawContent>(text).is_err(), "{text}");
        }
    }
}
