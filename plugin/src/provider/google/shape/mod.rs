//! The shapes of Google Health API answers, checked as they are read.
//!
//! Every answer is decoded into the typed messages of the API's discovery
//! document (`points`, `rollups`, `account`); an answer of another shape (a
//! string where a number belongs, a data point without its data-type field,
//! an envelope with none of its fields) is a [`ShapeError`] naming where it
//! went wrong, which the methods turn into a 502 that stores nothing.
//! Unknown fields are ignored, as proto3 JSON readers do.

mod account;
mod points;
mod rollups;

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _, Visitor};
use serde_json::Value;

use crate::dates::Date;

pub use account::*;
pub use points::*;
pub use rollups::*;

/// An answer that does not have the documented shape: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError(pub String);

impl ShapeError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Decodes `value` as `T`, naming the path of the first mismatch.
pub fn decode<T: DeserializeOwned>(value: &Value) -> Result<T, ShapeError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        if path == "." {
            ShapeError(err.inner().to_string())
        } else {
            ShapeError(format!("{path}: {}", err.inner()))
        }
    })
}

/// Decodes an answer that must be an object with at least one of `known`
/// fields unless it is empty (proto3 JSON omits empty lists and default
/// values, so `{}` is a valid empty answer; `{"weight": "lots"}` is not).
pub fn decode_answer<T: DeserializeOwned>(value: &Value, known: &[&str]) -> Result<T, ShapeError> {
    let Some(object) = value.as_object() else {
        return Err(ShapeError(format!(
            "expected a JSON object, found {}",
            kind(value)
        )));
    };
    if !object.is_empty() && !object.keys().any(|k| known.contains(&k.as_str())) {
        let keys: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(ShapeError(format!(
            "none of the expected fields ({}) but {}",
            known.join(", "),
            keys.join(", ")
        )));
    }
    decode(value)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A proto3 JSON `int64`: a string of digits (as Google writes it) or a
/// whole number (as proto3 readers also accept).
struct Int64;

impl Visitor<'_> for Int64 {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an int64 (a string of digits or a whole number)")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<i64, E> {
        text.trim()
            .parse()
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Str(text), &self))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<i64, E> {
        Ok(n)
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<i64, E> {
        i64::try_from(n).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(n), &self))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<i64, E> {
        if n.fract() == 0.0 && n.abs() < 9.0e15 {
            Ok(n as i64)
        } else {
            Err(E::invalid_value(serde::de::Unexpected::Float(n), &self))
        }
    }
}

/// `#[serde(deserialize_with = "int64")]` for a required int64 field.
pub fn int64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(Int64)
}

/// `#[serde(default, deserialize_with = "opt_int64")]` for an optional one.
pub fn opt_int64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let value = Option::<Value>::deserialize(d)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.deserialize_any(Int64).map(Some).map_err(D::Error::custom),
    }
}

/// A `google.type.Date` (`{year, month, day}`; zero fields omitted).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct DateParts {
    #[serde(default)]
    pub year: i32,
    #[serde(default)]
    pub month: u32,
    #[serde(default)]
    pub day: u32,
}

impl DateParts {
    /// The calendar date, or an error for an incomplete or impossible one.
    pub fn date(self) -> Result<Date, ShapeError> {
        let date = Date {
            year: self.year,
            month: self.month,
            day: self.day,
        };
        Date::parse(&date.to_string())
            .ok_or_else(|| ShapeError(format!("{date:?} is not a calendar date")))
    }
}

/// A time of day (zero fields omitted, so midnight is `{}`).
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct TimeOfDay {
    #[serde(default)]
    pub hours: u32,
    #[serde(default)]
    pub minutes: u32,
    #[serde(default)]
    pub seconds: u32,
}

/// A `CivilDateTime`: a date and an optional time of day.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct CivilDateTime {
    pub date: DateParts,
    #[serde(default)]
    pub time: TimeOfDay,
}

/// The page token of an answer: absent or empty on the last page.
pub fn next_page(token: &Option<String>) -> Option<String> {
    token.clone().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Counted {
        #[serde(deserialize_with = "int64")]
        count: i64,
        #[serde(default, deserialize_with = "opt_int64")]
        extra: Option<i64>,
    }

    #[test]
    fn int64_reads_strings_and_whole_numbers_only() {
        let ok: Counted = decode(&json!({"count": "8012", "extra": 3})).unwrap();
        assert_eq!((ok.count, ok.extra), (8012, Some(3)));
        let absent: Counted = decode(&json!({"count": 1.0})).unwrap();
        assert_eq!(absent.extra, None);
        let err = decode::<Counted>(&json!({"count": "lots"})).unwrap_err();
        assert!(err.0.starts_with("count: invalid value"), "{err:?}");
        let err = decode::<Counted>(&json!({"count": 1, "extra": 2.5})).unwrap_err();
        assert!(err.0.starts_with("extra:"), "{err:?}");
    }

    #[test]
    fn answers_need_one_known_field_unless_empty() {
        let known = ["count"];
        assert!(decode_answer::<Counted>(&json!({"count": "1", "new": 2}), &known).is_ok());
        let err = decode_answer::<Counted>(&json!({"weight": "lots"}), &known).unwrap_err();
        assert!(err.0.contains("weight"), "{err:?}");
        let err = decode_answer::<Counted>(&json!([1]), &known).unwrap_err();
        assert!(err.0.contains("a list"), "{err:?}");
    }

    #[test]
    fn dates_are_checked() {
        let d: DateParts = decode(&json!({"year": 2026, "month": 2, "day": 28})).unwrap();
        assert_eq!(d.date().unwrap().to_string(), "2026-02-28");
        let d: DateParts = decode(&json!({"year": 2026, "month": 2, "day": 30})).unwrap();
        assert!(d.date().is_err());
        assert!(decode::<DateParts>(&json!({"year": "2026"})).is_err());
    }
}
