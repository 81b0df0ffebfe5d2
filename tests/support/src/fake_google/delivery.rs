//! Webhook deliveries as Google makes them: the notification body, its
//! ECDSA P-256 signature, the address it really goes to, and the record
//! of every attempt.
//!
//! Tests run on loopback over plain HTTP while endpoints must be `https://`,
//! so a test routes an endpoint's host to a local base URL, as DNS and a
//! TLS-terminating proxy in front of the host would; a host without a route
//! is unreachable.

use std::collections::HashMap;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use serde::Serialize;
use serde_json::Value;

use super::points::rfc3339;

/// The envelope of a notification body; third-party sources disagree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NotificationShape {
    /// `{"data":{…}}`.
    #[default]
    Wrapped,
    /// The inner object alone.
    Inner,
    /// `[{"data":{…}}]`.
    Array,
}

/// One POST the fake made to a subscriber's endpoint.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `projects/P/subscribers/S`.
    pub subscriber: String,
    /// The subscriber's `endpointUri` (before routing).
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// 0 for the first attempt, 1, 2, … for retries.
    pub attempt: u32,
    /// The endpoint's status, or why none came (no route, refused, timeout).
    pub outcome: Result<u16, String>,
    pub at: Instant,
}

impl Delivery {
    pub fn status(&self) -> Option<u16> {
        self.outcome.as_ref().ok().copied()
    }
    /// The body as JSON (`Null` if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::util::lookup_ci(&self.headers, name)
    }
}

/// A notification's `data` object; field order is the wire order.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Notification {
    pub version: &'static str,
    pub client_provided_subscription_name: String,
    pub health_user_id: String,
    pub operation: String,
    pub data_type: String,
    pub intervals: Vec<Interval>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Interval {
    physical_time_interval: Span,
    civil_iso8601_time_interval: Span,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Span {
    start_time: String,
    end_time: String,
}

impl Interval {
    /// Physical instants in RFC 3339 UTC, civil (local) times without offset.
    pub(crate) fn new(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        civil_start: NaiveDateTime,
        civil_end: NaiveDateTime,
    ) -> Self {
        let civil = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        Interval {
            physical_time_interval: Span {
                start_time: rfc3339(start),
                end_time: rfc3339(end),
            },
            civil_iso8601_time_interval: Span {
                start_time: civil(civil_start),
                end_time: civil(civil_end),
            },
        }
    }
}

/// The body bytes of `n` in `shape`.
pub(crate) fn body(shape: NotificationShape, n: &Notification) -> Vec<u8> {
    #[derive(Serialize)]
    struct Wrapped<'a> {
        data: &'a Notification,
    }
    let wrapped = Wrapped { data: n };
    match shape {
        NotificationShape::Wrapped => serde_json::to_vec(&wrapped),
        NotificationShape::Inner => serde_json::to_vec(n),
        NotificationShape::Array => serde_json::to_vec(&[wrapped]),
    }
    .expect("a notification serialises")
}

/// A fresh random key (a random scalar; the rare invalid one is redrawn).
pub(crate) fn new_key() -> SigningKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// The public half as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
pub(crate) fn public_pem(key: &SigningKey) -> String {
    key.verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .expect("a P-256 key encodes")
}

/// Base64 (standard) of the DER ECDSA P-256 / SHA-256 signature of `body`.
pub(crate) fn sign(key: &SigningKey, body: &[u8]) -> String {
    let signature: Signature = key.sign(body);
    STANDARD.encode(signature.to_der().as_bytes())
}

/// Where a POST to `endpoint` really goes: its authority's route, with
/// the endpoint's path and query.
pub(crate) fn resolve(routes: &HashMap<String, String>, endpoint: &str) -> Result<String, String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("{endpoint}: {e}"))?;
    let host = url.host_str().unwrap_or_default();
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let base = routes
        .get(&authority)
        .ok_or_else(|| format!("{authority} could not be resolved"))?;
    let query = url.query().map(|q| format!("?{q}")).unwrap_or_default();
    Ok(format!(
        "{}{}{query}",
        base.trim_end_matches('/'),
        url.path()
    ))
}

/// One POST; the status, or why there was none.
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<u16, String> {
    let mut request = http.post(url).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(name, value);
    }
    match request.send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_keep_path_and_query_and_refuse_unknown_hosts() {
        let routes = HashMap::from([
            (
                "igor.example.com".to_string(),
                "http://127.0.0.1:9/".to_string(),
            ),
            (
                "h.example:8443".to_string(),
                "http://127.0.0.1:10".to_string(),
            ),
        ]);
        let r = |e| resolve(&routes, e);
        assert_eq!(
            r("https://igor.example.com/hook/g?x=1"),
            Ok("http://127.0.0.1:9/hook/g?x=1".to_string())
        );
        assert_eq!(
            r("https://h.example:8443/a"),
            Ok("http://127.0.0.1:10/a".to_string())
        );
        assert!(r("https://h.example/a").is_err());
        assert!(r("https://other.example.com/").is_err());
    }

    #[test]
    fn shapes_wrap_the_same_object() {
        let t = DateTime::parse_from_rfc3339("2026-11-20T07:12:33Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = Notification {
            version: "1",
            client_provided_subscription_name: "igor".into(),
            health_user_id: "42".into(),
            operation: "UPSERT".into(),
            data_type: "weight".into(),
            intervals: vec![Interval::new(t, t, t.naive_utc(), t.naive_utc())],
        };
        let inner = r#"{"version":"1","clientProvidedSubscriptionName":"igor","healthUserId":"42","operation":"UPSERT","dataType":"weight","intervals":[{"physicalTimeInterval":{"startTime":"2026-11-20T07:12:33Z","endTime":"2026-11-20T07:12:33Z"},"civilIso8601TimeInterval":{"startTime":"2026-11-20T07:12:33","endTime":"2026-11-20T07:12:33"}}]}"#;
        let text = |shape| String::from_utf8(body(shape, &n)).unwrap();
        assert_eq!(text(NotificationShape::Inner), inner);
        assert_eq!(
            text(NotificationShape::Wrapped),
            format!("{{\"data\":{inner}}}")
        );
        assert_eq!(
            text(NotificationShape::Array),
            format!("[{{\"data\":{inner}}}]")
        );
    }
}
