//! Fitbit Web API data endpoints (Bearer-authenticated, rate-limited).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use chrono::{Duration, Months, NaiveDate};
use serde_json::{Value, json};

use super::model::{DayLog, FoodLog, UserData};
use super::{State, VISIT, fitbit_error, fitbit_field_error};
use crate::util::{RecordedRequest, json_response, num_string, round2};

mod detail;
mod logs;
use detail::{intraday, sleep};

type Reply = Result<Value, Response>;

const LB_PER_KG: f64 = 2.20462262;
const KG_PER_STONE: f64 = 6.35029318;
const KM_PER_MILE: f64 = 1.609344;
const M_PER_FOOT: f64 = 0.3048;
const CM_PER_INCH: f64 = 2.54;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Units {
    Metric,
    Us,
    Uk,
}

impl Units {
    /// Only the documented spellings select a unit system.
    fn from_header(v: Option<&str>) -> Units {
        match v.map(str::trim) {
            Some("en_US") => Units::Us,
            Some("en_GB") => Units::Uk,
            _ => Units::Metric,
        }
    }
    fn weight(self, kg: f64) -> f64 {
        round2(match self {
            Units::Metric => kg,
            Units::Us => kg * LB_PER_KG,
            Units::Uk => kg / KG_PER_STONE,
        })
    }
    fn distance(self, km: f64) -> f64 {
        round2(if self == Units::Us {
            km / KM_PER_MILE
        } else {
            km
        })
    }
    fn elevation(self, m: f64) -> f64 {
        round2(if self == Units::Us { m / M_PER_FOOT } else { m })
    }
    fn height(self, cm: f64) -> f64 {
        round2(if self == Units::Us {
            cm / CM_PER_INCH
        } else {
            cm
        })
    }
    fn activity(self, resource: &str, v: f64) -> f64 {
        match resource {
            "distance" => self.distance(v),
            "elevation" => self.elevation(v),
            _ => round2(v),
        }
    }
    fn label(self) -> &'static str {
        match self {
            Units::Metric => "METRIC",
            Units::Us => "en_US",
            Units::Uk => "en_GB",
        }
    }
}

/// A JSON number without a spurious `.0` for whole values (`2504`, not `2504.0`).
fn num(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

fn not_found() -> Response {
    fitbit_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "The API you are requesting could not be found.",
    )
}

fn validation(field: &str, message: String) -> Response {
    fitbit_field_error(StatusCode::BAD_REQUEST, "validation", field, &message)
}

/// Returns the response and the (user, app) key whose quota it used.
pub(super) fn handle(
    st: &mut State,
    req: &RecordedRequest,
) -> (Response, Option<(String, String)>) {
    let token = req.bearer().unwrap_or("").to_string();
    let now = st.clock.now();
    let tok = match st.access.get(&token) {
        Some(t) if !t.revoked && t.expires_at <= now => {
            let msg = format!("Access token expired: {token}. {VISIT}");
            return (
                fitbit_error(StatusCode::UNAUTHORIZED, "expired_token", &msg),
                None,
            );
        }
        Some(t) if !t.revoked => t.clone(),
        _ => {
            let msg = format!("Access token invalid: {token}. {VISIT}");
            return (
                fitbit_error(StatusCode::UNAUTHORIZED, "invalid_token", &msg),
                None,
            );
        }
    };
    let key = (tok.user.clone(), tok.client.clone());
    let (_, remaining, reset) = st.rate_status(Some(&key));
    if remaining == 0 {
        let mut r = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"errors":[{"errorType":"system","fieldName":"n/a","message":"Too Many Requests"}],"success":false}),
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(reset));
        return (r, Some(key));
    }
    st.count_call(&key);
    if let Some(t) = st.access.get_mut(&token) {
        t.used = true;
    }
    let intraday_ok = st.clients.get(&tok.client).is_none_or(|c| c.intraday);
    let ctx = Ctx {
        scopes: &tok.scopes,
        units: Units::from_header(req.header("accept-language")),
        intraday_ok,
        today: (now + Duration::milliseconds(st.user_mut(&tok.user).utc_offset_ms())).date_naive(),
    };
    let user = st.user_mut(&tok.user);
    let reply = if req.method == "GET" {
        route(&ctx, &tok.user, user, &req.path)
    } else {
        Err(not_found())
    };
    let resp = match reply {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r,
    };
    (resp, Some(key))
}

struct Ctx<'a> {
    scopes: &'a [String],
    units: Units,
    intraday_ok: bool,
    today: NaiveDate,
}

