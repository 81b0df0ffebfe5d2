//! Sending Google Health API requests: gets, `dataPoints.list` and
//! `:reconcile`, the roll-ups, their paging, and answers decoded into their
//! documented shapes (errors: `errors`).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::convert::{date_json, parse_rfc3339};
use super::errors::{retry_after, rpc_status};
use super::retry::retryable;
use super::shape::{
    self, DataPoint, LIST_FIELDS, ListPage, ROLLUP_FIELDS, RollupPage, RollupPoint, ShapeError,
    next_page,
};
use super::{GoogleHealth, LIST_PAGE_SIZE, MAX_PAGES};
use crate::dates::Date;
use crate::provider::ApiError;
use igor_plugin_sdk::{FetchRequest, FetchResponse, Host, Level};

pub(super) type Answer<T> = std::result::Result<T, ApiError>;

/// A method's answer: the fields of the legacy JSON object.
pub(super) type Fields = Map<String, Value>;

/// The answer of one field, `{key: value}`.
pub(super) fn keyed(key: impl Into<String>, value: Value) -> Fields {
    Fields::from_iter([(key.into(), value)])
}

/// `{member} >= "start" AND {member} < "end + 1"`: the days `start..=end`
/// of a date or civil-time member.
pub(super) fn days_filter(member: &str, start: Date, end: Date) -> String {
    format!(
        "{member} >= \"{start}\" AND {member} < \"{}\"",
        end.add_days(1)
    )
}

/// One method call in progress: where to send, with which token, for whom
/// and for which method (named in errors), and the app's unit `system`.
pub(super) struct Ctx<'a> {
    pub host: &'a dyn Host,
    pub token: &'a str,
    pub user: &'a str,
    pub method: &'a str,
    pub system: Option<&'a str>,
}

// How long a roll-up range may be. The dailyRollUp reference
// (https://developers.google.com/health/reference/rest/v4/users.dataTypes.dataPoints/dailyRollUp)
// settles both the bound and the limit: "range: Required. Closed-open range of data
// points that will be rolled up. [...] The maximum range for calories-in-heart-rate-zone,
// heart-rate, active-minutes and total-calories is 14 days. The maximum range for all
// other data types is 90 days." Its CivilTimeInterval says of `end`: "The exclusive end
// of the range." So a chunk of N days is sent as [first day, first day + N), never N + 1
// days, and longer windows are split into consecutive chunks. (The aggregate-data guide,
// https://developers.google.com/health/aggregate-data, describes rollUp's range the same
// way: start included, end excluded, with the same per-type limits.)
/// The longest roll-up range Google accepts for `data_type`, in days.
pub fn rollup_limit_days(data_type: &str) -> i32 {
    match data_type {
        "calories-in-heart-rate-zone" | "heart-rate" | "active-minutes" | "total-calories" => 14,
        _ => 90,
    }
}

/// A POST with a JSON body.
fn post_json(url: String, body: &Value, token: &str) -> FetchRequest {
    FetchRequest {
        method: "POST".into(),
        url,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
        credential: None,
    }
    .bearer(token)
}

