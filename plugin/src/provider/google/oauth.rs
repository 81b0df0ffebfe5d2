//! Google OAuth 2.0: the consent URL with only the scopes the user's methods
//! need, token and revoke requests, token-endpoint errors, and the identity
//! read after a code exchange.

use serde_json::{Map, Value};

use super::super::{AppSettings, CLIENT_SECRET, TokenError};
use super::GoogleHealth;
use crate::host::{Credential, FetchRequest, FetchResponse, Host, Level};
use crate::json::as_text;
use crate::oauth::{field, token_form};
use crate::provider::ApiError;

pub const SCOPE_METRICS: &str =
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly";
pub const SCOPE_ACTIVITY: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
pub const SCOPE_SLEEP: &str = "https://www.googleapis.com/auth/googlehealth.sleep.readonly";
pub const SCOPE_SETTINGS: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";

/// The scopes the methods need, in a stable order. `units_from_settings`:
/// units come from the user's Google settings (no `system` set).
pub fn scopes_for(
    methods: &[String],
    args: &Map<String, Value>,
    units_from_settings: bool,
) -> Vec<&'static str> {
    let (mut metrics, mut activity, mut sleep, mut settings) = (false, false, false, false);
    for method in methods {
        match method.as_str() {
            "get_bodyweight" => {
                metrics = true;
                settings |= units_from_settings;
            }
            "get_bodyfat" | "heart" => metrics = true,
            "sleep" => sleep = true,
            "time_series" => match args.get("resource").and_then(as_text).as_deref() {
                Some("body/weight") => {
                    metrics = true;
                    settings |= units_from_settings;
                }
                Some("body/fat") => metrics = true,
                Some("activities/distance") => {
                    activity = true;
                    settings |= units_from_settings;
                }
                Some("activities/steps" | "activities/floors") => activity = true,
                // The resource may come with the call: allow all of them.
                _ => {
                    metrics = true;
                    activity = true;
                    settings |= units_from_settings;
                }
            },
            _ => {}
        }
    }
    if !(metrics || activity || sleep) {
        metrics = true;
    }
    [
        (metrics, SCOPE_METRICS),
        (activity, SCOPE_ACTIVITY),
        (sleep, SCOPE_SLEEP),
        (settings, SCOPE_SETTINGS),
    ]
    .into_iter()
    .filter_map(|(wanted, scope)| wanted.then_some(scope))
    .collect()
}

/// Extra advice when Google refuses a refresh token.
pub const INVALID_GRANT_NOTE: &str = " Google refresh tokens of apps whose OAuth consent screen is in \"Testing\" publishing \
     status expire after 7 days: publish the app (Google Cloud console, OAuth consent \
     screen, Publish app) or re-authorise every week. Tokens also end when the user \
     removes the app's access or leaves them unused for 6 months.";

impl GoogleHealth {
    pub(super) fn consent_url(
        &self,
        app: &AppSettings,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        methods: &[String],
        args: &Map<String, Value>,
    ) -> String {
        let scopes = scopes_for(methods, args, app.system.is_none());
        let mut url = url::Url::parse(&self.authorize_url).unwrap_or_else(|_| {
            url::Url::parse("https://accounts.google.com/o/oauth2/v2/auth").unwrap()
        });
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", app.client_id.as_deref().unwrap_or_default())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("access_type", "offline")
            .append_pair("prompt", "consent")
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }

    /// Client id in the form; the host appends `client_secret` to it.
    pub(super) fn token_form(&self, app: &AppSettings, fields: &[(&str, &str)]) -> FetchRequest {
        let client_id = app.client_id.clone().unwrap_or_default();
        let mut fields = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "client_id") {
            fields.push(("client_id", &client_id));
        }
        token_form(&self.token_url, &fields).with_credential(Credential::FormField {
            field: "client_secret".into(),
            secret: CLIENT_SECRET.into(),
        })
    }

    pub(super) fn revoke_form(&self, token: &Map<String, Value>) -> Option<FetchRequest> {
        let token = field(token, "refresh_token").or_else(|| field(token, "access_token"))?;
        Some(token_form(&self.revoke_url, &[("token", &token)]))
    }

    /// Reads `GET /v4/users/me/identity` and keeps `healthUserId` and
    /// `legacyUserId` with the token. A failure does not fail the
    /// authorisation (the token is good; the ids are informational): it is
    /// logged, and data calls report any real problem.
    pub(super) fn read_identity(&self, host: &dyn Host, token: &mut Map<String, Value>) {
        let access = field(token, "access_token").unwrap_or_default();
        let request =
            FetchRequest::get(format!("{}/v4/users/me/identity", self.api_url)).bearer(&access);
        match self.send(host, &request, "the identity", "") {
            Ok(identity) => {
                for key in ["healthUserId", "legacyUserId"] {
                    if let Some(value) = identity.get(key).and_then(as_text) {
                        token.insert(key.into(), Value::from(value));
                    }
                }
            }
            Err(ApiError::Expired) => host.log(
                Level::Warn,
                "Google Health identity: the new access token was refused",
            ),
            Err(ApiError::Failed(err)) => host.log(
                Level::Warn,
                &format!("Google Health identity not read: {}", err.message),
            ),
        }
    }
}

/// RFC 6749 errors: `{"error": "invalid_grant", "error_description": ..}`.
pub fn token_error(response: &FetchResponse) -> TokenError {
    let body = response.json();
    let text = |k: &str| {
        body.as_ref()
            .and_then(|b| b.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let error = text("error");
    let description = text("error_description").unwrap_or_default();
    match error.as_deref() {
        Some("invalid_grant") => TokenError::InvalidGrant(description),
        Some(kind) => {
            let hint = match kind {
                "invalid_client" | "unauthorized_client" => {
                    " Check the client id and secret on the setup page (a Google OAuth \
                     client of type \"Web application\")."
                }
                "redirect_uri_mismatch" => {
                    " The client's Authorized redirect URI must be exactly the one the \
                     setup page shows."
                }
                _ => "",
            };
            TokenError::Other(format!(
                "the token endpoint answered {}: {kind}: {}{hint}",
                response.status,
                description.trim()
            ))
        }
        None => TokenError::Other(format!(
            "the token endpoint answered {}: {}",
            response.status,
            response.text().chars().take(300).collect::<String>().trim()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn methods(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_only_as_needed() {
        let none = Map::new();
        assert_eq!(
            scopes_for(&methods(&["get_bodyweight"]), &none, false),
            vec![SCOPE_METRICS]
        );
        assert_eq!(
            scopes_for(&methods(&["get_bodyweight"]), &none, true),
            vec![SCOPE_METRICS, SCOPE_SETTINGS]
        );
        let steps = json!({"resource": "activities/steps"});
        assert_eq!(
            scopes_for(
                &methods(&["time_series", "sleep"]),
                steps.as_object().unwrap(),
                true
            ),
            vec![SCOPE_ACTIVITY, SCOPE_SLEEP]
        );
        assert_eq!(
            scopes_for(&methods(&["get_devices"]), &none, false),
            vec![SCOPE_METRICS]
        );
    }
}
