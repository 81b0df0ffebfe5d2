//! Google's `google.rpc.Status` error answers, told apart by their reason,
//! and what each means for the owner: missing consent, a legacy Fitbit
//! account that consented instead of a Google Account, an account without
//! Google Health data, the quota, or an outage.

use serde_json::Value;

use super::GoogleHealth;
use crate::errors::{DEFAULT_RETRY_AFTER_SECONDS, PluginError, retry_seconds};
use crate::json::as_list;
use crate::provider::ApiError;
use igor_plugin_sdk::FetchResponse;

/// What a `google.rpc.Status` error body says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Status {
    pub status: String,
    pub message: String,
    pub reasons: Vec<String>,
}

impl Status {
    pub fn has_reason(&self, reason: &str) -> bool {
        self.reasons.iter().any(|r| r == reason)
    }

    /// The consent does not include the data's scope.
    pub fn scope_insufficient(&self) -> bool {
        self.has_reason("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    }

    /// Google's answer when a legacy Fitbit account (not yet moved to a
    /// Google Account) gave the consent: the token cannot be exchanged for
    /// Fitbit data ("Could not mint UberMint from GaiaMint").
    pub fn legacy_fitbit_account(&self) -> bool {
        let message = self.message.to_ascii_lowercase();
        message.contains("ubermint") || message.contains("gaiamint")
    }
}

pub fn rpc_status(body: Option<&Value>) -> Status {
    let Some(error) = body.and_then(|b| b.get("error")).filter(|e| e.is_object()) else {
        return Status::default();
    };
    let text = |k: &str| {
        error
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    Status {
        status: text("status"),
        message: text("message"),
        reasons: error
            .get("details")
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(|d| d.get("reason").and_then(Value::as_str))
            .map(str::to_string)
            .collect(),
    }
}

impl GoogleHealth {
    /// Google's `google.rpc.Status` errors as the plugin's answers.
    pub fn failure(&self, response: &FetchResponse, what: &str, user: &str) -> ApiError {
        let code = response.status;
        let status = rpc_status(response.json().as_ref());
        let message = if status.message.is_empty() {
            response.text().chars().take(300).collect::<String>()
        } else {
            status.message.clone()
        };
        let reason = status
            .reasons
            .first()
            .map(|r| format!("{}/{r}", status.status))
            .unwrap_or_else(|| status.status.clone());
        let reauthorise = format!("{}/auth1?user={user}", self.plugin_url);
        let text = match code {
            401 => return ApiError::Expired,
            403 if status.legacy_fitbit_account() => format!(
                "Google Health error: {what} was refused ({reason}: {message}): the account that \
                 authorised {user} is a Fitbit account that has not been moved to a Google \
                 Account, and Google Health serves only Google Accounts. Move the Fitbit \
                 account to a Google Account in the Fitbit app (\"Move to Google\"), then \
                 re-authorise {user} at {reauthorise} signing in with that Google Account."
            ),
            403 if status.scope_insufficient() => format!(
                "Google Health error: access to {what} was refused ({reason}: {message}). The \
                 permissions {user} granted do not cover this data: re-authorise {user} at \
                 {reauthorise} and allow every requested permission."
            ),
            403 => format!(
                "Google Health error: access to {what} was refused ({reason}: {message}). Google \
                 no longer honours {user}'s grant for this data: remove this app's access in \
                 the Google Account ({user}'s Third-party connections) and re-authorise {user} \
                 at {reauthorise}."
            ),
            429 => {
                let seconds = retry_after(response).unwrap_or(DEFAULT_RETRY_AFTER_SECONDS);
                return ApiError::Failed(PluginError::too_many_requests(
                    seconds,
                    format!(
                        "Google Health error: the quota was exhausted while reading {what} \
                         ({reason}: {message}). Google Health allows 300 requests per minute \
                         per user; retry in {seconds} s."
                    ),
                ));
            }
            400 if status.has_reason("ACCOUNT_NOT_LINKED") => format!(
                "Google Health error: the Google account {user} authorised is not linked to \
                 Google Health / Fitbit data ({reason}: {message}). Sign in to the Fitbit app \
                 with this Google account (or move the Fitbit account to Google), then \
                 re-authorise {user} at {reauthorise}."
            ),
            400 => format!("Google Health error: {what} was rejected ({reason}): {message}"),
            500..=599 => format!(
                "Google Health error: {what} answered {code} ({reason}): {message}. Google \
                 Health is unavailable; the next run will try again."
            ),
            _ => format!("Google Health error: {what} answered {code} ({reason}): {message}"),
        };
        Self::upstream(text)
    }
}

/// When Google says to retry a 429: a `Retry-After` header, or the
/// `google.rpc.RetryInfo` detail's `retryDelay` (`"30s"`). Neither is
/// documented for the Health API, so both are read if present.
pub fn retry_after(response: &FetchResponse) -> Option<u64> {
    if let Some(seconds) = response.header("retry-after").and_then(retry_seconds) {
        return Some(seconds);
    }
    let body = response.json()?;
    let details = body.get("error")?.get("details").map(as_list)?;
    details
        .iter()
        .filter(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with("google.rpc.RetryInfo"))
        })
        .filter_map(|d| d.get("retryDelay").and_then(Value::as_str))
        .find_map(|delay| retry_seconds(delay.strip_suffix('s').unwrap_or(delay)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_rpc_status() {
        let body = json!({"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED",
            "details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"ACCESS_TOKEN_SCOPE_INSUFFICIENT","domain":"googleapis.com"}]}});
        let status = rpc_status(Some(&body));
        assert_eq!(status.status, "PERMISSION_DENIED");
        assert_eq!(status.reasons, vec!["ACCESS_TOKEN_SCOPE_INSUFFICIENT"]);
        assert!(status.scope_insufficient() && !status.legacy_fitbit_account());
        assert_eq!(
            rpc_status(Some(&json!({"error": "invalid_grant"}))),
            Status::default()
        );
        let mint = json!({"error": {"code": 403, "message": "Could not mint UberMint from GaiaMint",
            "status": "PERMISSION_DENIED"}});
        assert!(rpc_status(Some(&mint)).legacy_fitbit_account());
    }

    #[test]
    fn a_429_says_when_to_retry_if_google_does() {
        let answer = |headers: Vec<(String, String)>, body: Value| FetchResponse {
            status: 429,
            headers,
            body: body.to_string().into_bytes(),
        };
        let exhausted = json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED"}]}});
        assert_eq!(retry_after(&answer(vec![], exhausted.clone())), None);
        let header = vec![("Retry-After".to_string(), "17".to_string())];
        assert_eq!(retry_after(&answer(header, exhausted)), Some(17));
        let info = json!({"error": {"code": 429, "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}]}});
        assert_eq!(retry_after(&answer(vec![], info)), Some(3));
        let header = vec![("retry-after".to_string(), "999999".to_string())];
        assert_eq!(retry_after(&answer(header, json!({}))), Some(86_400));
    }
}
