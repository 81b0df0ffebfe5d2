//! `intraday_time_series` from `dataPoints:rollUp` over one local day (or
//! the `start_time`..`end_time` part of it) in windows of the detail level:
//! `activities-X` (the day's summary, as `time_series`) and
//! `activities-X-intraday` `{dataset: [{time, value}], datasetInterval,
//! datasetType}`. Google leaves out windows without data (device not
//! worn), so the dataset has only windows with data.

use serde_json::{Map, Value, json};

use super::convert::{Zone, format_rfc3339, num, num_string};
use super::scopes::SCOPE_METRICS;
use super::series::{Quantity, rolled, series_key, unsupported_resource};
use super::transport::{Answer, Ctx, Fields, keyed};
use super::{GoogleHealth, granted};
use crate::dates::valid_time;
use crate::errors::{PluginError, Result};
use crate::provider::{ApiError, Call, RunState};

/// The resources with intraday data: the activity series of
/// [`super::RESOURCES`].
fn intraday_resources() -> Vec<&'static str> {
    let resources = super::RESOURCES.iter().copied();
    resources.filter(|r| r.starts_with("activities/")).collect()
}

/// Window seconds of a detail level; `1sec` only for heart rate, as in the
/// legacy API.
fn window_seconds(resource: &str, detail: &str) -> Option<u32> {
    match detail {
        "1sec" if resource == "activities/heart" => Some(1),
        "1min" => Some(60),
        "15min" => Some(900),
        _ => None,
    }
}

/// `HH:MM` as hours and minutes (checked by the plan before).
fn hours_minutes(time: &str) -> (u32, u32) {
    let (h, m) = time.split_once(':').unwrap_or(("0", "0"));
    (h.parse().unwrap_or(0), m.parse().unwrap_or(0))
}

fn minutes_of(time: &str) -> u32 {
    let (h, m) = hours_minutes(time);
    h * 60 + m
}

/// Checks an intraday call before anything is sent.
pub fn check(call: &Call) -> Result<()> {
    let arg = |k: &str| call.args.get(k).map(String::as_str);
    let resource = arg("resource").unwrap_or("");
    let intraday = intraday_resources();
    if !intraday.contains(&resource) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin method intraday_time_series: the resource {resource:?} has no \
             intraday data in Google Health; available: {}",
            intraday.join(", ")
        )));
    }
    let detail = arg("detail_level").unwrap_or("1min");
    if window_seconds(resource, detail).is_none() {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin method intraday_time_series: detail_level {detail} is not available \
             for {resource} (1sec is for activities/heart only)"
        )));
    }
    if let (Some(start), Some(end)) = (arg("start_time"), arg("end_time"))
        && valid_time(start)
        && valid_time(end)
        && minutes_of(end) < minutes_of(start)
    {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin method intraday_time_series: end_time {end} is before start_time \
             {start}"
        )));
    }
    Ok(())
}

