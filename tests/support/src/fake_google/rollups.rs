//! `dataPoints:rollUp` (physical windows of `windowSize` seconds) and
//! `dataPoints:dailyRollUp` (civil windows of `windowSizeDays` days), as
//! documented: closed-open ranges no longer than the type's limit (14 or 90
//! days, [`super::types`]), windows aligned to the range start with the last
//! one truncated, windows without data omitted, newest window first, pages
//! of at most 10000 (default 1440), int64 sums as strings and zero sums
//! omitted (proto3 JSON), heart-rate averages, maxima and minima as doubles.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};

use super::State;
use super::api::{Reply, info, invalid_argument, status_error};
use super::paging::{offset_of, page, page_size};
use super::points::{DataPoint, PointValue, civil, rfc3339};
use super::types::TypeInfo;
use crate::util::RecordedRequest;

fn body_of(req: &RecordedRequest) -> Result<Value, axum::response::Response> {
    serde_json::from_str(&req.body)
        .map_err(|e| invalid_argument(&format!("Invalid JSON payload received. {e}")))
}

/// The paging key of a request: its body without the paging fields.
fn key_of(kind: &str, user: &str, dt: &str, body: &Value) -> String {
    let mut key_body = body.clone();
    if let Some(o) = key_body.as_object_mut() {
        o.remove("pageToken");
        o.remove("pageSize");
    }
    format!("{kind}|{user}|{dt}|{key_body}")
}

