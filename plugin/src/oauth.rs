//! OAuth 2.0 pieces shared by both providers: PKCE, the state nonce that
//! binds a browser round trip to a user, and the token keeper that
//! refreshes with compare-and-swap.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::errors::{PluginError, Result, legacy_shutdown_message};
use crate::json::{as_f64, as_text, field};
use crate::provider::{AppSettings, Provider, TokenError};
use igor_plugin_sdk::{Host, Level, StoreFailure};

/// Refresh this long before the provider's expiry.
pub const REFRESH_MARGIN_SECONDS: f64 = 60.0;
/// Token field: epoch seconds of the consent the token comes from.
pub const GRANTED_AT: &str = "granted_at";

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7636 S256: base64url(SHA-256(verifier)), unpadded.
pub fn pkce_challenge(verifier: &str) -> String {
    base64url(&Sha256::digest(verifier.as_bytes()))
}

/// A fresh PKCE verifier: 64 characters from 48 random bytes.
pub fn new_verifier(host: &dyn Host) -> String {
    base64url(&host.random_bytes(48))
}

/// `state` = `USER.NONCE`: the user it is for, and 256 unguessable bits.
pub fn make_state(user: &str, nonce: &str) -> String {
    format!("{user}.{nonce}")
}

pub fn parse_state(state: &str) -> Option<(&str, &str)> {
    let (user, nonce) = state.rsplit_once('.')?;
    let plausible = nonce.len() == 64 && nonce.chars().all(|c| c.is_ascii_hexdigit());
    (plausible && !user.is_empty()).then_some((user, nonce))
}

/// Token fields that name the user at the provider, kept across refreshes.
pub const IDENTITY_FIELDS: &[&str] = &["healthUserId", "legacyUserId", "user_id"];

/// Token fields as stored: the provider's answer plus `expires_at` and
/// `provider`. Unknown fields are kept.
pub fn token_from_response(
    response: &Value,
    previous: Option<&Map<String, Value>>,
    provider: &str,
    now: f64,
) -> Option<Map<String, Value>> {
    let mut token = response.as_object()?.clone();
    as_text(token.get("access_token")?)?;
    // Providers that do not rotate refresh tokens omit them on refresh.
    if !token.contains_key("refresh_token")
        && let Some(old) = previous.and_then(|p| p.get("refresh_token"))
    {
        token.insert("refresh_token".into(), old.clone());
    }
    // A refresh answer names no user: the identity read at consent stays
    // (`user_id=<legacy id>` and the profile's `encodedId` depend on it).
    for key in IDENTITY_FIELDS {
        if !token.contains_key(*key)
            && let Some(id) = previous.and_then(|p| p.get(*key))
        {
            token.insert((*key).into(), id.clone());
        }
    }
    if let Some(seconds) = token.get("expires_in").and_then(as_f64) {
        token.insert("expires_at".into(), Value::from(now + seconds));
    }
    // When the user gave consent: a code exchange now, a refresh keeps it.
    let granted_at = previous.map_or(Some(Value::from(now)), |p| p.get(GRANTED_AT).cloned());
    if let Some(granted_at) = granted_at {
        token.insert(GRANTED_AT.into(), granted_at);
    }
    token.insert("provider".into(), Value::from(provider));
    Some(token)
}

/// Whether `token` expires within [`REFRESH_MARGIN_SECONDS`] of `now`. A
/// token without a readable `expires_at` is used as it is: the provider's
/// `expired_token` answer still triggers a refresh.
pub fn token_is_expired(token: &Map<String, Value>, now: f64) -> bool {
    token
        .get("expires_at")
        .and_then(as_f64)
        .is_some_and(|at| at <= now + REFRESH_MARGIN_SECONDS)
}

/// How long a refresh lease holds unless the operator sets
/// `token_lease_seconds` in the plugin's config. It must outlast the
/// holder's token fetch and save (the host's `fetch_timeout_ms` plus the
/// grace it gives a request to save a token answer): a lease that expires
/// under a live holder lets a second refresh start.
pub const DEFAULT_LEASE_SECONDS: f64 = 30.0;
/// First and longest pause between looks while another request refreshes.
const FIRST_PAUSE: f64 = 0.01;
const LONGEST_PAUSE: f64 = 0.25;