impl GoogleHealth {
    pub(super) fn intraday(&self, cx: &Ctx, state: &mut RunState, call: &Call) -> Answer<Fields> {
        let arg = |k: &str| call.args.get(k).map(String::as_str);
        let resource = arg("resource").unwrap_or("");
        let detail = arg("detail_level").unwrap_or("1min");
        let seconds = window_seconds(resource, detail)
            .ok_or_else(|| ApiError::Failed(unsupported_resource(cx.method, resource)))?;
        let day = self.day_of(call)?;
        // The user's day, or the asked part of it, in their zone (a day of
        // a daylight-saving change has 23 or 25 hours).
        let zone = self.local().zone;
        let (start, end) = match (arg("start_time"), arg("end_time")) {
            (Some(from), Some(to)) => {
                let (fh, fm) = hours_minutes(from);
                let (th, tm) = hours_minutes(to);
                (zone.instant(day, fh, fm), zone.instant(day, th, tm) + 60)
            }
            _ => (zone.start_of(day), zone.start_of(day.add_days(1))),
        };
        let (start, end) = (format_rfc3339(start), format_rfc3339(end));
        let heart = resource == "activities/heart";
        let mut notes = Map::new();
        let (summary, dataset) = if heart {
            let call = "intraday_time_series activities/heart";
            let windows = if granted(state, SCOPE_METRICS) {
                self.rollup(cx, "heart-rate", &start, &end, seconds)?
            } else {
                self.left_out(cx, &mut notes, call, "the heart rate", SCOPE_METRICS);
                Vec::new()
            };
            let what = "the heart-rate roll-up";
            let mut dataset = Vec::new();
            for (at, point) in windows {
                let bpm = point
                    .heart_rate
                    .and_then(|v| v.beats_per_minute_avg)
                    .ok_or_else(|| {
                        Self::bad_shape(
                            cx,
                            what,
                            super::convert::missing("a window's heartRate.beatsPerMinuteAvg"),
                        )
                    })?;
                dataset.push((at, num(bpm.round())));
            }
            let summary = self.heart_days(cx, state, (day, day), call, &mut notes)?;
            (summary, dataset)
        } else {
            let rolled = rolled(resource)
                .ok_or_else(|| ApiError::Failed(unsupported_resource(cx.method, resource)))?;
            let units = self.units_for(cx, state, rolled.quantity)?;
            let what = format!("the {} roll-up", rolled.data_type);
            let mut dataset = Vec::new();
            for (at, point) in self.rollup(cx, rolled.data_type, &start, &end, seconds)? {
                let raw = rolled
                    .raw(&point)
                    .map_err(|e| Self::bad_shape(cx, &what, e))?;
                let value = match rolled.quantity {
                    // Within a day, legacy calories kept their decimals.
                    Quantity::Kcal => raw,
                    quantity => quantity.convert(units, raw),
                };
                dataset.push((at, num(value)));
            }
            let summary = self
                .daily_values(cx, rolled, units, day, day)?
                .into_iter()
                .map(|(d, v)| json!({"dateTime": d.to_string(), "value": num_string(v)}))
                .collect();
            (summary, dataset)
        };
        let mut answer = answer(resource, summary, dataset, seconds, &zone);
        answer.extend(notes);
        Ok(answer)
    }
}

/// The legacy answer: the summary and the windows in time order, at the
/// local time of their start.
fn answer(
    resource: &str,
    summary: Vec<Value>,
    mut dataset: Vec<(f64, Value)>,
    seconds: u32,
    zone: &Zone,
) -> Fields {
    // Google answers newest first.
    dataset.sort_by(|a, b| a.0.total_cmp(&b.0));
    let dataset: Vec<Value> = dataset
        .into_iter()
        .map(|(at, value)| json!({"time": zone.civil(at).time_text(), "value": value}))
        .collect();
    let key = series_key(resource);
    let (interval, kind) = match seconds {
        1 => (1, "second"),
        s => (s / 60, "minute"),
    };
    let mut answer = keyed(key.clone(), Value::Array(summary));
    answer.insert(
        format!("{key}-intraday"),
        json!({"dataset": dataset, "datasetInterval": interval, "datasetType": kind}),
    );
    answer
}

#[cfg(test)]
mod tests {
    use super::super::convert::parse_rfc3339;
    use super::*;

    #[test]
    fn windows_are_ordered_and_local() {
        let a = answer(
            "activities/steps",
            vec![json!({"dateTime": "2026-11-20", "value": "30"})],
            vec![
                (parse_rfc3339("2026-11-20T07:41:00Z").unwrap(), json!(20)),
                (parse_rfc3339("2026-11-20T07:40:00Z").unwrap(), json!(10)),
            ],
            60,
            &Zone::fixed(3600),
        );
        assert_eq!(
            a["activities-steps-intraday"],
            json!({"dataset": [{"time": "08:40:00", "value": 10}, {"time": "08:41:00", "value": 20}],
                   "datasetInterval": 1, "datasetType": "minute"})
        );
    }

    #[test]
    fn detail_levels_follow_the_legacy_api() {
        assert_eq!(window_seconds("activities/heart", "1sec"), Some(1));
        assert_eq!(window_seconds("activities/steps", "1sec"), None);
        assert_eq!(window_seconds("activities/steps", "15min"), Some(900));
    }
}
