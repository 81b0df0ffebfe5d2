//! Errors that become HTTP answers: a status and a short human-readable text.

use igor_plugin_sdk::Response;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    pub status: u16,
    pub message: String,
    /// What happened, when a caller acts on it beyond answering.
    pub cause: Option<Cause>,
    /// Seconds the caller should wait before trying again (a 429's
    /// `Retry-After`).
    pub retry_after: Option<u64>,
}

/// Failures the plugin remembers beyond the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The provider refused the user's refresh token (`invalid_grant`): the
    /// grant ended and only a new authorisation brings access back.
    GrantRefused,
}

impl PluginError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }

    /// 429: a rate limit was reached; try again in `seconds` (at least 1).
    pub fn too_many_requests(seconds: u64, message: impl Into<String>) -> Self {
        Self {
            retry_after: Some(seconds.max(1)),
            ..Self::new(429, message)
        }
    }

    pub fn because(mut self, cause: Cause) -> Self {
        self.cause = Some(cause);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }

    /// An upstream (provider or OAuth) failure.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::new(502, message)
    }

    pub fn store(err: impl std::fmt::Display) -> Self {
        Self::new(
            503,
            format!("Fitbitplugin could not use its data store: {err}"),
        )
    }

    pub fn into_response(self) -> Response {
        let mut response = Response::text(self.status, self.message);
        if let Some(seconds) = self.retry_after {
            response
                .headers
                .push(("retry-after".into(), seconds.to_string()));
        }
        response
    }
}

pub type Result<T> = std::result::Result<T, PluginError>;

/// How long to wait after a 429 that says nothing about it.
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 60;
/// The longest wait a 429 may ask for (a day); longer is taken as a day.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 86_400;

/// Seconds from a `Retry-After` (or similar) header value: whole seconds
/// only (an HTTP date is not read), within 1 s..a day.
pub fn retry_seconds(value: &str) -> Option<u64> {
    let seconds: f64 = value.trim().parse().ok().filter(|s: &f64| s.is_finite())?;
    Some((seconds.ceil().max(1.0) as u64).min(MAX_RETRY_AFTER_SECONDS))
}

/// Longest piece of caller input an error text repeats, in characters.
pub const ECHO_CHARS: usize = 64;

/// Caller input as an error text repeats it: at most [`ECHO_CHARS`]
/// characters, cut on a character boundary and marked with `…`, so that a
/// 20,000-character value is not sent back (or logged) whole.
pub fn echo(text: &str) -> String {
    clip(text, ECHO_CHARS)
}

/// Longest piece of an upstream answer an error text repeats.
pub const UPSTREAM_CHARS: usize = 500;

/// `text` cut to `max` characters on a character boundary, marked with `…`.
pub fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// The fact behind every legacy 410, in messages and on the setup page.
pub const LEGACY_API_SHUT_DOWN: &str =
    "The legacy Fitbit Web API was shut down on 2026-11-02 (HTTP 410 Gone)";

/// What the owner must do once the legacy Fitbit Web API answers 410 Gone.
pub fn legacy_shutdown_message(plugin_url: &str, user: &str) -> String {
    format!(
        "{LEGACY_API_SHUT_DOWN} and no longer serves data. Switch this installation to the \
         Google Health API: open {plugin_url}/page/setup.html?user={user}, choose the provider \
         \"google-health\", enter the Google OAuth client id and secret, and re-authorise \
         {user} ({plugin_url}/auth1?user={user}). Re-authorising replaces the legacy token."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_are_bounded_on_character_boundaries() {
        assert_eq!(echo("jack"), "jack");
        let long = "é".repeat(20_000);
        let echoed = echo(&long);
        assert_eq!(echoed.chars().count(), ECHO_CHARS + 1);
        assert!(echoed.ends_with('…'));
        assert_eq!(echo(&"x".repeat(ECHO_CHARS)), "x".repeat(ECHO_CHARS));
    }
}
