//! Decoding [`ProbeMessage`] in one pass when `"type"` comes first.
//!
//! serde's derived decoder for an internally tagged enum cannot know the variant before it has
//! seen the tag, so it first copies the whole object into a tree of its own and decodes the
//! variant from that: a result's content would be built as a tree (and [`RawContent`] cannot be
//! decoded from such a copy at all). Every encoder we know of (serde's, this crate's
//! [`ProbeMessage::encode`]) writes the tag first; then the variant is decoded straight from the
//! text. An object with the tag elsewhere is still accepted: its fields are kept as raw text and
//! the object is written again with the tag first, never built into a tree.
//!
//! [`RawContent`]: crate::RawContent

use crate::{Accepted, Finished, Hello, ProbeMessage, ResultReport};
use serde::de::value::MapAccessDeserializer;
use serde::de::{Error, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The names of [`ProbeMessage`]'s variants on the wire.
const VARIANTS: &[&str] = &["hello", "accepted", "result", "finished"];

impl<'de> Deserialize<'de> for ProbeMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StreamedVisitor)
    }
}

struct StreamedVisitor;

impl<'de> Visitor<'de> for StreamedVisitor {
    type Value = ProbeMessage;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a probe message: an object with a `type` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProbeMessage, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(A::Error::missing_field("type"));
        };
        if first != "type" {
            return reordered(first, map);
        }
        let tag = map.next_value::<String>()?;
        let rest = MapAccessDeserializer::new(map);
        Ok(match tag.as_str() {
            "hello" => ProbeMessage::Hello(Hello::deserialize(rest)?),
            "accepted" => ProbeMessage::Accepted(Accepted::deserialize(rest)?),
            "result" => ProbeMessage::Result(ResultReport::deserialize(rest)?),
            "finished" => ProbeMessage::Finished(Finished::deserialize(rest)?),
            other => return Err(A::Error::unknown_variant(other, VARIANTS)),
        })
    }
}

/// The object whose first key is `first`, its fields kept as raw text (a repeated key keeps its
/// last value), written again with `type` first and decoded from that.
fn reordered<'de, A: MapAccess<'de>>(first: String, mut map: A) -> Result<ProbeMessage, A::Error> {
    let mut fields = BTreeMap::new();
    fields.insert(first, map.next_value::<Box<RawValue>>()?);
    while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
        fields.insert(key, value);
    }
    let tag = fields
        .remove("type")
        .ok_or_else(|| A::Error::missing_field("type"))?;
    let mut text = format!(r#"{{"type":{}"#, tag.get());
    for (key, value) in &fields {
        text.push(',');
        text.push_str(&serde_json::to_string(key).map_err(A::Error::custom)?);
        text.push(':');
        text.push_str(value.get());
    }
    text.push('}');
    serde_json::from_str(&text).map_err(A::Error::custom)
}

#[cfg(test)]
mod tests {
    use crate::ProbeMessage;

    /// What serde's derived decoder makes of `text`, with the content built as a tree, as JSON.
    fn derived(text: &str) -> Result<serde_json::Value, serde_json::Error> {
        use serde::{Deserialize, Serialize};
        #[derive(Deserialize, Serialize)]
        #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
        enum Derived {
            Hello(crate::Hello),
            Accepted(crate::Accepted),
            Result(TreeResult),
            Finished(crate::Finished),
        }
        #[derive(Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        struct TreeResult {
            operation_id: String,
            unique_code: String,
            format: crate::ContentFormat,
            content: serde_json::Value,
            measured_at: chrono::DateTime<chrono::Utc>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            error: Option<String>,
        }
        serde_json::from_str::<Derived>(text).and_then(serde_json::to_value)
    }

    /// `message` as JSON, to compare with [`derived`].
    fn tree(message: &ProbeMessage) -> serde_json::Value {
        serde_json::to_value(message).unwrap()
    }

    #[test]
    fn the_tag_may_come_anywhere() {
        let first = r#"{"type":"finished","operation_id":"a"}"#;
        let last = r#"{"operation_id":"a","type":"finished"}"#;
        let decoded = ProbeMessage::decode(first).unwrap();
        assert_eq!(ProbeMessage::decode(last).unwrap(), decoded);
        assert_eq!(derived(last).unwrap(), tree(&decoded));
    }

    #[test]
    fn a_result_with_its_tag_last_keeps_its_content_text() {
        let text = r#"{"content":[0, 1.5,{"a":null}],"format":"json","measured_at":"2026-01-01T00:00:00Z","operation_id":"o","unique_code":"u","type":"result"}"#;
        let ProbeMessage::Result(report) = ProbeMessage::decode(text).unwrap() else {
            panic!("not a result");
        };
        assert_eq!(report.content.get(), r#"[0, 1.5,{"a":null}]"#);
        assert_eq!(derived(text).unwrap(), tree(&ProbeMessage::Result(report)));
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
