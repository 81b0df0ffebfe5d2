//! The two providers behind the same methods and outputs: the legacy Fitbit
//! Web API (`fitbit`, shut down 2026-11-02) and the Google Health API v4
//! (`google-health`).

pub mod fitbit;
pub mod google;
pub mod methods;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::dates::Date;
use crate::errors::{PluginError, Result};
use crate::json::{into_object, text_field};
use crate::paths::Paths;
use crate::redirect::Redirect;
use igor_plugin_sdk::Request;
use igor_plugin_sdk::{FetchRequest, FetchResponse, Host};

pub use crate::token_endpoint::CLIENT_SECRET;

/// Provider of a new installation (an installation without a stored
/// `provider`). Tokens carry their own provider: a token without one is a
/// legacy `fitbit` token.
pub const DEFAULT_PROVIDER: &str = "google-health";

/// Provider ids accepted in `plugindata/N/provider`.
pub const PROVIDERS: &[&str] = &["google-health", "fitbit"];

/// `plugindata/N`: the installation's settings.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    pub client_id: Option<String>,
    pub system: Option<String>,
    pub provider: String,
    pub document: Map<String, Value>,
    pub revision: u64,
}

impl AppSettings {
    pub fn load(host: &dyn Host, paths: &Paths) -> Result<Self> {
        let stored = host.store_get(&paths.app()).map_err(PluginError::store)?;
        let (value, revision) = match stored {
            Some((value, revision)) => (value, revision),
            None => (Value::Null, 0),
        };
        let document = into_object(value);
        let value = Value::Object(document.clone());
        Ok(Self {
            client_id: text_field(&value, "client_id"),
            system: text_field(&value, "system"),
            provider: text_field(&value, "provider")
                .filter(|p| PROVIDERS.contains(&p.as_str()))
                .unwrap_or_else(|| DEFAULT_PROVIDER.to_string()),
            document,
            revision,
        })
    }

    /// The client id, or the original plugin's 403.
    pub fn require_client_id(&self) -> Result<&str> {
        self.client_id.as_deref().ok_or_else(|| {
            PluginError::forbidden("Fitbitplugin requires global plugindata 'client_id'")
        })
    }
}

/// How a token endpoint refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// The grant (refresh token or code) is invalid, used or expired.
    InvalidGrant(String),
    /// The endpoint is gone for good (the legacy API's 410).
    Gone,
    Other(String),
}

/// Whether a token endpoint refused the client's own credentials (OAuth's
/// `invalid_client`, RFC 6749 section 5.2, or Fitbit's `errorType`): the
/// code it carried was not looked at, so the same code may be tried again.
pub fn client_refused(response: &FetchResponse) -> bool {
    let Some(body) = response.json() else {
        return false;
    };
    let invalid_client = |v: Option<&Value>| v.and_then(Value::as_str) == Some("invalid_client");
    invalid_client(body.get("error"))
        || body
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errors| errors.iter().any(|e| invalid_client(e.get("errorType"))))
}

/// How a data call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The access token expired: refresh and retry once.
    Expired,
    Failed(PluginError),
}

/// What a run of `GET /?user=U` knows besides the call itself. The index
/// fills it before the first call and, after storing the results, saves
/// `sync` when a provider changed it.
#[derive(Debug, Clone, Default)]
pub struct RunState {
    /// `sensors/N/U` as the previous run stored it (empty if absent).
    pub previous: Map<String, Value>,
    /// `identities/U/plugindata/N/sync`: the provider's bookkeeping for
    /// incremental sync (last sample times, cached units and height).
    pub sync: Map<String, Value>,
    /// The user's token as read at the start of the run (granted scopes,
    /// identity); the access token to use is passed separately.
    pub token: Map<String, Value>,
}

/// What an authorisation asks the user to allow.
#[derive(Debug, Clone, Default)]
pub struct Consent {
    /// The user's configured methods and default arguments.
    pub methods: Vec<String>,
    pub args: Map<String, Value>,
    /// Scopes the user has granted already (the current token's `scope`),
    /// kept by incremental authorisation.
    pub granted: Vec<String>,
    /// Scopes to add: what a refused call named (`auth1?...&scope=`).
    pub adding: Vec<String>,
}

/// One validated method call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: String,
    pub args: BTreeMap<String, String>,
}

