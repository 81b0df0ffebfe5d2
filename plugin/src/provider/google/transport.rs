//! Sending Google Health API requests: `dataPoints.list` and `dailyRollUp`
//! with their paging, and `google.rpc.Status` errors as the plugin's answers.

use serde_json::{Value, json};

use super::convert::{self, date_json};
use super::{GoogleHealth, MAX_PAGES, ROLLUP_DAYS, Window};
use crate::dates::Date;
use crate::host::{FetchRequest, FetchResponse, Host};
use crate::json::as_list;
use crate::provider::ApiError;

/// Percent-encodes a query value (spaces as `%20`, not `+`).
fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// What a `google.rpc.Status` error body says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Status {
    pub status: String,
    pub message: String,
    pub reasons: Vec<String>,
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
    /// Sends one API request and returns its JSON, mapping Google's errors.
    pub(super) fn send(
        &self,
        host: &dyn Host,
        request: &FetchRequest,
        what: &str,
        user: &str,
    ) -> std::result::Result<Value, ApiError> {
        let response = host
            .fetch(request)
            .map_err(|e| Self::upstream(format!("Google Health error: {what}: {e}")))?;
        if (200..300).contains(&response.status) {
            return response.json().ok_or_else(|| {
                Self::upstream(format!(
                    "Google Health error: {what} answered something that is not JSON"
                ))
            });
        }
        Err(self.failure(&response, what, user))
    }

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
            403 => format!(
                "Google Health error: access to {what} was refused ({reason}: {message}). The \
                 permissions {user} granted do not cover this data or were withdrawn: \
                 re-authorise {user} at {reauthorise} and allow every requested permission."
            ),
            429 => format!(
                "Google Health error: the quota was exhausted while reading {what} ({reason}: \
                 {message}). Google Health allows 300 requests per minute per user; nothing \
                 was retried, the next run will try again (or retry in a minute)."
            ),
            400 if status.status == "FAILED_PRECONDITION"
                || status.reasons.iter().any(|r| r == "ACCOUNT_NOT_LINKED") =>
            {
                format!(
                    "Google Health error: the Google account {user} authorised is not linked to \
                     Google Health / Fitbit data ({reason}: {message}). Sign in to the Fitbit \
                     app with this Google account (or move the Fitbit account to Google), then \
                     re-authorise {user} at {reauthorise}."
                )
            }
            400 => format!("Google Health error: {what} was rejected ({reason}): {message}"),
            500..=599 => format!(
                "Google Health error: {what} answered {code} ({reason}): {message}. Google \
                 Health is unavailable; the next run will try again."
            ),
            _ => format!("Google Health error: {what} answered {code} ({reason}): {message}"),
        };
        Self::upstream(text)
    }

    pub(super) fn data_points_url(&self, data_type: &str) -> String {
        format!(
            "{}/v4/users/me/dataTypes/{data_type}/dataPoints",
            self.api_url
        )
    }

    /// `dataPoints.list`, following `nextPageToken` (also past empty pages).
    pub(super) fn list(
        &self,
        host: &dyn Host,
        token: &str,
        data_type: &str,
        filter: Option<&str>,
        page_size: u32,
        user: &str,
    ) -> std::result::Result<Vec<Value>, ApiError> {
        let what = format!("the {data_type} list");
        let mut points = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{}?pageSize={page_size}", self.data_points_url(data_type));
            if let Some(filter) = filter {
                url.push_str(&format!("&filter={}", encode(filter)));
            }
            if let Some(page) = &page_token {
                url.push_str(&format!("&pageToken={}", encode(page)));
            }
            let body = self.send(host, &FetchRequest::get(url).bearer(token), &what, user)?;
            points.extend(body.get("dataPoints").map(as_list).unwrap_or_default());
            page_token = body
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if page_token.is_none() {
                return Ok(points);
            }
        }
        Err(Self::upstream(format!(
            "Google Health error: {what} still had more pages after {MAX_PAGES}; giving up"
        )))
    }

    /// `dataPoints:dailyRollUp` over `start..=end`, in requests of at most
    /// [`ROLLUP_DAYS`] days: `(civil start date, rollup union value)`.
    pub(super) fn daily_rollup(
        &self,
        host: &dyn Host,
        token: &str,
        data_type: &str,
        field: &str,
        window: Window,
        user: &str,
    ) -> std::result::Result<Vec<(Date, Value)>, ApiError> {
        let what = format!("the {data_type} daily roll-up");
        let url = format!("{}:dailyRollUp", self.data_points_url(data_type));
        let mut out = Vec::new();
        let mut chunk_start = window.start;
        while chunk_start <= window.end {
            let chunk_end = chunk_start.add_days(ROLLUP_DAYS - 1).min(window.end);
            let mut page_token: Option<String> = None;
            let mut pages = 0;
            loop {
                let mut body = json!({
                    "range": {
                        "start": {"date": date_json(chunk_start)},
                        "end": {"date": date_json(chunk_end.add_days(1))},
                    },
                    "windowSizeDays": 1,
                });
                if let Some(page) = &page_token {
                    body["pageToken"] = json!(page);
                }
                let request = FetchRequest {
                    method: "POST".into(),
                    url: url.clone(),
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: body.to_string().into_bytes(),
                    credential: None,
                }
                .bearer(token);
                let answer = self.send(host, &request, &what, user)?;
                for point in answer
                    .get("rollupDataPoints")
                    .map(as_list)
                    .unwrap_or_default()
                {
                    let date = point
                        .get("civilStartTime")
                        .and_then(convert::civil_of)
                        .map(|c| c.date);
                    if let (Some(date), Some(value)) = (date, point.get(field)) {
                        out.push((date, value.clone()));
                    }
                }
                page_token = answer
                    .get("nextPageToken")
                    .and_then(Value::as_str)
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                pages += 1;
                if page_token.is_none() {
                    break;
                }
                if pages >= MAX_PAGES {
                    return Err(Self::upstream(format!(
                        "Google Health error: {what} still had more pages after {MAX_PAGES}; \
                         giving up"
                    )));
                }
            }
            chunk_start = chunk_end.add_days(1);
        }
        Ok(out)
    }
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
        assert_eq!(
            rpc_status(Some(&json!({"error": "invalid_grant"}))),
            Status::default()
        );
    }

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(
            encode("weight.sample_time.physical_time >= \"2026-11-01T00:00:00Z\""),
            "weight.sample_time.physical_time%20%3E%3D%20%222026-11-01T00%3A00%3A00Z%22"
        );
    }
}
