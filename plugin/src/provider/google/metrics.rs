//! The health metrics the legacy API served as time series (SpO2, heart
//! rate variability, breathing rate, skin temperature, cardio fitness),
//! from Google's daily types, and blood glucose from its samples. Each day
//! keeps the legacy `{dateTime, value: {...}}` shape with what Google has;
//! what it has not (SpO2's minimum and maximum) is left out.

use serde_json::{Map, Value, json};

use super::convert::{self, Units, log_id, num, num_string};
use super::shape::{DataPoint, ShapeError};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use super::{GoogleHealth, LIST_PAGE_SIZE};
use crate::dates::Date;
use crate::provider::RunState;
use crate::provider::methods::series_key;

/// A day with its legacy value, if the point has what the value needs.
type DayValue = Result<Option<(Date, Value)>, ShapeError>;

/// A health metric: its legacy resource, its Google daily type, and the
/// legacy value of a point.
pub(super) struct Metric {
    pub resource: &'static str,
    pub data_type: &'static str,
    pub value: fn(&DataPoint, Units) -> DayValue,
}

/// The legacy value object, keeping only what Google gave.
fn object(fields: &[(&str, Option<Value>)]) -> Option<Value> {
    let map: Map<String, Value> = fields
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| ((*k).to_string(), v)))
        .collect();
    (!map.is_empty()).then_some(Value::Object(map))
}

/// The day of a daily point with its legacy value, if it has one.
fn day_of(date: super::shape::DateParts, value: Option<Value>) -> DayValue {
    match value {
        None => Ok(None),
        Some(value) => Ok(Some((date.date()?, value))),
    }
}

pub(super) const METRICS: &[Metric] = &[
    Metric {
        resource: "spo2",
        data_type: "daily-oxygen-saturation",
        value: |p, _| {
            let Some(m) = &p.daily_oxygen_saturation else {
                return Err(convert::missing("dailyOxygenSaturation"));
            };
            day_of(m.date, object(&[("avg", m.average_percentage.map(num))]))
        },
    },
    Metric {
        resource: "hrv",
        data_type: "daily-heart-rate-variability",
        value: |p, _| {
            let Some(m) = &p.daily_heart_rate_variability else {
                return Err(convert::missing("dailyHeartRateVariability"));
            };
            let deep = m.deep_sleep_root_mean_square_of_successive_differences_milliseconds;
            day_of(
                m.date,
                object(&[
                    (
                        "dailyRmssd",
                        m.average_heart_rate_variability_milliseconds.map(num),
                    ),
                    ("deepRmssd", deep.map(num)),
                ]),
            )
        },
    },
    Metric {
        resource: "br",
        data_type: "daily-respiratory-rate",
        value: |p, _| {
            let Some(m) = &p.daily_respiratory_rate else {
                return Err(convert::missing("dailyRespiratoryRate"));
            };
            day_of(
                m.date,
                object(&[("breathingRate", m.breaths_per_minute.map(num))]),
            )
        },
    },
    Metric {
        resource: "temp/skin",
        data_type: "daily-sleep-temperature-derivations",
        value: |p, units| {
            let Some(m) = &p.daily_sleep_temperature_derivations else {
                return Err(convert::missing("dailySleepTemperatureDerivations"));
            };
            // The legacy value is the night's difference from the baseline.
            let relative = m
                .nightly_temperature_celsius
                .zip(m.baseline_temperature_celsius)
                .map(|(night, base)| num(units.temperature_difference(night - base)));
            day_of(m.date, object(&[("nightlyRelative", relative)]))
        },
    },
    Metric {
        resource: "cardioscore",
        data_type: "daily-vo2-max",
        value: |p, _| {
            let Some(m) = &p.daily_vo2_max else {
                return Err(convert::missing("dailyVo2Max"));
            };
            // The legacy value was text ("44-48", or "46.3" with GPS runs).
            let vo2 = m.vo2_max.map(|v| Value::from(num_string(v)));
            day_of(m.date, object(&[("vo2Max", vo2)]))
        },
    },
];

pub(super) fn metric(resource: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.resource == resource)
}

/// Legacy meal of a blood-glucose measurement, as the old tracker names.
fn glucose_tracker(timing: Option<&str>) -> Option<&'static str> {
    match timing? {
        "BEFORE_MEAL" | "FASTING" => Some("Before meal"),
        "AFTER_MEAL" => Some("After meal"),
        "BEFORE_BED" | "OVER_NIGHT" => Some("Night"),
        "GENERAL" => Some("General"),
        _ => None,
    }
}

impl GoogleHealth {
    /// `time_series` of a health metric: one entry per day with data.
    pub(super) fn metric_series(
        &self,
        cx: &Ctx,
        units: Units,
        metric: &Metric,
        start: Date,
        end: Date,
    ) -> Answer<Fields> {
        let member = format!("{}.date", metric.data_type.replace('-', "_"));
        let filter = days_filter(&member, start, end);
        let what = format!("the {} list", metric.data_type);
        let points = self.list(cx, metric.data_type, Some(&filter), LIST_PAGE_SIZE)?;
        let mut days = std::collections::BTreeMap::new();
        for point in &points {
            if let Some((day, value)) =
                (metric.value)(point, units).map_err(|e| Self::bad_shape(cx, &what, e))?
            {
                days.insert(day, value);
            }
        }
        let series: Vec<Value> = days
            .into_iter()
            .map(|(day, value)| json!({"dateTime": day.to_string(), "value": value}))
            .collect();
        Ok(keyed(series_key(metric.resource), Value::Array(series)))
    }

    /// `glucose` (`date`): the day's blood glucose measurements.
    pub(super) fn glucose(&self, cx: &Ctx, state: &mut RunState, day: Date) -> Answer<Fields> {
        let units = self.units(cx, state)?;
        let filter = days_filter("blood_glucose.sample_time.civil_time", day, day);
        let what = "the blood-glucose list";
        let points = self.list(cx, "blood-glucose", Some(&filter), LIST_PAGE_SIZE)?;
        let zone = self.local().zone;
        let mut entries = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let entry = (|| {
                let sample = point
                    .blood_glucose
                    .as_ref()
                    .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].bloodGlucose")))?;
                let time = &sample.sample_time;
                let civil = convert::civil_at(
                    time.civil_time.as_ref(),
                    &time.physical_time,
                    time.utc_offset.as_deref(),
                    &zone,
                )?;
                let mg = convert::required(
                    sample.blood_glucose_milligrams_per_deciliter,
                    "bloodGlucoseMilligramsPerDeciliter",
                )?;
                let mut entry = json!({
                    "glucose": num(units.glucose(mg)),
                    "logId": log_id(&point.name),
                    "time": civil.time_text()[..5],
                });
                if let Some(tracker) = glucose_tracker(sample.measurement_timing.as_deref()) {
                    entry["tracker"] = json!(tracker);
                }
                Ok((civil, entry))
            })()
            .map_err(|e: ShapeError| Self::bad_shape(cx, what, e))?;
            entries.push(entry);
        }
        entries.sort_by_key(|(civil, _)| *civil);
        let entries = entries.into_iter().map(|(_, e)| e).collect();
        Ok(keyed("glucose", Value::Array(entries)))
    }
}
