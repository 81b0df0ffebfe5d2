//! Google Health API v4 endpoints: identity, settings, dataPoints list and
//! dailyRollUp, with `google.rpc.Status` errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

use super::filter::{self, FilterError};
use super::points::{DataPoint, civil};
use super::{
    InjectedError, SCOPE_ACTIVITY, SCOPE_METRICS, SCOPE_PREFIX, SCOPE_SETTINGS, SCOPE_SLEEP, State,
};
use crate::util::{RecordedRequest, html_response, json_response, short_hash};

type Reply = Result<Value, Response>;

fn status_error(code: u16, status: &str, message: &str, details: Value) -> Response {
    let http = StatusCode::from_u16(code).expect("valid status");
    json_response(
        http,
        &json!({"error": {"code": code, "message": message, "status": status, "details": details}}),
    )
}

fn info(reason: &str) -> Value {
    json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}])
}

fn invalid_argument(message: &str) -> Response {
    status_error(
        400,
        "INVALID_ARGUMENT",
        message,
        json!([{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": message}]}]),
    )
}

const CRED_HELP: &str = "Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

fn unauthenticated(message: &str, reason: &str, invalid_token: bool) -> Response {
    let mut r = status_error(
        401,
        "UNAUTHENTICATED",
        &format!("{message} {CRED_HELP}"),
        info(reason),
    );
    let v = if invalid_token {
        "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\""
    } else {
        "Bearer realm=\"https://accounts.google.com/\""
    };
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
    r
}

fn scope_insufficient() -> Response {
    status_error(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        info("ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
    )
}

fn rate_limited() -> Response {
    status_error(
        429,
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'health.googleapis.com' for consumer 'project_number:123456789'.",
        json!([
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com"},
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"subject": "project:123456789", "description": "Quota exceeded"}]}
        ]),
    )
}

fn injected(e: InjectedError) -> Response {
    match e {
        InjectedError::RateLimited => rate_limited(),
        InjectedError::ScopeInsufficient => scope_insufficient(),
        InjectedError::AccountNotLinked => status_error(
            400,
            "FAILED_PRECONDITION",
            "The account is not linked to Google Health.",
            info("ACCOUNT_NOT_LINKED"),
        ),
        InjectedError::ResourcePermissionDenied => status_error(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            info("RESOURCE_PERMISSION_DENIED"),
        ),
        InjectedError::Unavailable => status_error(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable.",
            json!([]),
        ),
    }
}

fn not_found_page(path: &str) -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        format!(
            "<!DOCTYPE html>\n<html lang=en><title>Error 404 (Not Found)!!1</title><p><b>404.</b> <ins>That’s an error.</ins><p>The requested URL <code>{}</code> was not found on this server.  <ins>That’s all we know.</ins>\n",
            crate::util::html_escape(path)
        ),
    )
}

/// Scope a data type's reads need.
fn read_scope(data_type: &str) -> Option<&'static str> {
    Some(match data_type {
        "weight" | "body-fat" | "height" | "heart-rate" | "daily-resting-heart-rate" => {
            SCOPE_METRICS
        }
        "steps" | "distance" | "floors" => SCOPE_ACTIVITY,
        "sleep" => SCOPE_SLEEP,
        _ => return None,
    })
}

struct Authed {
    user: String,
    scopes: Vec<String>,
}

pub(super) fn handle(st: &mut State, req: &RecordedRequest) -> Response {
    let segs: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let known = matches!(segs.as_slice(), ["v4", "users", _, ..]);
    if !known {
        return not_found_page(&req.path);
    }
    let a = match authenticate(st, req) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let reply = route(st, req, &a, &segs[2..]);
    match reply {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r,
    }
}

