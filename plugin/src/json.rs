//! Reading documents that may have passed through Igor's XML database,
//! which turns numeric-looking strings into numbers, one-element lists into
//! scalars and empty values into `{}`.

use serde_json::{Map, Value};

/// A value as a string: strings as they are, numbers and booleans printed;
/// empty objects and null are "no value".
pub fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field of an object as text, treating `""` like absence.
pub fn text_field(object: &Value, key: &str) -> Option<String> {
    object
        .get(key)
        .and_then(as_text)
        .filter(|s| !s.trim().is_empty())
}

/// A field of a token or settings map as text, `""` counting as absent.
pub fn field(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(as_text).filter(|s| !s.is_empty())
}

/// A value as a number (numbers, or strings holding one).
pub fn as_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list, accepting a lone element in place of a one-element list.
pub fn as_list(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        Value::Null => &[],
        Value::Object(o) if o.is_empty() => &[],
        other => std::slice::from_ref(other),
    }
}

/// A document as an object, taken without a copy; an empty one for
/// anything else (Igor's `{}`).
pub fn into_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(o) => o,
        _ => Map::new(),
    }
}

/// An object, or an empty one for anything else (Igor's `{}` or absence).
pub fn as_object(value: Option<&Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(o)) => o.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn copes_with_igor_conversions() {
        assert_eq!(as_text(&json!(227123)), Some("227123".into()));
        assert_eq!(as_text(&json!("22ABCD")), Some("22ABCD".into()));
        assert_eq!(as_text(&json!({})), None);
        assert_eq!(text_field(&json!({"methods": ""}), "methods"), None);
        assert_eq!(text_field(&json!({"methods": {}}), "methods"), None);
        assert_eq!(as_list(&json!({"a": 1})).len(), 1);
        assert_eq!(as_list(&json!([1, 2])).len(), 2);
        assert_eq!(as_list(&json!({})).len(), 0);
        assert_eq!(as_f64(&json!("1.5e9")), Some(1.5e9));
    }
}
