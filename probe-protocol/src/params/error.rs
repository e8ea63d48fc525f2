//! The one error type of parameter parsing: which parameter, and which rule it breaks.

/// A parameter breaks a rule. Displays as `params.<field>: <rule>`, e.g.
/// `params.maxttl: must be an integer between 1 and 255`, which is what the coordinator answers
/// in its 400 response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("params.{field}: {rule}")]
pub struct ParamError {
    field: String,
    rule: String,
}

impl ParamError {
    pub(crate) fn new(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// The parameter's name as the user spelt it (`"wait-probe"`, not `wait_probe`). Unknown
    /// names longer than [`MAX_ECHOED_CHARS`] are cut short.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The rule the value breaks, without the `params.<field>: ` prefix.
    pub fn message(&self) -> &str {
        &self.rule
    }
}

/// How many characters of a user's text an error message repeats: enough to recognise it,
/// short enough that a megabyte of junk does not come back in the response.
pub const MAX_ECHOED_CHARS: usize = 64;

/// `text` cut to [`MAX_ECHOED_CHARS`], with control characters escaped.
pub fn echo(text: &str) -> String {
    let mut shown: String = text
        .chars()
        .take(MAX_ECHOED_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX_ECHOED_CHARS).is_some() {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_field_and_rule() {
        let error = ParamError::new("maxttl", "must be an integer between 1 and 255");
        assert_eq!(
            error.to_string(),
            "params.maxttl: must be an integer between 1 and 255"
        );
        assert_eq!(error.field(), "maxttl");
        assert_eq!(error.message(), "must be an integer between 1 and 255");
    }

    #[test]
    fn echo_cuts_long_text_and_escapes_control_characters() {
        assert_eq!(echo("a\nb"), "a\\nb");
        let long = "x".repeat(1000);
        assert_eq!(echo(&long).chars().count(), MAX_ECHOED_CHARS + 1);
        assert_eq!(echo(&"y".repeat(MAX_ECHOED_CHARS)), "y".repeat(64));
    }
}
