//! Whole flows of the Google Health provider against an in-memory host,
//! one concern per module: authorisation and tokens (`oauth`), data
//! mapping (`data`, `parity`), errors and answers of the wrong shape
//! (`errors`), incremental sync (`sync`), mixed installations and the setup
//! page (`setup`). This module holds their shared fixtures.

mod breadth;
mod data;
mod errors;
mod oauth;
pub(crate) use oauth::start_auth;
mod parity;
mod setup;
mod sync;
mod webhook;
mod zone;

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::provider::google::{
    SCOPE_ACTIVITY, SCOPE_METRICS, SCOPE_PROFILE, SCOPE_SETTINGS, SCOPE_SLEEP,
};
use crate::router::handle;
use crate::testing::{
    MemoryHost, auth_header, form, form_value, path_of, query_of, request, response, run_ok,
};
use igor_plugin_sdk::{Credential, FetchRequest};

pub(super) const API: &str = "https://health.googleapis.com";
pub(super) const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub(super) const CLIENT: &str = "1234-abc.apps.googleusercontent.com";
pub(super) const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";
pub(super) const SYNC_PATH: &str = "identities/jack/plugindata/fitbit/sync";
/// The default window of the list filters on the fixed clock
/// (2026-11-25T09:46:40Z): the host's day (UTC+1) when the user's zone is
/// unknown, as civil dates.
pub(super) const DAY_FILTER: &str = "weight.sample_time.civil_time >= \"2026-11-25\" AND \
    weight.sample_time.civil_time < \"2026-11-26\"";

pub(crate) fn configured(system: Option<&str>) -> MemoryHost {
    let host = MemoryHost::default();
    let mut app = json!({"client_id": CLIENT});
    if let Some(system) = system {
        app["system"] = json!(system);
    }
    host.put("plugindata/fitbit", app);
    host.secrets
        .borrow_mut()
        .insert("client_secret".into(), "g-s3cret".into());
    host
}

pub(crate) fn with_token(host: &MemoryHost, expires_in: f64, scope: &str) {
    host.put(
        TOKEN_PATH,
        json!({
            "access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599,
            "expires_at": host.now.get() + expires_in, "provider": "google-health",
            "scope": scope, "token_type": "Bearer",
            "healthUserId": "4957304218837201659", "legacyUserId": "GGNJL9"
        }),
    );
}

pub(super) fn civil(date: (i32, u32, u32), time: (u32, u32, u32)) -> Value {
    json!({"date": {"year": date.0, "month": date.1, "day": date.2},
           "time": {"hours": time.0, "minutes": time.1, "seconds": time.2}})
}

/// A weight point as the API renders it (civil time in UTC+1).
pub(crate) fn weight_point(
    id: &str,
    physical: &str,
    local: ((i32, u32, u32), (u32, u32, u32)),
    grams: f64,
) -> Value {
    json!({
        "name": format!("users/4957304218837201659/dataTypes/weight/dataPoints/{id}"),
        "dataSource": {"recordingMethod": "ACTIVELY_MEASURED", "platform": "FITBIT",
                       "device": {"formFactor": "SCALE", "manufacturer": "Fitbit", "displayName": "Aria Air"}},
        "weight": {"sampleTime": {"physicalTime": physical, "utcOffset": "3600s",
                                  "civilTime": civil(local.0, local.1)},
                   "weightGrams": grams}
    })
}

pub(super) fn height_point(mm: &str) -> Value {
    json!({
        "name": "users/4957304218837201659/dataTypes/height/dataPoints/h1",
        "dataSource": {"recordingMethod": "MANUAL", "platform": "FITBIT"},
        "height": {"sampleTime": {"physicalTime": "2026-01-01T10:00:00Z", "utcOffset": "3600s"},
                   "heightMillimeters": mm}
    })
}

pub(crate) fn is_list(url: &str, data_type: &str) -> bool {
    path_of(url) == format!("/v4/users/me/dataTypes/{data_type}/dataPoints")
}

pub(super) fn filter_of(request: &FetchRequest) -> String {
    query_of(&request.url)
        .get("filter")
        .cloned()
        .unwrap_or_default()
}

pub(super) fn requests(host: &MemoryHost) -> Vec<FetchRequest> {
    host.sent.borrow().clone()
}

pub(crate) fn run(host: &MemoryHost, query: &[(&str, &str)]) -> igor_plugin_sdk::Response {
    handle(host, &request("GET", "/", query))
}

pub(super) fn status_body(code: u16, status: &str, reason: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status,
           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}]}})
}

/// Google's lists of one weigh-in of 63.5029 kg on 2026-11-25 and no
/// height.
pub(super) fn one_weigh_in(
    r: &FetchRequest,
) -> Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError> {
    if is_list(&r.url, "height") {
        return response(200, json!({}));
    }
    let local = ((2026, 11, 25), (8, 0, 0));
    let point = weight_point("1", "2026-11-25T07:00:00Z", local, 63_502.9);
    response(200, json!({"dataPoints": [point]}))
}

/// The weight in jack's sensors.
pub(super) fn jacks_weight(host: &MemoryHost) -> Value {
    host.get("sensors/fitbit/jack").unwrap()["weight"][0]["weight"].clone()
}

/// Google's refusal of a request the consent does not cover.
pub(super) fn scope_insufficient() -> Value {
    status_body(
        403,
        "PERMISSION_DENIED",
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "Request had insufficient authentication scopes.",
    )
}

/// Google's answer to a request the consent does not cover.
pub(super) fn not_covered() -> Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError> {
    response(403, scope_insufficient())
}

/// Google's token endpoint refuses every refresh token, in its own words.
pub(crate) fn refresh_tokens_refused(host: &MemoryHost) {
    host.respond(|_| {
        response(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        )
    });
}