fn authenticate(st: &mut State, req: &RecordedRequest) -> Result<Authed, Response> {
    let Some(token) = req.bearer() else {
        return Err(unauthenticated(
            "Request is missing required authentication credential.",
            "CREDENTIALS_MISSING",
            false,
        ));
    };
    let now = st.clock.now();
    let tok = match st.access.get(token) {
        Some(t) if !t.revoked && t.expires_at > now => t.clone(),
        Some(t) if !t.revoked => {
            return Err(unauthenticated(
                "Request had invalid authentication credentials.",
                "ACCESS_TOKEN_EXPIRED",
                true,
            ));
        }
        _ => {
            return Err(unauthenticated(
                "Request had invalid authentication credentials.",
                "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                true,
            ));
        }
    };
    if let Some(e) = st.injected.pop_front() {
        return Err(injected(e));
    }
    if !st.user_mut(&tok.user).linked {
        return Err(injected(InjectedError::AccountNotLinked));
    }
    let minute = now.timestamp().div_euclid(60);
    let quota = st.quota_per_minute;
    let e = st.usage.entry(tok.user.clone()).or_insert((minute, 0));
    if e.0 != minute {
        *e = (minute, 0);
    }
    if e.1 >= quota {
        return Err(rate_limited());
    }
    e.1 += 1;
    Ok(Authed {
        user: tok.user,
        scopes: tok.scopes,
    })
}

fn route(st: &mut State, req: &RecordedRequest, a: &Authed, segs: &[&str]) -> Reply {
    let (who, rest) = segs.split_first().expect("users/{u}");
    if *who != "me" && *who != a.user {
        return Err(status_error(
            403,
            "PERMISSION_DENIED",
            "The caller does not have permission",
            json!([]),
        ));
    }
    let has = |s: &str| a.scopes.iter().any(|x| x == s);
    match (req.method.as_str(), rest) {
        ("GET", ["identity"]) => {
            if !a
                .scopes
                .iter()
                .any(|s| s.starts_with(SCOPE_PREFIX) && s.ends_with(".readonly"))
            {
                return Err(scope_insufficient());
            }
            let u = st.user_mut(&a.user);
            Ok(
                json!({"name": format!("users/{}/identity", a.user), "healthUserId": a.user, "legacyUserId": u.legacy_id}),
            )
        }
        ("GET", ["settings"]) => {
            if !has(SCOPE_SETTINGS) {
                return Err(scope_insufficient());
            }
            Ok(settings(st, &a.user))
        }
        (method, ["dataTypes", dt, last]) => {
            let (coll, verb) = last
                .split_once(':')
                .map_or((*last, None), |(c, v)| (c, Some(v)));
            if coll != "dataPoints" {
                return Err(not_found_page(&req.path));
            }
            let Some(scope) = read_scope(dt) else {
                return Err(invalid_argument(&format!("Unsupported data type: {dt}")));
            };
            if !has(scope) {
                return Err(scope_insufficient());
            }
            match (method, verb) {
                ("GET", None) => list(st, req, &a.user, dt),
                ("POST", Some("dailyRollUp")) => daily_rollup(st, req, &a.user, dt),
                _ => Err(not_found_page(&req.path)),
            }
        }
        _ => Err(not_found_page(&req.path)),
    }
}

fn settings(st: &mut State, user: &str) -> Value {
    let mut v = json!({
        "name": format!("users/{user}/settings"),
        "autoStrideEnabled": true,
        "distanceUnit": "DISTANCE_UNIT_KILOMETERS",
        "foodLanguageCode": "en-GB",
        "glucoseUnit": "GLUCOSE_UNIT_MMOL_L",
        "heightUnit": "HEIGHT_UNIT_CENTIMETERS",
        "languageLocale": "en_GB",
        "strideLengthRunningType": "STRIDE_LENGTH_TYPE_DEFAULT",
        "strideLengthWalkingType": "STRIDE_LENGTH_TYPE_DEFAULT",
        "swimUnit": "SWIM_UNIT_METERS",
        "temperatureUnit": "TEMPERATURE_UNIT_CELSIUS",
        "timeZone": "Europe/London",
        "utcOffset": "0s",
        "waterUnit": "WATER_UNIT_ML",
        "weightUnit": "WEIGHT_UNIT_KILOGRAMS",
    });
    let obj = v.as_object_mut().expect("object");
    obj.extend(st.user_mut(user).settings.clone());
    v
}

fn page_token(offset: usize, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{offset}:{}", short_hash(key)))
}

fn parse_page_token(tok: &str, key: &str) -> Result<usize, Response> {
    let bad = || invalid_argument("The page token is invalid.");
    let raw = URL_SAFE_NO_PAD.decode(tok).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (off, hash) = text.split_once(':').ok_or_else(bad)?;
    if hash != short_hash(key) {
        return Err(bad());
    }
    off.parse().map_err(|_| bad())
}

