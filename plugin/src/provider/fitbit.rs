//! The legacy Fitbit Web API and Fitbit OAuth 2.0 (authorization code with
//! PKCE, HTTP Basic client authentication, single-use refresh tokens).
//! Turned off on 2026-11-02: every endpoint answers 410 Gone.

use serde_json::{Map, Value};

use super::methods;
use super::{ApiError, AppSettings, Call, Provider, RunState, TokenError, endpoint};
use crate::dates::Date;
use crate::errors::{
    PluginError, Result, UPSTREAM_CHARS, clip, legacy_shutdown_message, retry_seconds,
};
use crate::json::field;
use crate::token_endpoint::{client_basic_credential, token_form};
use igor_plugin_sdk::Request;
use igor_plugin_sdk::{FetchRequest, FetchResponse, Host};

/// Scopes asked for: python-fitbit's defaults (without its duplicate) and
/// those of glucose and of the health metrics read as `time_series` (SpO2,
/// breathing rate, skin temperature, cardio fitness).
pub const SCOPES: &str = "activity blood_glucose cardio_fitness heartrate location nutrition \
     oxygen_saturation profile respiratory_rate settings sleep social temperature weight";

pub struct Fitbit {
    api_url: String,
    authorize_url: String,
    plugin_url: String,
    today: Date,
}

impl Fitbit {
    pub fn from_config(request: &Request, plugin_url: String) -> Self {
        Self {
            api_url: endpoint(request, "fitbit_api_url"),
            authorize_url: endpoint(request, "fitbit_authorize_url"),
            plugin_url,
            today: Date::from_epoch(0.0, 0),
        }
    }

    /// Sets "today" (the host's local date) for calls without a date.
    pub fn with_today(mut self, today: Date) -> Self {
        self.today = today;
        self
    }

    fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.api_url)
    }
}