/// Seconds before the host's deadline a request waiting for another's
/// refresh gives up, to answer 503 itself rather than be cut off (504).
const DEADLINE_MARGIN: f64 = 2.0;
/// The `Retry-After` of that 503.
const RETRY_AFTER_WAITING: u64 = 5;

/// The lease time from the plugin's config, within 1 s..10 min.
pub fn lease_seconds(request: &igor_plugin_sdk::Request) -> f64 {
    request
        .config("token_lease_seconds")
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite())
        .map_or(DEFAULT_LEASE_SECONDS, |s| s.clamp(1.0, 600.0))
}

/// Where a user's token lives and how refreshes of it are coordinated.
pub struct TokenPlace {
    pub path: String,
    pub lease_path: String,
    pub lease_seconds: f64,
}

/// Holds a user's token while a request uses it, refreshing it when it has
/// expired (or the provider says so). Refreshes are single-flight: the
/// refreshing request holds a lease (see [`crate::lease`]) from before it
/// calls the token endpoint until the new token is saved, and every other
/// request, in this host or another on the same store, waits for the saved
/// token instead of refreshing again. Refresh tokens may be single-use
/// (Fitbit's are), so a second refresh could only fail or waste one.
pub struct TokenKeeper<'a> {
    host: &'a dyn Host,
    provider: &'a dyn Provider,
    app: &'a AppSettings,
    place: TokenPlace,
    user: String,
    plugin_url: String,
    pub token: Map<String, Value>,
    pub revision: u64,
}