fn page_size(raw: Option<i64>, default: usize, max: usize) -> Result<usize, Response> {
    match raw {
        None | Some(0) => Ok(default),
        Some(n) if n < 0 => Err(invalid_argument("page_size must not be negative")),
        Some(n) => Ok((n as usize).min(max)),
    }
}

fn list(st: &mut State, req: &RecordedRequest, user: &str, dt: &str) -> Reply {
    let filter_text = req.query_value("filter").unwrap_or("");
    let filter = filter::parse(dt, filter_text).map_err(|e| match e {
        FilterError::UnsupportedMember(m) => status_error(
            400,
            "INVALID_ARGUMENT",
            &format!(
                "Invalid filter: field '{m}' is not supported for data type '{}'.",
                filter::snake(dt)
            ),
            info("INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"),
        ),
        FilterError::Malformed(m) => invalid_argument(&format!("Invalid filter: {m}")),
    })?;
    if dt == "sleep" && req.query_value("dataSourceFamily").is_some() {
        return Err(invalid_argument(
            "Filtering by data source family is not supported for sleep.",
        ));
    }
    let raw_size = match req.query_value("pageSize") {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            invalid_argument(&format!(
                "Invalid value at 'page_size' (TYPE_INT32), \"{s}\""
            ))
        })?),
    };
    let (default, max) = if dt == "sleep" {
        (25, 25)
    } else {
        (1440, 10000)
    };
    let size = page_size(raw_size, default, max)?;
    let key = format!("list|{user}|{dt}|{filter_text}");
    let offset = match req.query_value("pageToken").filter(|t| !t.is_empty()) {
        Some(t) => parse_page_token(t, &key)?,
        None => 0,
    };
    if st.empty_pages > 0 {
        st.empty_pages -= 1;
        return Ok(json!({"nextPageToken": page_token(offset, &key)}));
    }
    let u = st.user_mut(user);
    let mut points: Vec<&(String, DataPoint)> = u
        .points
        .iter()
        .filter(|(_, p)| p.data_type() == dt && filter.matches(p))
        .collect();
    points.sort_by(|(ia, a), (ib, b)| b.sort_key().cmp(&a.sort_key()).then(ib.cmp(ia)));
    let page: Vec<Value> = points
        .iter()
        .skip(offset)
        .take(size)
        .map(|(id, p)| p.to_json(user, id))
        .collect();
    let mut out = serde_json::Map::new();
    if !page.is_empty() {
        out.insert("dataPoints".into(), Value::Array(page));
    }
    if offset + size < points.len() {
        out.insert(
            "nextPageToken".into(),
            json!(page_token(offset + size, &key)),
        );
    }
    Ok(Value::Object(out))
}

fn civil_of(v: &Value) -> Option<NaiveDateTime> {
    let d = &v["date"];
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(d["year"].as_i64()?).ok()?,
        u32::try_from(d["month"].as_u64()?).ok()?,
        u32::try_from(d["day"].as_u64()?).ok()?,
    )?;
    let t = &v["time"];
    let part = |k: &str| u32::try_from(t[k].as_u64().unwrap_or(0)).ok();
    date.and_hms_opt(part("hours")?, part("minutes")?, part("seconds")?)
}