/// The `errors[].message`s of a Fitbit error body (or the message of a
/// Google-style body, which the legacy API started sending in 2026).
pub fn error_messages(body: &Value) -> (Option<String>, String) {
    if let Some(errors) = body.get("errors").and_then(Value::as_array) {
        let kind = errors
            .first()
            .and_then(|e| e.get("errorType"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let text = errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        return (kind, text);
    }
    if let Some(error) = body.get("error").filter(|e| e.is_object()) {
        let status = error
            .get("status")
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return (status, message);
    }
    (None, String::new())
}

/// Seconds until the rate limit resets: from `Retry-After`, else Fitbit's
/// `Fitbit-Rate-Limit-Reset`, else the top of the hour (when Fitbit's
/// hourly quota resets).
fn retry_after(response: &FetchResponse, now: f64) -> u64 {
    response
        .header("retry-after")
        .and_then(retry_seconds)
        .or_else(|| {
            response
                .header("fitbit-rate-limit-reset")
                .and_then(retry_seconds)
        })
        .unwrap_or_else(|| (3600.0 - now.rem_euclid(3600.0)).ceil().max(1.0) as u64)
}

impl Provider for Fitbit {
    fn id(&self) -> &'static str {
        "fitbit"
    }

    fn name(&self) -> &'static str {
        "Fitbit"
    }

    fn authorize_url(
        &self,
        app: &AppSettings,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        _consent: &super::Consent,
    ) -> String {
        let client_id = app.client_id.as_deref().unwrap_or_default();
        let mut url = url::Url::parse(&self.authorize_url).unwrap_or_else(|_| {
            url::Url::parse("https://www.fitbit.com/oauth2/authorize").unwrap()
        });
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", state)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }

    fn token_request(&self, app: &AppSettings, fields: &[(&str, &str)]) -> FetchRequest {
        let client_id = app.client_id.clone().unwrap_or_default();
        token_form(&self.token_url(), fields).with_credential(client_basic_credential(&client_id))
    }

    fn revoke_request(
        &self,
        app: &AppSettings,
        token: &Map<String, Value>,
    ) -> Option<FetchRequest> {
        let token = field(token, "refresh_token").or_else(|| field(token, "access_token"))?;
        let client_id = app.client_id.clone().unwrap_or_default();
        Some(
            token_form(
                &format!("{}/oauth2/revoke", self.api_url),
                &[("token", &token)],
            )
            .with_credential(client_basic_credential(&client_id)),
        )
    }

    fn token_error(&self, response: &FetchResponse) -> TokenError {
        if response.status == 410 {
            return TokenError::Gone;
        }
        let (kind, message) = response
            .json()
            .map(|body| error_messages(&body))
            .unwrap_or((None, response.text()));
        match kind.as_deref() {
            Some("invalid_grant") => TokenError::InvalidGrant(message),
            _ => TokenError::Other(format!(
                "the token endpoint answered {}: {}{}",
                response.status,
                kind.map(|k| format!("{}: ", clip(&k, 64)))
                    .unwrap_or_default(),
                clip(message.trim(), UPSTREAM_CHARS)
            )),
        }
    }

    fn plan(
        &self,
        methods: &[String],
        args: &Map<String, Value>,
        _today: Date,
    ) -> Result<Vec<Call>> {
        methods::plan(methods, args)
    }

    fn execute(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        access_token: &str,
        user: &str,
        _state: &mut RunState,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let url = format!("{}{}", self.api_url, methods::path(call, self.today));
        let mut request = FetchRequest::get(url).bearer(access_token);
        // The original plugin documented `system` but never sent it.
        if let Some(system) = &app.system {
            request = request.header("accept-language", system.clone());
        }
        let response = host
            .fetch(&request)
            .map_err(|e| ApiError::Failed(PluginError::upstream(format!("fitbit error: {e}"))))?;
        let body = response.json();
        match response.status {
            200..=299 => {
                let object = match body {
                    Some(Value::Object(object)) => object,
                    // Devices, recent foods, ...: kept under the method's key.
                    Some(Value::Array(items)) => {
                        let mut object = Map::new();
                        object.insert(methods::answer_key(call), Value::Array(items));
                        object
                    }
                    _ => {
                        return Err(ApiError::Failed(PluginError::upstream(format!(
                            "fitbit error: {} answered something that is not a JSON object",
                            call.method
                        ))));
                    }
                };
                methods::check_shape(call, &object).map_err(|why| {
                    ApiError::Failed(PluginError::upstream(format!(
                        "fitbit error: {} answered data of an unexpected shape ({why}); \
                         nothing was stored",
                        call.method
                    )))
                })?;
                Ok(object)
            }
            410 => Err(ApiError::Failed(PluginError::upstream(
                legacy_shutdown_message(&self.plugin_url, user),
            ))),
            status => {
                let (kind, message) = body
                    .as_ref()
                    .map(error_messages)
                    .unwrap_or((None, response.text()));
                if status == 401 && kind.as_deref() == Some("expired_token") {
                    return Err(ApiError::Expired);
                }
                if status == 429 {
                    let seconds = retry_after(&response, host.now());
                    return Err(ApiError::Failed(PluginError::too_many_requests(
                        seconds,
                        format!(
                            "fitbit error: rate limit reached (Fitbit allows 150 requests per \
                             user per hour); retry in {seconds} s"
                        ),
                    )));
                }
                let message = match status {
                    403 if kind.as_deref() == Some("insufficient_scope") => format!(
                        "fitbit error: {} Re-authorise to grant access: {}/auth1?user={user}",
                        clip(&message, UPSTREAM_CHARS),
                        self.plugin_url
                    ),
                    _ => format!(
                        "fitbit error: {} answered {status}: {}",
                        call.method,
                        clip(message.trim(), UPSTREAM_CHARS)
                    ),
                };
                Err(ApiError::Failed(PluginError::upstream(message)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_both_error_body_styles() {
        let fitbit = json!({"errors":[{"errorType":"expired_token","message":"Access token expired: x"}],"success":false});
        assert_eq!(
            error_messages(&fitbit),
            (
                Some("expired_token".into()),
                "Access token expired: x".into()
            )
        );
        let google = json!({"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}});
        assert_eq!(
            error_messages(&google),
            (
                Some("PERMISSION_DENIED".into()),
                "The caller does not have permission".into()
            )
        );
    }
}