impl<'a> TokenKeeper<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        host: &'a dyn Host,
        provider: &'a dyn Provider,
        app: &'a AppSettings,
        place: TokenPlace,
        user: &str,
        plugin_url: String,
        token: Map<String, Value>,
        revision: u64,
    ) -> Self {
        Self {
            host,
            provider,
            app,
            place,
            user: user.to_string(),
            plugin_url,
            token,
            revision,
        }
    }

    pub fn access_token(&self) -> String {
        field(&self.token, "access_token").unwrap_or_default()
    }

    /// Whether the token has expired (or will within the margin).
    pub fn is_expired(&self, now: f64) -> bool {
        token_is_expired(&self.token, now)
    }

    /// Refreshes proactively when the token has expired.
    pub fn ensure_fresh(&mut self) -> Result<()> {
        if self.is_expired(self.host.now()) {
            self.refresh()?;
        }
        Ok(())
    }

    fn reread(&self) -> Result<Option<(Map<String, Value>, u64)>> {
        let current = self
            .host
            .store_get(&self.place.path)
            .map_err(PluginError::store)?;
        Ok(current.and_then(|(value, rev)| value.as_object().map(|o| (o.clone(), rev))))
    }

    /// Takes up a token saved since this request read it; `true` when it
    /// can be used as it is.
    fn adopt_newer(&mut self) -> Result<bool> {
        match self.reread()? {
            None => Err(PluginError::forbidden(format!(
                "The token of user {} was deleted while it was being used. {}",
                self.user,
                self.reauthorise_hint()
            ))),
            Some((_, revision)) if revision == self.revision => Ok(false),
            Some((current, revision)) => {
                self.host
                    .log(Level::Info, "token was refreshed concurrently; using it");
                self.token = current;
                self.revision = revision;
                Ok(!self.is_expired(self.host.now()))
            }
        }
    }

    fn reauthorise_hint(&self) -> String {
        format!(
            "Re-authorise user {} at {}/auth1?user={}",
            self.user, self.plugin_url, self.user
        )
    }

    /// Gets a new token: the one another request saves meanwhile, or one
    /// this request fetches and saves while it holds the refresh lease.
    /// Waiting ends when the lease is released or expires, so it is
    /// bounded by the lease time (and by the host's request deadline).
    pub fn refresh(&mut self) -> Result<()> {
        // Waiting ends in time to answer 503 before the host's deadline.
        let left = self.host.deadline_remaining_ms() as f64 / 1000.0 - DEADLINE_MARGIN;
        let give_up = self.host.now() + (self.place.lease_seconds + 1.0).min(left.max(0.0));
        let mut pause = FIRST_PAUSE;
        loop {
            if self.adopt_newer()? {
                return Ok(());
            }
            let lease = crate::lease::try_acquire(
                self.host,
                &self.place.lease_path,
                self.place.lease_seconds,
            )
            .map_err(PluginError::store)?;
            if let Some(lease) = lease {
                // Someone may have saved a token between the look above and
                // the lease.
                let result = match self.adopt_newer() {
                    Ok(true) => Ok(()),
                    Ok(false) => self.refresh_now(),
                    Err(err) => Err(err),
                };
                lease.release(self.host);
                return result;
            }
            if self.host.now() >= give_up {
                return Err(PluginError {
                    retry_after: Some(RETRY_AFTER_WAITING),
                    ..PluginError::new(
                        503,
                        format!(
                            "Fitbitplugin: another request is refreshing the token of user {}; \
                             try again in {RETRY_AFTER_WAITING} s",
                            self.user
                        ),
                    )
                });
            }
            self.host.sleep(pause);
            pause = (pause * 2.0).min(LONGEST_PAUSE);
        }
    }

    /// Exchanges the refresh token for a new token and saves it; the caller
    /// holds the refresh lease.
    fn refresh_now(&mut self) -> Result<()> {
        let name = self.provider.name();
        let Some(refresh_token) = field(&self.token, "refresh_token") else {
            return Err(PluginError::forbidden(format!(
                "Fitbitplugin 'token' plugindata for user '{}' misses 'refresh_token'",
                self.user
            )));
        };
        let request = self.provider.token_request(
            self.app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
            ],
        );
        let response = self.host.fetch(&request).map_err(|e| {
            PluginError::upstream(format!("{name} OAuth2 error: token endpoint: {e}"))
        })?;
        if (200..300).contains(&response.status) {
            let new_token = response
                .json()
                .and_then(|v| {
                    token_from_response(&v, Some(&self.token), self.provider.id(), self.host.now())
                })
                .ok_or_else(|| {
                    PluginError::upstream(format!(
                        "{name} OAuth2 error: the token endpoint answered without an access token"
                    ))
                })?;
            return self.save(new_token);
        }
        if let Some(limited) = crate::token_endpoint::rate_limited(name, &response) {
            return Err(limited);
        }
        match self.provider.token_error(&response) {
            TokenError::Gone => Err(PluginError::upstream(legacy_shutdown_message(
                &self.plugin_url,
                &self.user,
            ))),
            TokenError::InvalidGrant(message) => {
                // Lost a race whose winner already used our refresh token?
                if let Some((current, revision)) = self.reread()?
                    && revision != self.revision
                {
                    self.token = current;
                    self.revision = revision;
                    return Ok(());
                }
                Err(PluginError::upstream(format!(
                    "{name} OAuth2 error: the refresh token was rejected (invalid_grant: \
                     {}). {}{}",
                    crate::errors::clip(&message, crate::errors::UPSTREAM_CHARS),
                    self.reauthorise_hint(),
                    self.provider.invalid_grant_note()
                ))
                .because(crate::errors::Cause::GrantRefused))
            }
            TokenError::Other(message) => Err(PluginError::upstream(format!(
                "{name} OAuth2 error: {message}"
            ))),
        }
    }

    fn save(&mut self, new_token: Map<String, Value>) -> Result<()> {
        let value = Value::Object(new_token.clone());
        match self
            .host
            .store_put(&self.place.path, &value, Some(self.revision))
        {
            Ok(revision) => {
                self.token = new_token;
                self.revision = revision;
                self.host.log(Level::Info, "token refreshed and saved");
                Ok(())
            }
            Err(StoreFailure::Conflict(_)) => match self.reread()? {
                Some((current, revision)) => {
                    self.host
                        .log(Level::Info, "another request saved a token first; using it");
                    self.token = current;
                    self.revision = revision;
                    Ok(())
                }
                None => Err(PluginError::upstream(format!(
                    "The token of user {} was deleted while it was being refreshed. {}",
                    self.user,
                    self.reauthorise_hint()
                ))),
            },
            Err(failure) => Err(PluginError::store(format!(
                "the refreshed token could not be saved ({failure}); the old refresh token may \
                 be used up. {}",
                self.reauthorise_hint()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pkce_is_unpadded_base64url_sha256() {
        // RFC 7636 appendix B: the verifier is base64url of the octets
        // [116, 24, 223, 180, ...] and its S256 challenge is "E9Melhoa...".
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        // Cross-checked with Python: base64.urlsafe_b64encode(hashlib.sha256(v).digest()).
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K9TPI6eLb7nKNVoNGh7bv7SSVk"),
            "C4QbbGlX7ikdJs9NMKbxHmdR6E7cicxVEue3YWnBp18"
        );
        let verifier = new_verifier(&crate::testing::MemoryHost::default());
        assert_eq!(verifier.len(), 64);
        assert!(
            verifier
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[test]
    fn state_binds_user_and_nonce() {
        let nonce = "a".repeat(64);
        let state = make_state("jack.smith", &nonce);
        assert_eq!(parse_state(&state), Some(("jack.smith", nonce.as_str())));
        assert_eq!(parse_state("jack"), None);
        assert_eq!(parse_state("jack.short"), None);
        assert_eq!(parse_state(&format!(".{nonce}")), None);
    }

    #[test]
    fn expiry_is_judged_with_a_margin() {
        let token = |v: Value| v.as_object().unwrap().clone();
        let now = 1_000_000.0;
        assert!(!token_is_expired(
            &token(json!({"expires_at": now + 61.0})),
            now
        ));
        assert!(token_is_expired(
            &token(json!({"expires_at": now + 60.0})),
            now
        ));
        assert!(token_is_expired(
            &token(json!({"expires_at": now - 5.0})),
            now
        ));
        // Integers, and numbers Igor turned into strings, count too.
        assert!(token_is_expired(
            &token(json!({"expires_at": 999_990})),
            now
        ));
        assert!(token_is_expired(
            &token(json!({"expires_at": "999990.5"})),
            now
        ));
        // Without an expiry there is nothing to refresh proactively.
        assert!(!token_is_expired(&token(json!({"access_token": "a"})), now));
        assert!(!token_is_expired(&token(json!({"expires_at": {}})), now));
    }

    #[test]
    fn token_fields_are_completed() {
        let previous = json!({"refresh_token": "old"}).as_object().unwrap().clone();
        let t = token_from_response(
            &json!({"access_token": "a", "expires_in": 3599}),
            Some(&previous),
            "google-health",
            1000.0,
        )
        .unwrap();
        assert_eq!(t["refresh_token"], "old");
        assert_eq!(t["expires_at"], 4599.0);
        // A refresh keeps the grant time of the token it refreshes.
        assert!(t.get(GRANTED_AT).is_none());
        let exchanged =
            token_from_response(&json!({"access_token": "a"}), None, "google-health", 7.0).unwrap();
        assert_eq!(exchanged[GRANTED_AT], 7.0);
        let mut older = previous.clone();
        older.insert(GRANTED_AT.into(), json!(5.0));
        let refreshed =
            token_from_response(&json!({"access_token": "b"}), Some(&older), "fitbit", 9.0)
                .unwrap();
        assert_eq!(refreshed[GRANTED_AT], 5.0);
        older.insert("healthUserId".into(), json!("42"));
        older.insert("legacyUserId".into(), json!("GGNJL9"));
        let refreshed = token_from_response(
            &json!({"access_token": "c"}),
            Some(&older),
            "google-health",
            9.0,
        )
        .unwrap();
        assert_eq!(
            (&refreshed["healthUserId"], &refreshed["legacyUserId"]),
            (&json!("42"), &json!("GGNJL9"))
        );
        assert_eq!(t["provider"], "google-health");
        assert!(token_from_response(&json!({"error": "x"}), None, "fitbit", 0.0).is_none());
    }
}
