//! Requests to a provider's token endpoint, as both providers send them: a
//! form POST asking for JSON, with the client secret named, never held: the
//! host inserts it after its egress check.

use igor_plugin_sdk::{Credential, FetchRequest, FetchResponse};

use crate::errors::{DEFAULT_RETRY_AFTER_SECONDS, PluginError, retry_seconds};

/// Name of the host-held secret with the OAuth client secret.
pub const CLIENT_SECRET: &str = "client_secret";

/// Builds the `Basic` credential for a client: the host adds the secret.
pub fn client_basic_credential(client_id: &str) -> Credential {
    Credential::Basic {
        user: client_id.to_string(),
        secret: CLIENT_SECRET.to_string(),
    }
}

/// A form POST to a token endpoint.
pub fn token_form(url: &str, fields: &[(&str, &str)]) -> FetchRequest {
    FetchRequest::form(url, fields).header("accept", "application/json")
}

/// A token endpoint's 429 as the plugin answers it: 429 with the endpoint's
/// `Retry-After` (or a minute), like a rate-limited data call, so that the
/// scheduler and callers wait instead of seeing a failure.
pub fn rate_limited(provider: &str, response: &FetchResponse) -> Option<PluginError> {
    if response.status != 429 {
        return None;
    }
    let seconds = response
        .header("retry-after")
        .and_then(retry_seconds)
        .unwrap_or(DEFAULT_RETRY_AFTER_SECONDS);
    Some(PluginError::too_many_requests(
        seconds,
        format!(
            "{provider} OAuth2 error: the token endpoint is rate limited; try again in {seconds} s"
        ),
    ))
}
