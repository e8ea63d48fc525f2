//! Operation parameters (a JSON object) as a BSON document and back, through the one JSON↔BSON
//! mapping of [`super::content`].
//!
//! serde's route through [`bson::Bson`] reads an object such as `{"$numberLong": "5"}` or
//! `{"$date": 5}` as extended JSON and turns it into a number or a date, so such a value in
//! operation parameters would come back changed. Parameters take the same exact mapping as
//! result content instead, so the rules (which JSON type becomes which BSON type, what is
//! refused) live in one place. Documents carry the value as raw BSON, which serde passes
//! through untouched.

use super::content;
use bson::{RawBson, RawDocumentBuf};
use probe_protocol::RawContent;
use serde_json::{Map, Value};

/// The raw BSON document for a JSON object.
pub(super) fn to_raw_document(map: &Map<String, Value>) -> Result<RawDocumentBuf, String> {
    let text = serde_json::to_string(map).map_err(|e| e.to_string())?;
    let object = RawContent::from_text(text).map_err(|e| e.to_string())?;
    match content::to_bson(&object)? {
        RawBson::Document(document) => Ok(document),
        other => Err(format!(
            "a JSON object became BSON {:?}",
            other.element_type()
        )),
    }
}

/// The JSON object stored as `raw`.
pub(super) fn from_raw_document(raw: RawDocumentBuf) -> Result<Map<String, Value>, String> {
    let text = content::to_json(&RawBson::Document(raw))?;
    serde_json::from_str(text.get()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_round_trip_as_a_document_by_the_content_rules() {
        let params = json!({ "count": 3, "interval": 0.5, "$date": 5, "to": ["a", null] });
        let map = params.as_object().unwrap();
        let raw = to_raw_document(map).unwrap();
        assert_eq!(raw.get_i64("count").unwrap(), 3);
        assert_eq!(raw.get_i64("$date").unwrap(), 5);
        assert_eq!(&from_raw_document(raw).unwrap(), map);
        let past_i64 = json!({ "n": u64::MAX });
        assert!(to_raw_document(past_i64.as_object().unwrap()).is_err());
    }
}
