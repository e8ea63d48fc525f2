//! A result's content between JSON text and BSON, without a tree on either way.
//!
//! MongoDB stores content as a real BSON value, queryable and shaped as the original's
//! unstructured documents. The text is transcoded (`serde_transcode`) from serde_json's streaming
//! parser straight into bson's raw serializer, and read back by walking the raw BSON and writing
//! JSON text: a 16 MiB `[0,0,…]` never becomes 8 million values.
//!
//! This is the one JSON↔BSON mapping of the MongoDB store (operation parameters go through it
//! too, see [`super::json`]). Each JSON type maps to one BSON type and back: integers are Int64
//! (past `i64::MAX` refused), other numbers Double, keys kept as they are (`{"$date": 5}` stays
//! a plain document, not a date; a key with NUL refused).

use bson::raw::{RawArray, RawDocument};
use bson::{RawBson, RawBsonRef};
use probe_protocol::RawContent;
use serde::Serialize;
use serde_json::de::StrRead;
use serde_transcode::Transcoder;

/// The key the content is serialised under: bson's serializer writes documents, not bare values.
const KEY: &str = "c";

/// The BSON value of a JSON text, or why it has none.
pub(super) fn to_bson(content: &RawContent) -> Result<RawBson, String> {
    #[derive(Serialize)]
    struct Wrapper<'a, 'de> {
        c: Transcoder<&'a mut serde_json::Deserializer<StrRead<'de>>>,
    }
    let mut parser = serde_json::Deserializer::from_str(content.get());
    let document = bson::to_raw_document_buf(&Wrapper {
        c: Transcoder::new(&mut parser),
    })
    .map_err(|e| e.to_string())?;
    let value = document
        .get(KEY)
        .map_err(|e| e.to_string())?
        .ok_or("no content was written")?;
    Ok(value.to_raw_bson())
}

/// The JSON text of a stored BSON value; an error for BSON that no JSON text produces.
pub(super) fn to_json(value: &RawBson) -> Result<RawContent, String> {
    let mut text = Vec::new();
    write_value(&mut text, value.as_raw_bson_ref())?;
    let text = String::from_utf8(text).map_err(|e| e.to_string())?;
    RawContent::from_text(text).map_err(|e| e.to_string())
}

fn write_value(out: &mut Vec<u8>, value: RawBsonRef<'_>) -> Result<(), String> {
    match value {
        RawBsonRef::Null => out.extend_from_slice(b"null"),
        RawBsonRef::Boolean(b) => scalar(out, &b)?,
        RawBsonRef::Int32(i) => scalar(out, &i)?,
        RawBsonRef::Int64(i) => scalar(out, &i)?,
        RawBsonRef::Double(f) if f.is_finite() => scalar(out, &f)?,
        RawBsonRef::Double(f) => return Err(format!("non-finite number {f}")),
        RawBsonRef::String(s) => scalar(out, &s)?,
        RawBsonRef::Array(items) => write_array(out, items)?,
        RawBsonRef::Document(doc) => write_document(out, doc)?,
        other => return Err(format!("unexpected BSON {:?}", other.element_type())),
    }
    Ok(())
}

fn write_array(out: &mut Vec<u8>, items: &RawArray) -> Result<(), String> {
    out.push(b'[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_value(out, item.map_err(|e| e.to_string())?)?;
    }
    out.push(b']');
    Ok(())
}

fn write_document(out: &mut Vec<u8>, doc: &RawDocument) -> Result<(), String> {
    out.push(b'{');
    for (i, element) in doc.into_iter().enumerate() {
        let (key, value) = element.map_err(|e| e.to_string())?;
        if i > 0 {
            out.push(b',');
        }
        scalar(out, &key)?;
        out.push(b':');
        write_value(out, value)?;
    }
    out.push(b'}');
    Ok(())
}

/// One scalar or key as JSON, through serde_json (escaping, number formatting).
fn scalar<T: Serialize>(out: &mut Vec<u8>, value: &T) -> Result<(), String> {
    serde_json::to_writer(out, value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(value: serde_json::Value) -> serde_json::Value {
        to_json(&to_bson(&value.into()).unwrap())
            .unwrap()
            .to_value()
    }

    #[test]
    fn extended_json_lookalikes_stay_plain_json() {
        let value = json!({
            "$numberLong": "5",
            "$date": 5,
            "$oid": "6047c91ef391a23bca4c31d8",
            "nested": [
                { "$numberDouble": "NaN" },
                { "$binary": { "base64": "", "subType": "00" } },
            ],
            "numbers": [0, -1, 1.0, 2.5e-300, i64::MAX, i64::MIN],
            "text": "quote \" backslash \\ é \u{1}",
        });
        let raw = to_bson(&value.clone().into()).unwrap();
        let doc = raw.as_document().unwrap();
        assert_eq!(doc.get_str("$numberLong").unwrap(), "5");
        assert_eq!(
            doc.get_array("numbers")
                .unwrap()
                .get(0)
                .unwrap()
                .unwrap()
                .as_i64(),
            Some(0)
        );
        assert_eq!(round_trip(value.clone()), value);
    }

    #[test]
    fn any_json_value_is_content() {
        for value in [
            json!(null),
            json!(true),
            json!(-3),
            json!(0.5),
            json!("x"),
            json!([]),
            json!({}),
        ] {
            assert_eq!(round_trip(value.clone()), value);
        }
    }

    #[test]
    fn values_without_bson_counterpart_are_refused() {
        let past_i64: RawContent = json!({ "n": u64::MAX }).into();
        assert!(to_bson(&past_i64)
            .unwrap_err()
            .contains(&u64::MAX.to_string()));
        let nul_key: RawContent = json!({ "a\u{0}b": 1 }).into();
        assert!(to_bson(&nul_key).is_err());
        assert!(to_json(&RawBson::ObjectId(bson::oid::ObjectId::new())).is_err());
    }
}
