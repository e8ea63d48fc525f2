//! JSON values (operation parameters) as BSON and back, exactly. Result content, which can be
//! as large as a frame, goes through [`super::content`] instead, without a tree.
//!
//! serde's route through [`Bson`] reads an object such as `{"$numberLong": "5"}` or
//! `{"$date": 5}` as extended JSON and turns it into a number or a date, so such a value in a
//! probe's output or in operation parameters would come back changed. Here each JSON type maps
//! to one BSON type and back, keys are kept as they are, a value without an exact BSON
//! counterpart is refused, and documents carry the value as raw BSON, which serde passes through
//! untouched.

use bson::{Bson, Document, RawDocumentBuf};
use serde_json::{Map, Number, Value};

/// The raw BSON document for a JSON object.
pub(super) fn to_raw_document(map: &Map<String, Value>) -> Result<RawDocumentBuf, String> {
    RawDocumentBuf::from_document(&to_document(map)?).map_err(|e| e.to_string())
}

/// The JSON object stored as `raw`.
pub(super) fn from_raw_document(raw: RawDocumentBuf) -> Result<Map<String, Value>, String> {
    from_document(Document::try_from(raw).map_err(|e| e.to_string())?)
}

/// The BSON for `value`, or why it has none.
fn to_bson(value: &Value) -> Result<Bson, String> {
    Ok(match value {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => number_to_bson(n)?,
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(items.iter().map(to_bson).collect::<Result<_, _>>()?),
        Value::Object(map) => Bson::Document(to_document(map)?),
    })
}

/// The BSON document for a JSON object.
fn to_document(map: &Map<String, Value>) -> Result<Document, String> {
    map.iter()
        .map(|(key, value)| {
            // BSON keys are NUL-terminated.
            if key.contains('\0') {
                return Err(format!("key {key:?} contains a NUL character"));
            }
            Ok((key.clone(), to_bson(value)?))
        })
        .collect()
}

fn number_to_bson(n: &Number) -> Result<Bson, String> {
    if let Some(i) = n.as_i64() {
        return Ok(Bson::Int64(i));
    }
    if n.is_u64() {
        return Err(format!("integer {n} is past BSON's 64-bit signed range"));
    }
    n.as_f64()
        .map(Bson::Double)
        .ok_or_else(|| format!("number {n} has no BSON counterpart"))
}

/// The JSON value stored as `bson`; an error for BSON that no JSON value produces.
fn from_bson(bson: Bson) -> Result<Value, String> {
    Ok(match bson {
        Bson::Null => Value::Null,
        Bson::Boolean(b) => Value::Bool(b),
        Bson::Int32(i) => Value::from(i),
        Bson::Int64(i) => Value::from(i),
        Bson::Double(f) => Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("non-finite number {f}"))?,
        Bson::String(s) => Value::String(s),
        Bson::Array(items) => {
            Value::Array(items.into_iter().map(from_bson).collect::<Result<_, _>>()?)
        }
        Bson::Document(doc) => Value::Object(from_document(doc)?),
        other => return Err(format!("unexpected BSON {:?}", other.element_type())),
    })
}

/// The JSON object stored as `doc`.
fn from_document(doc: Document) -> Result<Map<String, Value>, String> {
    doc.into_iter()
        .map(|(key, value)| Ok((key, from_bson(value)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        });
        let map = value.as_object().unwrap();
        let raw = to_raw_document(map).unwrap();
        assert_eq!(raw.get_str("$numberLong").unwrap(), "5");
        assert_eq!(&from_raw_document(raw).unwrap(), map);
    }

    #[test]
    fn values_without_bson_counterpart_are_refused() {
        assert!(to_bson(&json!(u64::MAX)).unwrap_err().contains("64-bit"));
        assert!(to_bson(&json!({ "a\u{0}b": 1 }))
            .unwrap_err()
            .contains("NUL"));
        assert!(from_bson(Bson::ObjectId(bson::oid::ObjectId::new())).is_err());
    }
}
