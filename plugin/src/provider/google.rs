//! The Google Health API v4 with Google OAuth 2.0 (authorization code with
//! PKCE and offline access, client credentials in the form body,
//! non-rotating refresh tokens, 1-hour access tokens).
//!
//! The legacy methods keep their names, arguments and output shapes; each
//! is answered from Google Health data types (see `docs/google-health.md`).
//! Methods without a Google equivalent are refused in [`GoogleHealth::plan`],
//! before anything is sent.

use serde_json::{Map, Value, json};

use super::fitbit_methods;
use super::google_convert::{
    self as convert, Sample, Units, date_json, int64, merge_logs, period_start, utc_bounds,
};
use super::{ApiError, AppSettings, CLIENT_SECRET, Call, Provider, RunState, TokenError, endpoint};
use crate::api::Request;
use crate::dates::Date;
use crate::errors::{PluginError, Result};
use crate::host::{Credential, FetchRequest, FetchResponse, Host, Level};
use crate::json::{as_list, as_text};
use crate::oauth::{field, token_form};

pub const SCOPE_METRICS: &str =
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly";
pub const SCOPE_ACTIVITY: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
pub const SCOPE_SLEEP: &str = "https://www.googleapis.com/auth/googlehealth.sleep.readonly";
pub const SCOPE_SETTINGS: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";

/// Page size of sample lists (the API's maximum).
pub const LIST_PAGE_SIZE: u32 = 10_000;
/// Page size of sleep lists (the API's maximum for sleep).
pub const SLEEP_PAGE_SIZE: u32 = 25;
/// Pages followed per list before giving up (a guard against loops).
pub const MAX_PAGES: usize = 50;
/// Longest window any method reads; also what `period=max` means.
pub const MAX_DAYS: i32 = 1095;
/// Longest `dailyRollUp` range per request.
pub const ROLLUP_DAYS: i32 = 90;

/// Legacy methods Google Health cannot answer, and what to use instead.
pub const UNAVAILABLE: &[(&str, &str)] = &[
    (
        "intraday_time_series",
        "time_series (daily values) with resource activities/steps, activities/distance, \
         activities/floors, body/weight or body/fat",
    ),
    (
        "body",
        "get_bodyweight, get_bodyfat, or time_series with resource body/weight or body/fat",
    ),
    (
        "activities",
        "time_series with resource activities/steps, activities/distance or activities/floors",
    ),
    (
        "user_profile_get",
        "none in this plugin (the Google identity, healthUserId and legacyUserId, is stored \
         with the token)",
    ),
    (
        "get_devices",
        "the 'source' of each get_bodyweight or get_bodyfat entry names the device",
    ),
];

/// `time_series` resources: legacy resource, Google data type, rollup
/// union field, legacy output key.
pub const RESOURCES: &[(&str, &str, &str, &str)] = &[
    ("body/weight", "weight", "weight", "body-weight"),
    ("body/fat", "body-fat", "bodyFat", "body-fat"),
    ("activities/steps", "steps", "steps", "activities-steps"),
    (
        "activities/distance",
        "distance",
        "distance",
        "activities-distance",
    ),
    ("activities/floors", "floors", "floors", "activities-floors"),
];

fn resource_names() -> String {
    RESOURCES.iter().map(|r| r.0).collect::<Vec<_>>().join(", ")
}

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

pub struct GoogleHealth {
    api_url: String,
    authorize_url: String,
    token_url: String,
    revoke_url: String,
    plugin_url: String,
    today: Date,
    /// The host's offset east of UTC: local days → UTC filter bounds.
    utc_offset: i32,
}

/// The window of local days a call reads, and whether it ends today
/// without explicit dates (then it may be synced incrementally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Date,
    pub end: Date,
    pub rolling: bool,
}