fn daily_rollup(st: &mut State, req: &RecordedRequest, user: &str, dt: &str) -> Reply {
    let body: Value = serde_json::from_str(&req.body)
        .map_err(|e| invalid_argument(&format!("Invalid JSON payload received. {e}")))?;
    if !matches!(
        dt,
        "weight" | "body-fat" | "steps" | "distance" | "floors" | "heart-rate"
    ) {
        return Err(invalid_argument(&format!(
            "Daily roll-up is not supported for data type {dt}."
        )));
    }
    let start = civil_of(&body["range"]["start"])
        .ok_or_else(|| invalid_argument("range.start is required"))?;
    let end =
        civil_of(&body["range"]["end"]).ok_or_else(|| invalid_argument("range.end is required"))?;
    if end <= start {
        return Err(invalid_argument("range.end must be after range.start"));
    }
    if start.time() != chrono::NaiveTime::MIN {
        return Err(invalid_argument(
            "range.start must be aligned with the aggregation window",
        ));
    }
    let max_days = if dt == "heart-rate" { 14 } else { 90 };
    if end - start > Duration::days(max_days) {
        return Err(invalid_argument(&format!(
            "The maximum range for {dt} is {max_days} days."
        )));
    }
    let window = match body.get("windowSizeDays").and_then(Value::as_i64) {
        None => 1,
        Some(n) if n >= 1 => n,
        Some(_) => return Err(invalid_argument("window_size_days must be positive")),
    };
    let size = page_size(body.get("pageSize").and_then(Value::as_i64), 1440, 10000)?;
    let mut key_body = body.clone();
    if let Some(o) = key_body.as_object_mut() {
        o.remove("pageToken");
        o.remove("pageSize");
    }
    let key = format!("rollup|{user}|{dt}|{key_body}");
    let offset = match body
        .get("pageToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        Some(t) => parse_page_token(t, &key)?,
        None => 0,
    };
    let u = st.user_mut(user);
    let points: Vec<&DataPoint> = u
        .points
        .iter()
        .map(|(_, p)| p)
        .filter(|p| p.data_type() == dt)
        .collect();
    let mut windows = Vec::new();
    let mut ws = start;
    while ws < end {
        let we = (ws + Duration::days(window)).min(end);
        let inside: Vec<&DataPoint> = points
            .iter()
            .copied()
            .filter(|p| (ws..we).contains(&p.civil_key()))
            .collect();
        if let Some(value) = rollup_value(dt, &inside) {
            let mut w =
                json!({"civilStartTime": civil_window(ws), "civilEndTime": civil_window(we)});
            w[rollup_field(dt)] = value;
            windows.push(w);
        }
        ws = we;
    }
    let mut out = serde_json::Map::new();
    let page: Vec<Value> = windows.iter().skip(offset).take(size).cloned().collect();
    if !page.is_empty() {
        out.insert("rollupDataPoints".into(), Value::Array(page));
    }
    if offset + size < windows.len() {
        out.insert(
            "nextPageToken".into(),
            json!(page_token(offset + size, &key)),
        );
    }
    Ok(Value::Object(out))
}

/// Window bounds: date only at midnight, else date + time.
fn civil_window(t: NaiveDateTime) -> Value {
    let mut v = civil(t);
    if t.time() == chrono::NaiveTime::MIN
        && let Some(o) = v.as_object_mut()
    {
        o.remove("time");
    }
    v
}

fn rollup_field(dt: &str) -> &'static str {
    match dt {
        "weight" => "weight",
        "body-fat" => "bodyFat",
        "steps" => "steps",
        "distance" => "distance",
        "floors" => "floors",
        _ => "heartRate",
    }
}

fn rollup_value(dt: &str, pts: &[&DataPoint]) -> Option<Value> {
    use super::points::PointValue as P;
    if pts.is_empty() {
        return None;
    }
    let nums: Vec<f64> = pts
        .iter()
        .map(|p| match &p.value {
            P::Weight { grams, .. } => *grams,
            P::BodyFat { percentage, .. } => *percentage,
            P::Steps { count, .. } | P::Floors { count, .. } => *count as f64,
            P::Distance { mm, .. } => *mm as f64,
            P::HeartRate { bpm, .. } => *bpm as f64,
            _ => 0.0,
        })
        .collect();
    let sum: f64 = nums.iter().sum();
    let avg = sum / nums.len() as f64;
    Some(match dt {
        "weight" => json!({"weightGramsAvg": avg}),
        "body-fat" => json!({"bodyFatPercentageAvg": avg}),
        "steps" | "floors" => json!({"countSum": (sum as i64).to_string()}),
        "distance" => json!({"millimetersSum": (sum as i64).to_string()}),
        _ => {
            let max = nums.iter().copied().fold(f64::MIN, f64::max) as i64;
            let min = nums.iter().copied().fold(f64::MAX, f64::min) as i64;
            json!({"beatsPerMinuteAvg": avg, "beatsPerMinuteMax": max.to_string(), "beatsPerMinuteMin": min.to_string()})
        }
    })
}
