//! Decoding [`ProbeMessage`] in one pass when `"type"` comes first.
//!
//! serde's derived decoder for an internally tagged enum cannot know the variant before it has
//! seen the tag, so it first copies the whole object into a buffer of its own and decodes the
//! variant from that: for a result, the measurement content is built twice. Every encoder we know
//! of (serde's, this crate's [`ProbeMessage::encode`]) writes the tag first; then the variant is
//! decoded straight from the text. An object with the tag elsewhere is still accepted, through
//! the derived decoder.

use crate::{Accepted, Finished, Hello, ProbeMessage, ResultReport};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use std::fmt;

/// The names of [`ProbeMessage`]'s variants on the wire.
const VARIANTS: &[&str] = &["hello", "accepted", "result", "finished"];

/// A [`ProbeMessage`] decoded by [`StreamedVisitor`].
pub(crate) struct Streamed(pub(crate) ProbeMessage);

impl<'de> Deserialize<'de> for Streamed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StreamedVisitor)
    }
}

struct StreamedVisitor;

impl<'de> Visitor<'de> for StreamedVisitor {
    type Value = Streamed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a probe message: an object with a `type` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Streamed, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("type"));
        };
        if first != "type" {
            return buffered(first, map);
        }
        let tag = map.next_value::<String>()?;
        let rest = MapAccessDeserializer::new(map);
        let message = match tag.as_str() {
            "hello" => ProbeMessage::Hello(Hello::deserialize(rest)?),
            "accepted" => ProbeMessage::Accepted(Accepted::deserialize(rest)?),
            "result" => ProbeMessage::Result(ResultReport::deserialize(rest)?),
            "finished" => ProbeMessage::Finished(Finished::deserialize(rest)?),
            other => return Err(A::Error::unknown_variant(other, VARIANTS)),
        };
        Ok(Streamed(message))
    }
}

/// The object whose first key is `first`, decoded by the derived decoder.
fn buffered<'de, A: MapAccess<'de>>(first: String, mut map: A) -> Result<Streamed, A::Error> {
    let mut object = Map::new();
    object.insert(first, map.next_value()?);
    while let Some((key, value)) = map.next_entry::<String, Value>()? {
        object.insert(key, value);
    }
    ProbeMessage::deserialize(Value::Object(object))
        .map(Streamed)
        .map_err(A::Error::custom)
}

#[cfg(test)]
mod tests {
    use crate::ProbeMessage;

    /// What the derived decoder alone makes of `text`.
    fn derived(text: &str) -> Result<ProbeMessage, serde_json::Error> {
        serde_json::from_str(text)
    }

    #[test]
    fn the_tag_may_come_anywhere() {
        let first = r#"{"type":"finished","operation_id":"a"}"#;
        let last = r#"{"operation_id":"a","type":"finished"}"#;
        let decoded = ProbeMessage::decode(first).unwrap();
        assert_eq!(ProbeMessage::decode(last).unwrap(), decoded);
        assert_eq!(derived(last).unwrap(), decoded);
    }

    #[test]
    fn refusals_match_the_derived_decoder() {
        for text in [
            r#"{}"#,
            r#"{"type":"bye"}"#,
            r#"{"type":7}"#,
            r#"{"type":"accepted"}"#,
            r#"{"type":"accepted","operation_id":"a","extra":1}"#,
            r#"{"operation_id":"a","type":"accepted","extra":1}"#,
            r#"{"type":"hello","protocol":"one"}"#,
            r#"[]"#,
            r#""hello""#,
        ] {
            assert!(ProbeMessage::decode(text).is_err(), "{text}");
            assert!(derived(text).is_err(), "{text}");
        }
    }

    #[test]
    fn refusals_name_the_field() {
        let missing = ProbeMessage::decode(r#"{"type":"accepted"}"#).unwrap_err();
        assert!(missing.to_string().contains("operation_id"), "{missing}");
        let unknown = ProbeMessage::decode(r#"{"type":"bye"}"#).unwrap_err();
        assert!(unknown.to_string().contains("bye"), "{unknown}");
        let extra =
            ProbeMessage::decode(r#"{"type":"finished","operation_id":"a","x":1}"#).unwrap_err();
        assert!(extra.to_string().contains("`x`"), "{extra}");
    }
}
