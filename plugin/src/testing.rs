//! Test fixtures of the fitbit plugin: the SDK's in-memory host, requests
//! to the plugin installed as `fitbit`, and legacy-provider fixtures.

use std::collections::{BTreeMap, HashMap};

use igor_plugin_sdk::{FetchRequest, Request, Response};
use serde_json::Value;

pub use igor_plugin_sdk::testing::{Documents, MemoryHost, put_into, response};

/// A request to the plugin installed as `fitbit` at `http://igor.test`, on
/// a host one hour east of UTC.
pub fn request(method: &str, path: &str, query: &[(&str, &str)]) -> Request {
    let mut request = igor_plugin_sdk::testing::request("fitbit", method, path, query);
    request.context.utc_offset_seconds = 3600;
    request
}

/// A form POST to the plugin.
pub fn form(path: &str, fields: &[(&str, &str)]) -> Request {
    igor_plugin_sdk::testing::with_form(request("POST", path, &[]), fields)
}

/// `GET /plugin/fitbit?QUERY` through the router, which must succeed; the
/// answer.
pub fn run_ok(host: &MemoryHost, query: &[(&str, &str)]) -> Response {
    let r = crate::router::handle(host, &request("GET", "/", query));
    assert_eq!(r.status, 200, "{}", r.body_text());
    r
}

/// The query parameters of `url`.
pub fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The path of `url`.
pub fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_string()
}

/// The `state` of the provider's consent page an `auth1` answer sends the
/// browser to.
pub fn state_of(started: &Response) -> String {
    query_of(started.header("location").unwrap())["state"].clone()
}

/// A field of a request's form body.
pub fn form_value(request: &FetchRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// A request's `Authorization` header.
pub fn auth_header(request: &FetchRequest) -> Option<String> {
    request
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
}

/// The stored documents without what the plugin records about its runs
/// (run history, the list of users, notices, upstream pacing): the data a failed run must
/// leave as it was.
pub fn data(host: &MemoryHost) -> BTreeMap<String, (Value, u64)> {
    host.documents
        .borrow()
        .iter()
        .filter(|(path, _)| {
            !path.ends_with("/history")
                && !path.ends_with("/users")
                && !path.ends_with("/pacing")
                && !path.starts_with("status/")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Fixtures for flows of the legacy Fitbit provider.
pub mod fitbit {
    use serde_json::{Value, json};

    use super::MemoryHost;

    pub const API: &str = "https://api.fitbit.com";
    pub const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";

    /// An installation with the legacy provider, a client id and a secret.
    pub fn configured() -> MemoryHost {
        let host = MemoryHost::default();
        host.put(
            "plugindata/fitbit",
            json!({"client_id": "22ABCD", "provider": "fitbit"}),
        );
        host.secrets
            .borrow_mut()
            .insert("client_secret".into(), "s3cret".into());
        host
    }

    /// Gives jack a legacy token (`A1`/`R1`) expiring in `expires_in` s.
    pub fn with_token(host: &MemoryHost, expires_in: f64) {
        host.put(
            TOKEN_PATH,
            json!({
                "access_token": "A1", "refresh_token": "R1", "expires_in": 28800,
                "expires_at": host.now.get() + expires_in, "provider": "fitbit",
                "token_type": "Bearer", "user_id": "GGNJL9"
            }),
        );
    }

    pub fn weight_body() -> Value {
        json!({"weight": [{"bmi": 25.9, "date": "2026-11-20", "logId": 1, "source": "Aria", "time": "07:00:00", "weight": 80.1}]})
    }

    /// A Fitbit error body.
    pub fn fitbit_error(error_type: &str, message: &str) -> Value {
        json!({"errors": [{"errorType": error_type, "message": message}], "success": false})
    }
}