/// Percent-encodes a query value (spaces as `%20`, not `+`).
pub(super) fn encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl GoogleHealth {
    /// Sends one API request and returns its JSON, mapping Google's errors.
    pub(super) fn send(&self, cx: &Ctx, request: &FetchRequest, what: &str) -> Answer<Value> {
        let response = self.exchange(cx, request, what)?;
        self.answer(cx, &response, what)
    }

    /// Sends `request`, and again after a transient refusal (429, 503, 504)
    /// while the retry budget and the pacing window allow; the last answer.
    fn exchange(&self, cx: &Ctx, request: &FetchRequest, what: &str) -> Answer<FetchResponse> {
        self.pacer
            .take(cx.host, cx.user)
            .map_err(ApiError::Failed)?;
        let mut response = self.fetch(cx, request, what)?;
        let mut attempt = 0;
        while retryable(response.status) {
            let Some(wait) = self.backoff.wait(cx.host, attempt, retry_after(&response)) else {
                break;
            };
            cx.host.log(
                Level::Info,
                &format!(
                    "{what} answered {}; retrying in {wait:.1} s",
                    response.status
                ),
            );
            cx.host.sleep(wait);
            // A retry is a request like any other: no slot, no retry.
            if self.pacer.take(cx.host, cx.user).is_err() {
                break;
            }
            response = self.fetch(cx, request, what)?;
            attempt += 1;
        }
        Ok(response)
    }

    fn fetch(&self, cx: &Ctx, request: &FetchRequest, what: &str) -> Answer<FetchResponse> {
        self.backoff.sending(cx.host);
        cx.host
            .fetch(request)
            .map_err(|e| Self::upstream(format!("Google Health error: {what}: {e}")))
    }

    /// The JSON of a successful answer, or the plugin's error for it.
    fn answer(&self, cx: &Ctx, response: &FetchResponse, what: &str) -> Answer<Value> {
        if (200..300).contains(&response.status) {
            return response.json().ok_or_else(|| {
                Self::upstream(format!(
                    "Google Health error: {}: {what} answered something that is not JSON; \
                     nothing was stored",
                    cx.method
                ))
            });
        }
        Err(self.failure(response, what, cx.user))
    }

    /// An answer of the wrong shape: a 502 naming the method.
    pub(super) fn bad_shape(cx: &Ctx, what: &str, err: ShapeError) -> ApiError {
        Self::upstream(format!(
            "Google Health error: {}: {what} answered an unexpected shape ({}); nothing was \
             stored",
            cx.method, err.0
        ))
    }

    /// `GET {api}/v4/users/me/{path}`, decoded as `T` (an object with at
    /// least one of `known` fields, or empty).
    pub(super) fn get<T: DeserializeOwned>(
        &self,
        cx: &Ctx,
        path: &str,
        what: &str,
        known: &[&str],
    ) -> Answer<T> {
        let request =
            FetchRequest::get(format!("{}/v4/users/me/{path}", self.api_url)).bearer(cx.token);
        let answer = self.send(cx, &request, what)?;
        shape::decode_answer(&answer, known).map_err(|e| Self::bad_shape(cx, what, e))
    }

    /// Like [`GoogleHealth::get`], but a 403 saying the consent does not
    /// include the scope (`ACCESS_TOKEN_SCOPE_INSUFFICIENT`) is no answer
    /// rather than an error; any other refusal is an error.
    pub(super) fn get_if_granted<T: DeserializeOwned>(
        &self,
        cx: &Ctx,
        path: &str,
        what: &str,
        known: &[&str],
    ) -> Answer<Option<T>> {
        let request =
            FetchRequest::get(format!("{}/v4/users/me/{path}", self.api_url)).bearer(cx.token);
        let response = self.exchange(cx, &request, what)?;
        if response.status == 403 && rpc_status(response.json().as_ref()).scope_insufficient() {
            cx.host.log(
                Level::Warn,
                &format!(
                    "{what} of {} not readable: the consent does not include it",
                    cx.user
                ),
            );
            return Ok(None);
        }
        let answer = self.answer(cx, &response, what)?;
        shape::decode_answer(&answer, known)
            .map(Some)
            .map_err(|e| Self::bad_shape(cx, what, e))
    }

    /// Follows `nextPageToken` (also past empty pages that still carry
    /// one) for at most [`MAX_PAGES`] pages; `request` builds the request
    /// for a page token.
    pub(super) fn pages<P: DeserializeOwned>(
        &self,
        cx: &Ctx,
        what: &str,
        known: &[&str],
        request: impl Fn(Option<&str>) -> FetchRequest,
        next: impl Fn(&P) -> Option<String>,
    ) -> Answer<Vec<P>> {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = self.send(cx, &request(token.as_deref()), what)?;
            let page: P =
                shape::decode_answer(&answer, known).map_err(|e| Self::bad_shape(cx, what, e))?;
            token = next(&page);
            pages.push(page);
            if token.is_none() {
                return Ok(pages);
            }
        }
        Err(Self::upstream(format!(
            "Google Health error: {what} still had more pages after {MAX_PAGES}; giving up"
        )))
    }

    pub(super) fn data_points_url(&self, data_type: &str) -> String {
        format!(
            "{}/v4/users/me/dataTypes/{data_type}/dataPoints",
            self.api_url
        )
    }

    /// `dataPoints.list` (or `:reconcile` with `reconcile`), all pages.
    pub(super) fn list(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
        page_size: u32,
    ) -> Answer<Vec<DataPoint>> {
        self.points(cx, data_type, filter, page_size, false)
    }

    /// The newest point of a list (lists are newest first): one page of
    /// one point, never the pages after it.
    pub(super) fn latest(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
    ) -> Answer<Option<DataPoint>> {
        Ok(self
            .first_page(cx, data_type, filter, 1)?
            .into_iter()
            .next())
    }

    /// The newest `page_size` points of a list: its first page, never the
    /// pages after it. Pages that are empty yet carry a token (Google sends
    /// them) are followed, at most [`MAX_PAGES`].
    pub(super) fn first_page(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
        page_size: u32,
    ) -> Answer<Vec<DataPoint>> {
        let what = format!("the {data_type} list");
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let request =
                self.list_request(cx, data_type, filter, page_size, false, token.as_deref());
            let answer = self.send(cx, &request, &what)?;
            let page: ListPage = shape::decode_answer(&answer, LIST_FIELDS)
                .map_err(|e| Self::bad_shape(cx, &what, e))?;
            if !page.data_points.is_empty() {
                return Ok(page.data_points);
            }
            token = next_page(&page.next_page_token);
            if token.is_none() {
                return Ok(Vec::new());
            }
        }
        Err(Self::upstream(format!(
            "Google Health error: {what} still had only empty pages after {MAX_PAGES}; giving up"
        )))
    }

    /// `dataPoints:reconcile`: one stream from all sources, for data types
    /// that are not listed (e.g. `daily-heart-rate-zones`).
    pub(super) fn reconcile(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
    ) -> Answer<Vec<DataPoint>> {
        self.points(cx, data_type, filter, LIST_PAGE_SIZE, true)
    }

    fn points(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
        page_size: u32,
        reconcile: bool,
    ) -> Answer<Vec<DataPoint>> {
        let what = format!("the {data_type} list");
        let request = |page: Option<&str>| {
            self.list_request(cx, data_type, filter, page_size, reconcile, page)
        };
        let pages: Vec<ListPage> =
            self.pages(cx, &what, LIST_FIELDS, request, |p: &ListPage| {
                next_page(&p.next_page_token)
            })?;
        Ok(pages.into_iter().flat_map(|p| p.data_points).collect())
    }

    /// A list (or reconcile) request for one page.
    fn list_request(
        &self,
        cx: &Ctx,
        data_type: &str,
        filter: Option<&str>,
        page_size: u32,
        reconcile: bool,
        page: Option<&str>,
    ) -> FetchRequest {
        let verb = if reconcile { ":reconcile" } else { "" };
        let mut url = format!(
            "{}{verb}?pageSize={page_size}",
            self.data_points_url(data_type)
        );
        if let Some(filter) = filter {
            url.push_str(&format!("&filter={}", encode(filter)));
        }
        if let Some(page) = page {
            url.push_str(&format!("&pageToken={}", encode(page)));
        }
        FetchRequest::get(url).bearer(cx.token)
    }

    /// `dataPoints:dailyRollUp` over the local days `start..=end` in
    /// windows of one day, in requests no longer than Google accepts for
    /// the data type ([`rollup_limit_days`]): `(day, window)`.
    pub(super) fn daily_rollup(
        &self,
        cx: &Ctx,
        data_type: &str,
        start: Date,
        end: Date,
    ) -> Answer<Vec<(Date, RollupPoint)>> {
        let what = format!("the {data_type} daily roll-up");
        let url = format!("{}:dailyRollUp", self.data_points_url(data_type));
        let limit = rollup_limit_days(data_type);
        let mut out = Vec::new();
        let mut first = start;
        while first <= end {
            // Closed-open: `limit` days end before `first + limit`.
            let next = first.add_days(limit).min(end.add_days(1));
            let body = json!({
                "range": {"start": {"date": date_json(first)}, "end": {"date": date_json(next)}},
                "windowSizeDays": 1,
            });
            let points = self.rollup_pages(cx, &what, &url, body)?;
            for (i, point) in points.into_iter().enumerate() {
                let day = point
                    .civil_start_time
                    .ok_or_else(|| ShapeError::new(format!("window {i} has no civilStartTime")))
                    .and_then(|c| c.date.date())
                    .map_err(|e| Self::bad_shape(cx, &what, e))?;
                out.push((day, point));
            }
            first = next;
        }
        Ok(out)
    }

    /// `dataPoints:rollUp` over the physical range `[start, end)` (RFC 3339)
    /// in windows of `window_seconds`: `(window start, epoch seconds)`.
    pub(super) fn rollup(
        &self,
        cx: &Ctx,
        data_type: &str,
        start: &str,
        end: &str,
        window_seconds: u32,
    ) -> Answer<Vec<(f64, RollupPoint)>> {
        let what = format!("the {data_type} roll-up");
        let url = format!("{}:rollUp", self.data_points_url(data_type));
        let body = json!({
            "range": {"startTime": start, "endTime": end},
            "windowSize": format!("{window_seconds}s"),
            "pageSize": LIST_PAGE_SIZE,
        });
        let points = self.rollup_pages(cx, &what, &url, body)?;
        let mut out = Vec::new();
        for (i, point) in points.into_iter().enumerate() {
            let at = point
                .start_time
                .as_deref()
                .and_then(parse_rfc3339)
                .ok_or_else(|| ShapeError::new(format!("window {i} has no valid startTime")))
                .map_err(|e| Self::bad_shape(cx, &what, e))?;
            out.push((at, point));
        }
        Ok(out)
    }

    fn rollup_pages(
        &self,
        cx: &Ctx,
        what: &str,
        url: &str,
        body: Value,
    ) -> Answer<Vec<RollupPoint>> {
        let request = |page: Option<&str>| {
            let mut body = body.clone();
            if let Some(page) = page {
                body["pageToken"] = json!(page);
            }
            post_json(url.to_string(), &body, cx.token)
        };
        let pages: Vec<RollupPage> =
            self.pages(cx, what, ROLLUP_FIELDS, request, |p: &RollupPage| {
                next_page(&p.next_page_token)
            })?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.rollup_data_points)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_percent_encoded() {
        assert_eq!(
            encode("weight.sample_time.physical_time >= \"2026-11-01T00:00:00Z\""),
            "weight.sample_time.physical_time%20%3E%3D%20%222026-11-01T00%3A00%3A00Z%22"
        );
    }
}
