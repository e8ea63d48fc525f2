//! Reading named parameters out of the owner's JSON object: unknown names are refused up front,
//! and every value error is tagged with the name it came from.

use super::error::{echo, ParamError};
use serde_json::{Map, Value};

/// Parameters every kind accepts: the schedule, and `result_format`, which the swagger's ping
/// example puts inside `params` (the coordinator reads the top-level one; this one is ignored).
const COMMON: [&str; 4] = ["cron", "stop_time", "times_per_minute", "result_format"];

/// The owner's parameter object, checked to hold only names the operation kind knows.
pub(super) struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Refuses the first name that is neither common nor in `known`; `kind` names the operation
    /// in the message.
    pub(super) fn new(
        map: &'a Map<String, Value>,
        kind: &str,
        known: &[&str],
    ) -> Result<Self, ParamError> {
        let is_known = |key: &str| COMMON.contains(&key) || known.contains(&key);
        match map.keys().find(|key| !is_known(key)) {
            None => Ok(Self { map }),
            Some(key) => Err(unknown(key, kind, known)),
        }
    }

    /// The value of a mandatory parameter, parsed.
    pub(super) fn required<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<T, ParamError> {
        match self.map.get(key) {
            Some(value) => parse(value).map_err(|rule| ParamError::new(key, rule)),
            None => Err(ParamError::new(key, "is required")),
        }
    }

    /// The value of an optional parameter, parsed, or `None` when the name is absent.
    pub(super) fn optional<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, ParamError> {
        self.map
            .get(key)
            .map(|value| parse(value).map_err(|rule| ParamError::new(key, rule)))
            .transpose()
    }
}

/// The error for an unknown name, with a hint when only case or `_` versus `-` is off
/// (`wait_probe` for `wait-probe`), the likeliest slip when typing the object by hand.
fn unknown(key: &str, kind: &str, known: &[&str]) -> ParamError {
    let loose = |name: &str| name.to_ascii_lowercase().replace('_', "-");
    let hint = COMMON
        .iter()
        .chain(known)
        .find(|name| loose(name) == loose(key))
        .map(|name| format!(" (did you mean {name:?}?)"))
        .unwrap_or_default();
    ParamError::new(echo(key), format!("unknown parameter for {kind}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn unknown_names_are_refused_with_a_hint_for_near_misses() {
        let params = map(json!({"cron": "* * * * *", "foo": 1}));
        let error = Fields::new(&params, "traceroute", &["maxttl"])
            .err()
            .unwrap();
        assert_eq!(
            error.to_string(),
            "params.foo: unknown parameter for traceroute"
        );

        let params = map(json!({"Wait_Probe": 1}));
        let error = Fields::new(&params, "traceroute", &["wait-probe"])
            .err()
            .unwrap();
        assert_eq!(error.field(), "Wait_Probe");
        assert!(error.message().ends_with("(did you mean \"wait-probe\"?)"));
    }

    #[test]
    fn common_names_are_known_to_every_kind() {
        let params = map(json!({
            "cron": "", "stop_time": "", "times_per_minute": 1, "result_format": "json"
        }));
        assert!(Fields::new(&params, "dns", &[]).is_ok());
    }

    #[test]
    fn required_and_optional_name_the_field() {
        let params = map(json!({"a": 1}));
        let fields = Fields::new(&params, "ping", &["a", "b"]).unwrap();
        let fail = |_: &Value| Err::<(), _>("is wrong".to_string());
        assert_eq!(fields.required("b", fail).unwrap_err().field(), "b");
        assert_eq!(
            fields.required("b", fail).unwrap_err().message(),
            "is required"
        );
        assert_eq!(
            fields.optional("a", fail).unwrap_err().to_string(),
            "params.a: is wrong"
        );
        assert_eq!(fields.optional("b", fail).unwrap(), None);
    }
}
