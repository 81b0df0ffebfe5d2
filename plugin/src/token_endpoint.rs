//! Requests to a provider's token endpoint, as both providers send them: a
//! form POST asking for JSON, with the client secret named, never held: the
//! host inserts it after its egress check.

use igor_plugin_sdk::{Credential, FetchRequest};

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