fn check_range(dt: &TypeInfo, length: Duration) -> Result<(), axum::response::Response> {
    if length <= Duration::zero() {
        return Err(invalid_argument("range.end must be after range.start"));
    }
    if length > Duration::days(dt.limit_days) {
        return Err(invalid_argument(&format!(
            "The maximum range for {} is {} days.",
            dt.name, dt.limit_days
        )));
    }
    Ok(())
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

/// The windows of `window` over the range `[start, end)` that hold points
/// of `dt` (placed by `at`), each with its bounds (`bounds`) and roll-up
/// value, the last one cut at `end`.
fn windows<T>(
    st: &mut State,
    user: &str,
    dt: &TypeInfo,
    at: impl Fn(&DataPoint) -> T,
    (start, end): (T, T),
    window: Duration,
    bounds: impl Fn(T, T) -> Value,
) -> Vec<Value>
where
    T: Copy + Ord + std::ops::Sub<Output = Duration> + std::ops::Add<Duration, Output = T>,
{
    let mut buckets: BTreeMap<i64, Vec<&DataPoint>> = BTreeMap::new();
    for (_, p) in &st.user_mut(user).points {
        let t = at(p);
        if p.data_type() == dt.name && t >= start && t < end {
            let index = (t - start).num_milliseconds() / window.num_milliseconds();
            buckets.entry(index).or_default().push(p);
        }
    }
    buckets
        .into_iter()
        .map(|(index, inside)| {
            let ws = start + window * index as i32;
            let mut w = bounds(ws, (ws + window).min(end));
            w[dt.rollup.expect("rolled up")] = rollup_value(dt.name, &inside);
            w
        })
        .collect()
}

/// Newest first, paged.
fn answer(st: &State, mut windows: Vec<Value>, body: &Value, key: &str) -> Reply {
    windows.reverse();
    let size = page_size(body.get("pageSize").and_then(Value::as_i64), 1440, 10000)?
        .min(st.max_page_size.unwrap_or(usize::MAX));
    let offset = offset_of(body.get("pageToken").and_then(Value::as_str), key)?;
    Ok(page(&windows, "rollupDataPoints", offset, size, key))
}

pub(super) fn daily_rollup(
    st: &mut State,
    req: &RecordedRequest,
    user: &str,
    dt: &TypeInfo,
) -> Reply {
    let body = body_of(req)?;
    let start = civil_of(&body["range"]["start"])
        .ok_or_else(|| invalid_argument("range.start is required"))?;
    let end =
        civil_of(&body["range"]["end"]).ok_or_else(|| invalid_argument("range.end is required"))?;
    check_range(dt, end - start)?;
    if start.time() != chrono::NaiveTime::MIN {
        return Err(invalid_argument(
            "range.start must be aligned with the aggregation window",
        ));
    }
    let days = match body.get("windowSizeDays").and_then(Value::as_i64) {
        None => 1,
        Some(n) if n >= 1 => n,
        Some(_) => return Err(invalid_argument("window_size_days must be positive")),
    };
    let windows = windows(
        st,
        user,
        dt,
        DataPoint::civil_key,
        (start, end),
        Duration::days(days),
        |ws, we| json!({"civilStartTime": civil_window(ws), "civilEndTime": civil_window(we)}),
    );
    answer(st, windows, &body, &key_of("daily", user, dt.name, &body))
}

/// A `google.protobuf.Duration` in seconds (`"60s"`, `"0.5s"`).
fn window_size(text: Option<&str>) -> Result<Duration, axum::response::Response> {
    let bad = || {
        status_error(
            400,
            "INVALID_ARGUMENT",
            "window_size must be a duration of at least 1 second.",
            info("INVALID_ROLLUP_WINDOW"),
        )
    };
    let seconds: f64 = text
        .and_then(|t| t.strip_suffix('s'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    if seconds < 1.0 {
        return Err(bad());
    }
    Ok(Duration::milliseconds((seconds * 1000.0) as i64))
}

pub(super) fn rollup(st: &mut State, req: &RecordedRequest, user: &str, dt: &TypeInfo) -> Reply {
    let body = body_of(req)?;
    let time = |k: &str| -> Result<DateTime<Utc>, axum::response::Response> {
        body["range"][k]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid_argument(&format!("range.{k} is required (RFC 3339)")))
    };
    let (start, end) = (time("startTime")?, time("endTime")?);
    let window = window_size(body.get("windowSize").and_then(Value::as_str))?;
    check_range(dt, end - start)?;
    let windows = windows(
        st,
        user,
        dt,
        DataPoint::sort_key,
        (start, end),
        window,
        |ws, we| json!({"startTime": rfc3339(ws), "endTime": rfc3339(we)}),
    );
    answer(st, windows, &body, &key_of("rollup", user, dt.name, &body))
}

/// An int64 sum as proto3 JSON writes it: a string, left out when zero.
fn sum_field(field: &str, sum: i64) -> Value {
    if sum == 0 {
        json!({})
    } else {
        json!({ field: sum.to_string() })
    }
}

/// Sums per heart-rate zone or activity level, in the API's order.
fn per_kind(
    pts: &[&DataPoint],
    value: impl Fn(&PointValue) -> Option<(&str, f64)>,
) -> Vec<(String, f64)> {
    let order = ["LIGHT", "MODERATE", "VIGOROUS", "PEAK"];
    let mut sums: BTreeMap<usize, (String, f64)> = BTreeMap::new();
    for p in pts {
        if let Some((kind, v)) = value(&p.value) {
            let rank = order.iter().position(|k| *k == kind).unwrap_or(order.len());
            let slot = sums.entry(rank).or_insert((kind.to_string(), 0.0));
            slot.1 += v;
        }
    }
    sums.into_values().collect()
}

/// The roll-up value of a non-empty window.
fn rollup_value(dt: &str, pts: &[&DataPoint]) -> Value {
    use PointValue as P;
    let nums: Vec<f64> = pts
        .iter()
        .map(|p| match &p.value {
            P::Weight { grams, .. } => *grams,
            P::BodyFat { percentage, .. } => *percentage,
            P::Steps { count, .. } | P::Floors { count, .. } => *count as f64,
            P::Distance { mm, .. } => *mm as f64,
            P::Altitude { gain_mm, .. } => *gain_mm as f64,
            P::HeartRate { bpm, .. } => *bpm as f64,
            P::TotalCalories { kcal, .. } => *kcal,
            P::Hydration { ml, .. } => *ml,
            P::Glucose { mg_dl, .. } => *mg_dl,
            P::Nutrition { log, .. } => log["energy"]["kcal"].as_f64().unwrap_or(0.0),
            _ => 0.0,
        })
        .collect();
    let sum: f64 = nums.iter().sum();
    let avg = sum / nums.len() as f64;
    match dt {
        "weight" => json!({"weightGramsAvg": avg}),
        "body-fat" => json!({"bodyFatPercentageAvg": avg}),
        "steps" | "floors" => sum_field("countSum", sum as i64),
        "distance" => sum_field("millimetersSum", sum as i64),
        "altitude" => sum_field("gainMillimetersSum", sum as i64),
        "hydration-log" => json!({"amountConsumed": {"millilitersSum": sum}}),
        "blood-glucose" => json!({"bloodGlucoseMilligramsPerDeciliterAvg": avg}),
        "nutrition-log" => json!({"energy": {"kcalSum": sum}}),
        "total-calories" if sum == 0.0 => json!({}),
        "total-calories" => json!({"kcalSum": sum}),
        "heart-rate" => {
            let max = nums.iter().copied().fold(f64::MIN, f64::max);
            let min = nums.iter().copied().fold(f64::MAX, f64::min);
            json!({"beatsPerMinuteAvg": avg, "beatsPerMinuteMax": max, "beatsPerMinuteMin": min})
        }
        "active-minutes" => {
            let levels: Vec<Value> = per_kind(pts, |v| match v {
                P::ActiveMinutes { level, minutes, .. } => Some((level.as_str(), *minutes as f64)),
                _ => None,
            })
            .into_iter()
            .map(|(level, sum)| {
                let mut entry = sum_field("activeMinutesSum", sum as i64);
                entry["activityLevel"] = json!(level);
                entry
            })
            .collect();
            json!({"activeMinutesRollupByActivityLevel": levels})
        }
        "time-in-heart-rate-zone" => {
            let zones: Vec<Value> = per_kind(pts, |v| match v {
                P::TimeInZone { zone, start, end } => {
                    Some((zone.as_str(), (*end - *start).num_seconds() as f64))
                }
                _ => None,
            })
            .into_iter()
            .map(
                |(zone, seconds)| json!({"heartRateZone": zone, "duration": format!("{seconds}s")}),
            )
            .collect();
            json!({"timeInHeartRateZones": zones})
        }
        _ => {
            let zones: Vec<Value> = per_kind(pts, |v| match v {
                P::CaloriesInZone { zone, kcal, .. } => Some((zone.as_str(), *kcal)),
                _ => None,
            })
            .into_iter()
            .map(|(zone, kcal)| json!({"heartRateZone": zone, "kcal": kcal}))
            .collect();
            json!({"caloriesInHeartRateZones": zones})
        }
    }
}
