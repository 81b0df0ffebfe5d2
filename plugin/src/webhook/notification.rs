//! What a notification says: whose data of which type changed, and how.
//! The payload carries no values (they are fetched with a list call). The
//! envelope differs between sources, so a body may be one notification or
//! a JSON array of them, each `{"data": {...}}` or the inner object itself.

use serde::Deserialize;
use serde_json::Value;

/// Most notifications taken from one body.
pub const MAX_PER_BODY: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub health_user_id: String,
    pub data_type: String,
    #[serde(default)]
    pub operation: Operation,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Operation {
    #[default]
    Upsert,
    Delete,
}

/// Whether `body` is the subscriber verification, `{"type":"verification"}`.
pub fn is_verification(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|value| value.get("type").and_then(Value::as_str) == Some("verification"))
}

/// The notifications in `body`; Err says what is wrong with it.
pub fn parse(body: &[u8]) -> Result<Vec<Notification>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let items = match value {
        Value::Array(items) => items,
        one => vec![one],
    };
    if items.len() > MAX_PER_BODY {
        return Err(format!(
            "more than {MAX_PER_BODY} notifications in one body"
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let inner = match item.get("data") {
                Some(data) if data.is_object() => data.clone(),
                _ => item,
            };
            serde_json::from_value::<Notification>(inner)
                .map_err(|e| format!("notification {}: {e}", i + 1))
                .and_then(check)
        })
        .collect()
}

/// Ids and types are short printable names; anything else is not Google's.
fn check(n: Notification) -> Result<Notification, String> {
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !plain(&n.health_user_id) || !plain(&n.data_type) {
        return Err("healthUserId and dataType must be short plain names".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const INNER: &str = r#"{"version":"1","clientProvidedSubscriptionName":"igor",
        "healthUserId":"111","operation":"DELETE","dataType":"weight",
        "intervals":[{"physicalTimeInterval":{"startTime":"2026-12-01T07:00:00Z",
        "endTime":"2026-12-01T07:00:00Z"}}]}"#;

    #[test]
    fn every_envelope_reads_the_same() {
        let expected = vec![Notification {
            health_user_id: "111".into(),
            data_type: "weight".into(),
            operation: Operation::Delete,
        }];
        let wrapped = format!(r#"{{"data":{INNER}}}"#);
        for body in [
            INNER.to_string(),
            wrapped.clone(),
            format!("[{wrapped}]"),
            format!("[{INNER}]"),
        ] {
            assert_eq!(parse(body.as_bytes()).unwrap(), expected, "{body}");
        }
    }

    #[test]
    fn bad_bodies_say_why() {
        assert!(parse(b"nope").unwrap_err().contains("not JSON"));
        assert!(
            parse(br#"{"data":{"dataType":"weight"}}"#)
                .unwrap_err()
                .contains("healthUserId")
        );
        assert!(parse(br#"{"healthUserId":"a b","dataType":"weight"}"#).is_err());
        assert!(parse(br#"{"healthUserId":"1","dataType":"weight","operation":"X"}"#).is_err());
        let many = format!("[{}]", vec![INNER; MAX_PER_BODY + 1].join(","));
        assert!(parse(many.as_bytes()).is_err());
    }

    #[test]
    fn the_verification_is_recognised() {
        assert!(is_verification(br#"{"type":"verification"}"#));
        assert!(!is_verification(INNER.as_bytes()));
        assert!(!is_verification(b"[]"));
    }
}