impl GoogleHealth {
    pub fn from_config(request: &Request, plugin_url: String) -> Self {
        Self {
            api_url: endpoint(request, "google_api_url", "https://health.googleapis.com"),
            authorize_url: endpoint(
                request,
                "google_authorize_url",
                "https://accounts.google.com/o/oauth2/v2/auth",
            ),
            token_url: endpoint(
                request,
                "google_token_url",
                "https://oauth2.googleapis.com/token",
            ),
            revoke_url: endpoint(
                request,
                "google_revoke_url",
                "https://oauth2.googleapis.com/revoke",
            ),
            plugin_url,
            today: Date::from_epoch(0.0, 0),
            utc_offset: request.context.utc_offset_seconds,
        }
    }

    /// Sets "today" (the host's local date) for calls without a date.
    pub fn with_today(mut self, today: Date) -> Self {
        self.today = today;
        self
    }

    fn date_arg(&self, call: &Call, key: &str) -> Option<Date> {
        call.args.get(key).map(|v| match v.as_str() {
            "today" => self.today,
            other => Date::parse(other).unwrap_or(self.today),
        })
    }

    /// The local days a call covers, as the legacy API read its arguments:
    /// `base_date` + `period` ends on `base_date`; `base_date` + `end_date`
    /// runs from one to the other; `date` is one day; default today.
    pub fn window(&self, call: &Call) -> Result<Window> {
        let arg = |k: &str| call.args.get(k).map(String::as_str);
        if matches!(call.method.as_str(), "sleep" | "heart") {
            let day = self.date_arg(call, "date").unwrap_or(self.today);
            return Ok(Window {
                start: day,
                end: day,
                rolling: false,
            });
        }
        let base = self.date_arg(call, "base_date").unwrap_or(self.today);
        let (start, end) = match (arg("period"), self.date_arg(call, "end_date")) {
            (Some(period), _) => (period_start(base, period, MAX_DAYS), base),
            (_, Some(end)) => (base, end),
            _ => (base, base),
        };
        if end < start {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin method {}: end_date {end} is before base_date {start}",
                call.method
            )));
        }
        if end.to_days() - start.to_days() + 1 > MAX_DAYS {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin method {}: Google Health reads at most {MAX_DAYS} days at a time \
                 ({start} to {end} is longer)",
                call.method
            )));
        }
        Ok(Window {
            start,
            end,
            rolling: end == self.today && !call.args.contains_key("end_date"),
        })
    }

    fn upstream(message: String) -> ApiError {
        ApiError::Failed(PluginError::upstream(message))
    }

    /// Sends one API request and returns its JSON, mapping Google's errors.
    fn send(
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

    fn data_points_url(&self, data_type: &str) -> String {
        format!(
            "{}/v4/users/me/dataTypes/{data_type}/dataPoints",
            self.api_url
        )
    }

    /// `dataPoints.list`, following `nextPageToken` (also past empty pages).
    fn list(
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
    fn daily_rollup(
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

    /// The units of this run: `system` if set; else the user's Google
    /// settings when that scope was granted (cached for the day in the
    /// bookkeeping); else metric.
    fn units(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Units, ApiError> {
        if let Some(system) = &app.system {
            return Ok(Units::from_system(system));
        }
        let granted = field(&state.token, "scope")
            .is_some_and(|s| s.split_whitespace().any(|s| s == SCOPE_SETTINGS));
        if !granted {
            return Ok(Units::METRIC);
        }
        let today = self.today.to_string();
        if let Some(cached) = state.sync.get("units")
            && cached.get("day").and_then(Value::as_str) == Some(today.as_str())
            && let Some(units) = cached
                .get("units")
                .and_then(Value::as_str)
                .and_then(Units::from_label)
        {
            return Ok(units);
        }
        let what = "the user's settings (units)";
        let request =
            FetchRequest::get(format!("{}/v4/users/me/settings", self.api_url)).bearer(token);
        let response = host
            .fetch(&request)
            .map_err(|e| Self::upstream(format!("Google Health error: {what}: {e}")))?;
        let units = match response.status {
            200..=299 => Units::from_settings(&response.json().unwrap_or(Value::Null)),
            // Consent without the settings permission: metric, as documented.
            403 => {
                host.log(
                    Level::Warn,
                    &format!("settings of {user} not readable; using metric units"),
                );
                Units::METRIC
            }
            _ => return Err(self.failure(&response, what, user)),
        };
        state.sync.insert(
            "units".into(),
            json!({"day": today, "units": units.label()}),
        );
        Ok(units)
    }

    /// The latest height in metres (for BMI), cached for the day.
    fn height(
        &self,
        host: &dyn Host,
        token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Option<f64>, ApiError> {
        let today = self.today.to_string();
        if let Some(cached) = state.sync.get("height")
            && cached.get("day").and_then(Value::as_str) == Some(today.as_str())
        {
            return Ok(cached.get("meters").and_then(Value::as_f64));
        }
        // Newest first: one point is the latest height.
        let points = self.list(host, token, "height", None, 1, user)?;
        let meters = points
            .iter()
            .filter_map(|p| convert::sample(p, "height", self.utc_offset))
            .max_by(|a, b| a.epoch.total_cmp(&b.epoch))
            .as_ref()
            .and_then(convert::height_m);
        state
            .sync
            .insert("height".into(), json!({"day": today, "meters": meters}));
        Ok(meters)
    }

    /// `get_bodyweight` / `get_bodyfat`: the samples of the window as legacy
    /// logs. A rolling window (ending today, no explicit end) whose
    /// bookkeeping matches is synced incrementally: only samples from the
    /// last one stored on are listed and merged into the stored logs.
    #[allow(clippy::too_many_arguments)]
    fn sample_logs(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        token: &str,
        user: &str,
        state: &mut RunState,
        weight: bool,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let (data_type, union, key) = if weight {
            ("weight", "weight", "weight")
        } else {
            ("body-fat", "bodyFat", "fat")
        };
        let window = self.window(call).map_err(ApiError::Failed)?;
        let units = if weight {
            self.units(host, app, token, user, state)?
        } else {
            Units::METRIC
        };
        let span = json!([window.start.to_string(), window.end.to_string()]);
        let record = state.sync.get(data_type).cloned().unwrap_or(Value::Null);
        // Igor's database may have turned a one-element list into a scalar.
        let stored = state.previous.get(key).map(as_list);
        let incremental = window.rolling
            && record.get("window") == Some(&span)
            && record.get("units").and_then(Value::as_str) == Some(units.label().as_str())
            && stored.is_some();
        let (start, end) = utc_bounds(window.start, window.end, self.utc_offset);
        let since = incremental
            .then(|| {
                record
                    .get("last")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .flatten();
        let lower = since.clone().unwrap_or(start);
        let member = format!("{}.sample_time.physical_time", data_type.replace('-', "_"));
        let filter = format!("{member} >= \"{lower}\" AND {member} < \"{end}\"");
        let points = self.list(host, token, data_type, Some(&filter), LIST_PAGE_SIZE, user)?;
        let samples: Vec<Sample> = points
            .iter()
            .filter_map(|p| convert::sample(p, union, self.utc_offset))
            .collect();
        let height = if weight {
            self.height(host, token, user, state)?
        } else {
            None
        };
        let entries: Vec<Value> = samples
            .iter()
            .filter_map(|s| {
                if weight {
                    convert::weight_entry(s, units, height)
                } else {
                    convert::fat_entry(s)
                }
            })
            .collect();
        let older = if incremental {
            stored.unwrap_or_default()
        } else {
            Vec::new()
        };
        let logs = merge_logs(older, entries);
        if window.rolling {
            let newest = samples
                .iter()
                .max_by(|a, b| a.epoch.total_cmp(&b.epoch))
                .map(|s| (s.epoch, s.physical.clone()));
            let previous_last = since.and_then(|t| convert::parse_rfc3339(&t).map(|e| (e, t)));
            let last = match (newest, previous_last) {
                (Some(a), Some(b)) => Some(if a.0 >= b.0 { a.1 } else { b.1 }),
                (a, b) => a.or(b).map(|x| x.1),
            };
            state.sync.insert(
                data_type.into(),
                json!({"window": span, "units": units.label(), "last": last}),
            );
        } else {
            // Explicit dates replace the stored logs with another window.
            state.sync.remove(data_type);
        }
        let mut answer = Map::new();
        answer.insert(key.into(), Value::Array(logs));
        Ok(answer)
    }

    /// `time_series` from `dailyRollUp`: one `{dateTime, value}` per day,
    /// values as text in the legacy units.
    fn time_series(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let resource = call.args.get("resource").map(String::as_str).unwrap_or("");
        let Some(&(_, data_type, union, key)) = RESOURCES.iter().find(|r| r.0 == resource) else {
            return Err(ApiError::Failed(unsupported_resource(resource)));
        };
        let window = self.window(call).map_err(ApiError::Failed)?;
        let units = if matches!(data_type, "weight" | "distance") {
            self.units(host, app, token, user, state)?
        } else {
            Units::METRIC
        };
        let rolled = self.daily_rollup(host, token, data_type, union, window, user)?;
        let value_of = |v: &Value| -> Option<String> {
            let number = |k: &str| v.get(k).and_then(crate::json::as_f64);
            Some(match data_type {
                "weight" => convert::num_string(units.weight(number("weightGramsAvg")?)),
                "body-fat" => convert::num_string(number("bodyFatPercentageAvg")?),
                "distance" => convert::num_string(units.distance(number("millimetersSum")?)),
                _ => int64(v.get("countSum"))?.to_string(),
            })
        };
        let mut by_day: std::collections::BTreeMap<Date, String> = rolled
            .iter()
            .filter_map(|(d, v)| Some((*d, value_of(v)?)))
            .collect();
        // Activity series have every day (0 without data); body series only
        // days with a measurement (Google does not carry values forward).
        if data_type != "weight" && data_type != "body-fat" {
            let mut day = window.start;
            while day <= window.end {
                by_day.entry(day).or_insert_with(|| "0".into());
                day = day.add_days(1);
            }
        }
        let series: Vec<Value> = by_day
            .into_iter()
            .map(|(d, v)| json!({"dateTime": d.to_string(), "value": v}))
            .collect();
        let mut answer = Map::new();
        answer.insert(key.into(), Value::Array(series));
        Ok(answer)
    }

    /// `heart`: the day's resting heart rate.
    fn heart(
        &self,
        host: &dyn Host,
        call: &Call,
        token: &str,
        user: &str,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let window = self.window(call).map_err(ApiError::Failed)?;
        let member = "daily_resting_heart_rate.date";
        let filter = format!(
            "{member} >= \"{}\" AND {member} < \"{}\"",
            window.start,
            window.end.add_days(1)
        );
        let points = self.list(
            host,
            token,
            "daily-resting-heart-rate",
            Some(&filter),
            LIST_PAGE_SIZE,
            user,
        )?;
        let mut days: Vec<(Date, Value)> = points
            .iter()
            .filter_map(convert::resting_heart_entry)
            .collect();
        days.sort_by_key(|(d, _)| *d);
        days.dedup_by_key(|(d, _)| *d);
        let mut answer = Map::new();
        answer.insert(
            "activities-heart".into(),
            Value::Array(days.into_iter().map(|(_, v)| v).collect()),
        );
        Ok(answer)
    }

    /// `sleep`: the sessions ending on the day (local civil time).
    fn sleep(
        &self,
        host: &dyn Host,
        call: &Call,
        token: &str,
        user: &str,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let window = self.window(call).map_err(ApiError::Failed)?;
        let member = "sleep.interval.civil_end_time";
        let filter = format!(
            "{member} >= \"{}T00:00:00\" AND {member} < \"{}T00:00:00\"",
            window.start,
            window.end.add_days(1)
        );
        let points = self.list(host, token, "sleep", Some(&filter), SLEEP_PAGE_SIZE, user)?;
        let entries = points
            .iter()
            .filter_map(|p| convert::sleep_entry(p, self.utc_offset))
            .collect();
        Ok(convert::sleep_answer(entries))
    }
}

fn unsupported_resource(resource: &str) -> PluginError {
    PluginError::bad_request(format!(
        "Fitbitplugin method time_series: the resource {resource:?} is not available from \
         Google Health; alternatives: {}",
        resource_names()
    ))
}

impl Provider for GoogleHealth {
    fn id(&self) -> &'static str {
        "google-health"
    }

    fn name(&self) -> &'static str {
        "Google Health"
    }

    fn authorize_url(
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
    fn token_request(&self, app: &AppSettings, fields: &[(&str, &str)]) -> FetchRequest {
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

    fn revoke_request(
        &self,
        _app: &AppSettings,
        token: &Map<String, Value>,
    ) -> Option<FetchRequest> {
        let token = field(token, "refresh_token").or_else(|| field(token, "access_token"))?;
        Some(token_form(&self.revoke_url, &[("token", &token)]))
    }

    /// RFC 6749 errors: `{"error": "invalid_grant", "error_description": ..}`.
    fn token_error(&self, response: &FetchResponse) -> TokenError {
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

    fn invalid_grant_note(&self) -> &'static str {
        " Google refresh tokens of apps whose OAuth consent screen is in \"Testing\" publishing \
         status expire after 7 days: publish the app (Google Cloud console, OAuth consent \
         screen, Publish app) or re-authorise every week. Tokens also end when the user \
         removes the app's access or leaves them unused for 6 months."
    }

    /// Reads `GET /v4/users/me/identity` and keeps `healthUserId` and
    /// `legacyUserId` with the token. A failure does not fail the
    /// authorisation (the token is good; the ids are informational): it is
    /// logged, and data calls report any real problem.
    fn after_authorisation(&self, host: &dyn Host, token: &mut Map<String, Value>) -> Result<()> {
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
        Ok(())
    }

    fn plan(
        &self,
        methods: &[String],
        args: &Map<String, Value>,
        _today: Date,
    ) -> Result<Vec<Call>> {
        for method in methods {
            if let Some((_, alternatives)) = UNAVAILABLE.iter().find(|(m, _)| m == method) {
                return Err(PluginError::bad_request(format!(
                    "Fitbitplugin method {method} is not available from Google Health; \
                     alternatives: {alternatives}"
                )));
            }
        }
        let calls = fitbit_methods::plan(methods, args)?;
        for call in &calls {
            if call.method == "time_series" {
                let resource = call.args.get("resource").map(String::as_str).unwrap_or("");
                if !RESOURCES.iter().any(|r| r.0 == resource) {
                    return Err(unsupported_resource(resource));
                }
            }
            self.window(call)?;
        }
        Ok(calls)
    }

    fn execute(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        access_token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        // Google Health reads the authorising user's data only.
        if let Some(id) = call.args.get("user_id").filter(|id| id.as_str() != "-") {
            let own = ["legacyUserId", "healthUserId"]
                .iter()
                .any(|k| field(&state.token, k).as_deref() == Some(id.as_str()));
            if !own {
                return Err(ApiError::Failed(PluginError::bad_request(format!(
                    "Fitbitplugin method {}: user_id {id} is not the user who authorised; \
                     Google Health reads only {user}'s own data (use '-' or leave it out)",
                    call.method
                ))));
            }
        }
        match call.method.as_str() {
            "get_bodyweight" => self.sample_logs(host, app, call, access_token, user, state, true),
            "get_bodyfat" => self.sample_logs(host, app, call, access_token, user, state, false),
            "time_series" => self.time_series(host, app, call, access_token, user, state),
            "heart" => self.heart(host, call, access_token, user),
            "sleep" => self.sleep(host, call, access_token, user),
            other => Err(ApiError::Failed(PluginError::bad_request(format!(
                "Fitbitplugin method {other} is not available from Google Health"
            )))),
        }
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