pub trait Provider {
    /// `fitbit` or `google-health`: stored with each token.
    fn id(&self) -> &'static str;
    /// For messages: "Fitbit", "Google Health".
    fn name(&self) -> &'static str;
    /// Where `auth1` sends the browser, asking for what `consent` covers.
    fn authorize_url(
        &self,
        app: &AppSettings,
        redirect_uri: &str,
        state: &str,
        code_challenge: &str,
        consent: &Consent,
    ) -> String;
    /// The redirect URI to register and use for an installation at
    /// `plugin_url`.
    fn redirect(&self, plugin_url: &str) -> Redirect {
        Redirect {
            uri: format!("{plugin_url}/auth2"),
            refusal: None,
            elsewhere: None,
        }
    }
    /// The permissions `calls` need that `granted` (the token's `scope`)
    /// lacks; empty when all are there or the provider cannot tell.
    fn missing_scopes(&self, _calls: &[Call], _granted: &str) -> Vec<&'static str> {
        Vec::new()
    }
    /// A request to the token endpoint with `fields` and client authentication.
    fn token_request(&self, app: &AppSettings, fields: &[(&str, &str)]) -> FetchRequest;
    /// Revokes a token at the provider, if it supports that.
    fn revoke_request(&self, app: &AppSettings, token: &Map<String, Value>)
    -> Option<FetchRequest>;
    fn token_error(&self, response: &FetchResponse) -> TokenError;
    /// Extra advice when a refresh token is refused.
    fn invalid_grant_note(&self) -> &'static str {
        ""
    }
    /// Work after a code exchange (e.g. reading the user's identity).
    fn after_authorisation(&self, _host: &dyn Host, _token: &mut Map<String, Value>) -> Result<()> {
        Ok(())
    }
    /// Validates methods and arguments before anything is sent.
    fn plan(&self, methods: &[String], args: &Map<String, Value>, today: Date)
    -> Result<Vec<Call>>;
    /// Runs one call; the result is merged into `sensors/N/U`. `state`
    /// holds the previous results and the provider's bookkeeping; a call
    /// may be run twice (after `ApiError::Expired`), so it changes `state`
    /// only when it succeeds.
    fn execute(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        access_token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Map<String, Value>, ApiError>;
}

/// The provider with id `id`, its endpoints taken from the host config;
/// `today` is the host's local date.
pub fn provider_for(id: &str, request: &Request, today: Date) -> Result<Box<dyn Provider>> {
    let plugin_url = request.plugin_url();
    match id {
        "fitbit" => Ok(Box::new(
            fitbit::Fitbit::from_config(request, plugin_url).with_today(today),
        )),
        "google-health" => Ok(Box::new(
            google::GoogleHealth::from_config(request, plugin_url).with_today(today),
        )),
        other => Err(PluginError::new(
            500,
            format!(
                "Fitbitplugin does not know the provider {:?}; known: {}",
                crate::errors::echo(other),
                PROVIDERS.join(", ")
            ),
        )),
    }
}

/// The provider endpoints the operator may move, with their defaults: the
/// same as the `[config]` of `plugin/manifest.toml`, which also ties each to
/// where the plugin may connect (a test keeps the two equal).
pub const ENDPOINTS: &[(&str, &str)] = &[
    ("google_api_url", "https://health.googleapis.com"),
    (
        "google_authorize_url",
        "https://accounts.google.com/o/oauth2/v2/auth",
    ),
    ("google_token_url", "https://oauth2.googleapis.com/token"),
    ("google_revoke_url", "https://oauth2.googleapis.com/revoke"),
    ("fitbit_api_url", "https://api.fitbit.com"),
    (
        "fitbit_authorize_url",
        "https://www.fitbit.com/oauth2/authorize",
    ),
];

/// The endpoint setting `key` (one of [`ENDPOINTS`]), without a trailing `/`.
pub fn endpoint(request: &Request, key: &str) -> String {
    let default = ENDPOINTS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, default)| *default)
        .expect("an endpoint the plugin declares");
    request
        .config(key)
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_string()
}

#[cfg(test)]
mod manifest_tests {
    #[test]
    fn the_manifest_declares_every_setting_with_its_default() {
        let manifest: toml::Table = toml::from_str(include_str!("../../manifest.toml")).unwrap();
        let declared = manifest["config"].as_table().unwrap();
        for (key, default) in super::ENDPOINTS {
            assert_eq!(declared[*key].as_str(), Some(*default), "{key}");
        }
        let lease = declared["token_lease_seconds"].as_str().unwrap();
        assert_eq!(
            lease.parse::<f64>(),
            Ok(crate::oauth::DEFAULT_LEASE_SECONDS)
        );
        let limit = |key: &str| declared[key].as_str().unwrap().parse::<u64>();
        use crate::pacing::{APP_LIMIT_KEY, DEFAULT_APP_PER_MINUTE, DEFAULT_USER_PER_MINUTE};
        assert_eq!(
            limit(crate::pacing::USER_LIMIT_KEY),
            Ok(DEFAULT_USER_PER_MINUTE)
        );
        assert_eq!(limit(APP_LIMIT_KEY), Ok(DEFAULT_APP_PER_MINUTE));
        use crate::provider::google::retry::{DEFAULT_RETRY_SECONDS, RETRY_SECONDS_KEY};
        let retry = declared[RETRY_SECONDS_KEY].as_str().unwrap();
        assert_eq!(retry.parse::<f64>(), Ok(DEFAULT_RETRY_SECONDS));
        use crate::webhook::{DEFAULT_MIN_SYNC_SECONDS, MIN_SYNC_SECONDS_KEY};
        let spacing = declared[MIN_SYNC_SECONDS_KEY].as_str().unwrap();
        assert_eq!(spacing.parse::<f64>(), Ok(DEFAULT_MIN_SYNC_SECONDS));
        assert_eq!(
            declared.len(),
            super::ENDPOINTS.len() + 5,
            "every setting the plugin reads, and no other"
        );
    }
}