impl Ctx<'_> {
    fn need(&self, scope: &str) -> Result<(), Response> {
        if self.scopes.iter().any(|s| s == scope) {
            return Ok(());
        }
        Err(fitbit_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            &format!("This application does not have permission to access {scope} data. {VISIT}"),
        ))
    }
    fn day(&self, s: &str) -> Result<NaiveDate, Response> {
        if s == "today" {
            return Ok(self.today);
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .ok_or_else(|| validation("date", format!("Invalid date:{s}")))
    }
    fn is_day(s: &str) -> bool {
        s == "today" || (s.len() == 10 && NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
    }
    /// `{base}/{period|end}` → inclusive (start, end).
    fn range(
        &self,
        base: &str,
        second: &str,
        periods: &[&str],
        max_days: i64,
        earliest: Option<NaiveDate>,
    ) -> Result<(NaiveDate, NaiveDate), Response> {
        let base = self.day(base)?;
        if Self::is_day(second) {
            let end = self.day(second)?;
            if end < base {
                return Err(validation(
                    "endDate",
                    format!("Invalid date range: end date {end} is before start date {base}"),
                ));
            }
            if (end - base).num_days() + 1 > max_days {
                return Err(validation(
                    "endDate",
                    format!("The date range must not exceed {max_days} days"),
                ));
            }
            return Ok((base, end));
        }
        if !periods.contains(&second) {
            return Err(validation(
                "period",
                format!(
                    "Invalid period: {second}. Supported periods are {}",
                    periods.join(", ")
                ),
            ));
        }
        Ok((period_start(base, second, earliest), base))
    }
}

fn period_start(end: NaiveDate, p: &str, earliest: Option<NaiveDate>) -> NaiveDate {
    let back_months =
        |m: u32| end.checked_sub_months(Months::new(m)).unwrap_or(end) + Duration::days(1);
    match p {
        "1d" => end,
        "7d" | "1w" => end - Duration::days(6),
        "30d" => end - Duration::days(29),
        "1m" => back_months(1),
        "3m" => back_months(3),
        "6m" => back_months(6),
        "1y" => back_months(12),
        _ => earliest.unwrap_or(end).min(end), // max
    }
}

fn days(start: NaiveDate, end: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    start.iter_days().take_while(move |d| *d <= end)
}

const LOG_PERIODS: &[&str] = &["1d", "7d", "30d", "1w", "1m"];
const BODY_PERIODS: &[&str] = &["1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y", "max"];
const ACTIVITY_PERIODS: &[&str] = &["1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y"];

fn route(c: &Ctx, uid: &str, u: &UserData, path: &str) -> Reply {
    let path = path.strip_suffix(".json").ok_or_else(not_found)?;
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let Some(reply) = logs::other(c, &segs) {
        return reply;
    }
    let [ver, "user", who, rest @ ..] = segs.as_slice() else {
        return Err(not_found());
    };
    if *who != "-" && *who != uid {
        return Err(fitbit_error(
            StatusCode::FORBIDDEN,
            "insufficient_permissions",
            "API client is not authorized by Fitbit to access the resource requested.",
        ));
    }
    match (*ver, rest) {
        ("1", ["profile"]) => c.need("profile").map(|_| profile(c, uid, u)),
        ("1", ["devices"]) => c
            .need("settings")
            .map(|_| u.devices.clone().unwrap_or_else(|| u.default_devices())),
        ("1", ["body", "log", "weight", "date", d]) => weight_logs(c, u, d, d),
        ("1", ["body", "log", "weight", "date", d, p]) => weight_logs(c, u, d, p),
        ("1", ["body", "log", "fat", "date", d]) => fat_logs(c, u, d, d),
        ("1", ["body", "log", "fat", "date", d, p]) => fat_logs(c, u, d, p),
        ("1", ["body", kind @ ("weight" | "fat" | "bmi"), "date", d, p]) => {
            body_series(c, u, kind, d, p)
        }
        ("1", ["body", "date", d]) => body_summary(c, u, d),
        ("1", ["activities", "date", d]) => activity_summary(c, u, d),
        ("1", ["activities"]) => logs::lifetime(c, u),
        ("1", ["activities", q @ ("recent" | "favorite" | "frequent")]) => {
            logs::activity_list(c, q)
        }
        ("1", ["foods", "log", "recent" | "favorite" | "frequent"]) => logs::food_list(c, u),
        ("1", ["foods", "log", "date", d]) => logs::foods_log(c, u, d),
        ("1", ["foods", "log", "water", "date", d]) => logs::water_log(c, u, d),
        ("1", ["glucose", "date", d]) => logs::glucose(c, u, d),
        ("1", ["bp", "date", d]) => logs::blood_pressure(c, u, d),
        ("1", [metric, "date", d]) if logs::is_metric(metric) => {
            logs::metric(c, u, metric, d, None)
        }
        ("1", [metric, "date", d, e]) if logs::is_metric(metric) => {
            logs::metric(c, u, metric, d, Some(e))
        }
        ("1", ["temp", "skin", "date", d]) => logs::metric(c, u, "temp/skin", d, None),
        ("1", ["temp", "skin", "date", d, e]) => logs::metric(c, u, "temp/skin", d, Some(e)),
        ("1", ["activities", "heart", "date", d, p]) => heart_series(c, u, d, p),
        ("1", ["activities", res, "date", d, "1d", detail]) => intraday(c, u, res, d, detail, None),
        ("1", ["activities", res, "date", d, "1d", detail, "time", t0, t1]) => {
            intraday(c, u, res, d, detail, Some((t0, t1)))
        }
        ("1", ["activities", res, "date", d, p]) => activity_series(c, u, res, d, p),
        // python-fitbit's get_sleep sends unpadded dates (`2026-1-5`) to v1.
        ("1", ["sleep", "date", d]) => {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map(|d| d.to_string())
                .unwrap_or_else(|_| d.to_string());
            sleep(c, u, &day, &day)
        }
        ("1.2", ["sleep", "date", d]) => sleep(c, u, d, d),
        ("1.2", ["sleep", "date", d, e]) => sleep(c, u, d, e),
        ("1", ["heart", "date", d]) => {
            c.need("heartrate")?;
            let day = c.day(d)?;
            // Every tracker is in `average`, with 0 on days without a measurement.
            let resting = u.resting_hr.get(&day).copied().unwrap_or(0);
            Ok(
                json!({"average": [{"heartRate": resting, "tracker": "Resting Heart Rate"}], "heart": []}),
            )
        }
        _ => Err(not_found()),
    }
}

fn profile(c: &Ctx, uid: &str, u: &UserData) -> Value {
    let latest = u.sorted_weights().last().map_or(80.0, |w| w.weight_kg);
    let label = c.units.label();
    let mut user = json!({
        "age": 40,
        "autoStrideEnabled": true,
        "avatar": "https://static0.fitbit.com/images/profile/defaultProfile_100.png",
        "dateOfBirth": "1986-01-01",
        "displayName": "Jack",
        "distanceUnit": label,
        "encodedId": uid,
        "fullName": "Jack Tester",
        "gender": "MALE",
        "glucoseUnit": label,
        "height": c.units.height(u.height_cm()),
        "heightUnit": label,
        "locale": "en_GB",
        "memberSince": "2016-01-01",
        "offsetFromUTCMillis": 0,
        "strideLengthRunning": c.units.height(112.0),
        "strideLengthRunningType": "default",
        "strideLengthWalking": c.units.height(71.6),
        "strideLengthWalkingType": "default",
        "swimUnit": label,
        "temperatureUnit": label,
        "timezone": "UTC",
        "waterUnit": label,
        "weight": c.units.weight(latest),
        "weightUnit": label,
    });
    let obj = user.as_object_mut().expect("object");
    for (k, v) in &u.profile_overrides {
        let v = match (k.as_str(), v.as_f64()) {
            ("height", Some(cm)) => json!(c.units.height(cm)),
            ("weight", Some(kg)) => json!(c.units.weight(kg)),
            _ => v.clone(),
        };
        obj.insert(k.clone(), v);
    }
    json!({ "user": user })
}

fn in_range(date: &str, start: NaiveDate, end: NaiveDate) -> bool {
    NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok_and(|d| d >= start && d <= end)
}

fn weight_logs(c: &Ctx, u: &UserData, d: &str, p: &str) -> Reply {
    c.need("weight")?;
    let (start, end) = if d == p {
        (c.day(d)?, c.day(d)?)
    } else {
        c.range(d, p, LOG_PERIODS, 31, None)?
    };
    let list: Vec<Value> = u
        .sorted_weights()
        .into_iter()
        .filter(|w| in_range(&w.date, start, end))
        .map(|w| {
            let mut v = json!({
                "bmi": u.bmi_of(w),
                "date": w.date,
                "logId": w.id(),
                "source": w.source,
                "time": w.time,
                "weight": c.units.weight(w.weight_kg),
            });
            if let Some(fat) = w.fat {
                v["fat"] = json!(fat);
            }
            v
        })
        .collect();
    Ok(json!({ "weight": list }))
}

fn fat_logs(c: &Ctx, u: &UserData, d: &str, p: &str) -> Reply {
    c.need("weight")?;
    let (start, end) = if d == p {
        (c.day(d)?, c.day(d)?)
    } else {
        c.range(d, p, LOG_PERIODS, 30, None)?
    };
    let list: Vec<Value> = u
        .all_fat_logs()
        .into_iter()
        .filter(|f| in_range(&f.date, start, end))
        .map(|f| json!({"date": f.date, "fat": f.fat, "logId": f.id(), "source": f.source, "time": f.time}))
        .collect();
    Ok(json!({ "fat": list }))
}

/// Latest value (per `kind`) logged on or before `day`, in display units.
fn body_value_on(c: &Ctx, u: &UserData, kind: &str, day: NaiveDate) -> Option<f64> {
    let day_s = day.to_string();
    match kind {
        "fat" => u
            .all_fat_logs()
            .into_iter()
            .rev()
            .find(|f| f.date <= day_s)
            .map(|f| f.fat),
        _ => u
            .sorted_weights()
            .into_iter()
            .rev()
            .find(|w| w.date <= day_s)
            .map(|w| {
                if kind == "bmi" {
                    u.bmi_of(w)
                } else {
                    c.units.weight(w.weight_kg)
                }
            }),
    }
}

fn earliest_weight(u: &UserData) -> Option<NaiveDate> {
    u.sorted_weights()
        .first()
        .and_then(|w| NaiveDate::parse_from_str(&w.date, "%Y-%m-%d").ok())
}

fn body_series(c: &Ctx, u: &UserData, kind: &str, d: &str, p: &str) -> Reply {
    c.need("weight")?;
    let (start, end) = c.range(d, p, BODY_PERIODS, 1095, earliest_weight(u))?;
    let list: Vec<Value> = days(start, end)
        .map(|day| {
            let v = body_value_on(c, u, kind, day).unwrap_or(0.0);
            json!({"dateTime": day.to_string(), "value": num_string(v)})
        })
        .collect();
    Ok(json!({ format!("body-{kind}"): list }))
}

fn body_summary(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("weight")?;
    let day = c.day(d)?;
    Ok(json!({"body": {
        "bmi": body_value_on(c, u, "bmi", day).unwrap_or(0.0),
        "fat": body_value_on(c, u, "fat", day).unwrap_or(0.0),
        "weight": body_value_on(c, u, "weight", day).unwrap_or(0.0),
    }}))
}

fn activity_value(c: &Ctx, u: &UserData, res: &str, day: NaiveDate) -> f64 {
    let raw = u
        .activities
        .get(&(res.to_string(), day))
        .copied()
        .unwrap_or(0.0);
    c.units.activity(res, raw)
}

fn activity_series(c: &Ctx, u: &UserData, res: &str, d: &str, p: &str) -> Reply {
    c.need("activity")?;
    let (start, end) = c.range(d, p, ACTIVITY_PERIODS, 1095, None)?;
    let list: Vec<Value> = days(start, end)
        .map(|day| json!({"dateTime": day.to_string(), "value": num_string(activity_value(c, u, res, day))}))
        .collect();
    Ok(json!({ format!("activities-{res}"): list }))
}

fn activity_summary(c: &Ctx, u: &UserData, d: &str) -> Reply {
    c.need("activity")?;
    let day = c.day(d)?;
    let get = |r: &str| num(activity_value(c, u, r, day));
    let mut summary = json!({
        "activityCalories": 0,
        "caloriesBMR": 1700,
        "caloriesOut": get("calories"),
        "distances": [{"activity": "total", "distance": get("distance")}],
        "elevation": get("elevation"),
        "fairlyActiveMinutes": 0,
        "floors": get("floors"),
        "lightlyActiveMinutes": 0,
        "marginalCalories": 0,
        "sedentaryMinutes": get("minutesSedentary"),
        "steps": get("steps"),
        "veryActiveMinutes": 0,
    });
    if let Some(rhr) = u.resting_hr.get(&day) {
        summary["restingHeartRate"] = json!(rhr);
    }
    Ok(json!({
        "activities": [],
        "goals": {"activeMinutes": 30, "caloriesOut": 2500, "distance": c.units.distance(8.05), "floors": 10, "steps": 10000},
        "summary": summary,
    }))
}

fn heart_day(u: &UserData, day: NaiveDate) -> Value {
    let zones = json!([
        {"caloriesOut": 0, "max": 94, "min": 30, "minutes": 0, "name": "Out of Range"},
        {"caloriesOut": 0, "max": 131, "min": 94, "minutes": 0, "name": "Fat Burn"},
        {"caloriesOut": 0, "max": 159, "min": 131, "minutes": 0, "name": "Cardio"},
        {"caloriesOut": 0, "max": 220, "min": 159, "minutes": 0, "name": "Peak"},
    ]);
    let mut value = json!({"customHeartRateZones": [], "heartRateZones": zones});
    if let Some(rhr) = u.resting_hr.get(&day) {
        value["restingHeartRate"] = json!(rhr);
    }
    json!({"dateTime": day.to_string(), "value": value})
}

fn heart_series(c: &Ctx, u: &UserData, d: &str, p: &str) -> Reply {
    c.need("heartrate")?;
    let (start, end) = c.range(d, p, LOG_PERIODS, 366, None)?;
    Ok(
        json!({"activities-heart": days(start, end).map(|day| heart_day(u, day)).collect::<Vec<_>>()}),
    )
}
