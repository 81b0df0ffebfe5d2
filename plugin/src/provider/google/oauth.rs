//! Google OAuth 2.0: the consent URL with the scopes the user's methods
//! need (plus what was granted before: incremental authorisation), token
//! and revoke requests, token-endpoint errors, and the identity read after
//! a code exchange.

use serde_json::{Map, Value};

use super::super::{AppSettings, CLIENT_SECRET, TokenError};
use super::GoogleHealth;
use super::transport::Ctx;
use crate::json::{as_text, field};
use crate::provider::ApiError;
use crate::token_endpoint::token_form;
use igor_plugin_sdk::{Credential, FetchRequest, FetchResponse, Host, Level};

/// Extra advice when Google refuses a refresh token.
pub const INVALID_GRANT_NOTE: &str = " Google refresh tokens of apps whose OAuth consent screen is in \"Testing\" publishing \
     status expire after 7 days: publish the app (Google Cloud console, OAuth consent \
     screen, Publish app) or re-authorise every week. Tokens also end when the user \
     removes the app's access or leaves them unused for 6 months.";

impl GoogleHealth {
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
        let cx = Ctx {
            host,
            token: &access,
            user: "",
            method: "authorisation",
            system: None,
        };
        let request =
            FetchRequest::get(format!("{}/v4/users/me/identity", self.api_url)).bearer(&access);
        match self.send(&cx, &request, "the identity") {
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
