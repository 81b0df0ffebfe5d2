//! Heart data in the two legacy shapes: `heart` (the old heart endpoint,
//! `{"average": [{heartRate, tracker}]}` with the day's resting heart rate)
//! and `time_series activities/heart` (per day, the resting heart rate and
//! the heart-rate zones with their thresholds, minutes and calories).
//!
//! Google's zones are LIGHT, MODERATE, VIGOROUS and PEAK; they are named as
//! the legacy zones they correspond to: below the fat-burn zone ("Out of
//! Range"), "Fat Burn", "Cardio" and "Peak".

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::convert::{self, num, parse_duration};
use super::scopes::{SCOPE_ACTIVITY, SCOPE_METRICS};
use super::shape::{DataPoint, ShapeError};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use super::{GoogleHealth, LIST_PAGE_SIZE, granted};
use crate::dates::Date;
use crate::provider::RunState;

/// Google's zone types and the legacy zone names, in the legacy order.
pub const ZONES: &[(&str, &str)] = &[
    ("LIGHT", "Out of Range"),
    ("MODERATE", "Fat Burn"),
    ("VIGOROUS", "Cardio"),
    ("PEAK", "Peak"),
];

/// What is known of one zone on one day.
#[derive(Debug, Default, Clone, PartialEq)]
struct Zone {
    min: Option<i64>,
    max: Option<i64>,
    minutes: Option<i64>,
    calories: Option<f64>,
}

/// One day of heart data.
#[derive(Debug, Default)]
struct Day {
    resting: Option<i64>,
    zones: BTreeMap<usize, Zone>,
}

/// The heart data of each day with any.
type Days = BTreeMap<Date, Day>;

fn zone_index(kind: &str) -> Option<usize> {
    ZONES.iter().position(|(google, _)| *google == kind)
}

impl GoogleHealth {
    /// The resting heart rate of the days `start..=end`.
    fn resting_rates(&self, cx: &Ctx, start: Date, end: Date) -> Answer<BTreeMap<Date, i64>> {
        let what = "the daily-resting-heart-rate list";
        let filter = days_filter("daily_resting_heart_rate.date", start, end);
        let points = self.list(
            cx,
            "daily-resting-heart-rate",
            Some(&filter),
            LIST_PAGE_SIZE,
        )?;
        let mut days = BTreeMap::new();
        for (i, point) in points.iter().enumerate() {
            let (day, bpm) = point
                .daily_resting_heart_rate
                .as_ref()
                .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].dailyRestingHeartRate")))
                .and_then(convert::resting_heart)
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            days.insert(day, bpm);
        }
        Ok(days)
    }

    /// `heart`: the legacy heart endpoint's shape. Its `average` list gets
    /// the day's resting heart rate (tracker "Resting Heart Rate"); the
    /// logged `heart` entries have no Google equivalent.
    pub(super) fn heart(&self, cx: &Ctx, day: Date) -> Answer<Fields> {
        let rates = self.resting_rates(cx, day, day)?;
        let average: Vec<Value> = rates
            .values()
            .map(|bpm| json!({"heartRate": bpm, "tracker": "Resting Heart Rate"}))
            .collect();
        Ok(keyed("average", Value::Array(average)))
    }

    /// The `activities-heart` entries of the days `start..=end` that have
    /// any heart data: `{dateTime, value: {heartRateZones, restingHeartRate?}}`.
    /// The resting rate and the zones' thresholds need the metrics scope,
    /// their minutes and calories the activity scope: what the consent
    /// lacks is left out of `answer`'s entries and noted there for `call`.
    pub(super) fn heart_days(
        &self,
        cx: &Ctx,
        state: &RunState,
        (start, end): (Date, Date),
        call: &str,
        answer: &mut Map<String, Value>,
    ) -> Answer<Vec<Value>> {
        let mut days = Days::new();
        if granted(state, SCOPE_METRICS) {
            self.heart_metrics(cx, start, end, &mut days)?;
        } else {
            let what = "the resting heart rate and the zones' thresholds";
            self.left_out(cx, answer, call, what, SCOPE_METRICS);
        }
        if granted(state, SCOPE_ACTIVITY) {
            self.zone_activity(cx, start, end, &mut days)?;
        } else {
            let what = "the minutes and calories in each zone";
            self.left_out(cx, answer, call, what, SCOPE_ACTIVITY);
        }
        Ok(days
            .into_iter()
            .map(|(day, data)| json!({"dateTime": day.to_string(), "value": day_value(&data)}))
            .collect())
    }

    /// Resting heart rates and zone thresholds (metrics scope).
    fn heart_metrics(&self, cx: &Ctx, start: Date, end: Date, days: &mut Days) -> Answer<()> {
        for (day, bpm) in self.resting_rates(cx, start, end)? {
            days.entry(day).or_default().resting = Some(bpm);
        }
        let what = "the daily-heart-rate-zones list";
        let filter = days_filter("daily_heart_rate_zones.date", start, end);
        let points = self.reconcile(cx, "daily-heart-rate-zones", Some(&filter))?;
        for (i, point) in points.iter().enumerate() {
            thresholds(days, i, point).map_err(|e| Self::bad_shape(cx, what, e))?;
        }
        Ok(())
    }

    /// Minutes and calories in each zone (activity scope).
    fn zone_activity(&self, cx: &Ctx, start: Date, end: Date, days: &mut Days) -> Answer<()> {
        // A day's window lists the zones with time or calories; the other
        // zones had none that day.
        let what = "the time-in-heart-rate-zone daily roll-up";
        for (day, point) in self.daily_rollup(cx, "time-in-heart-rate-zone", start, end)? {
            let zones = point.time_in_heart_rate_zone.ok_or_else(|| {
                Self::bad_shape(cx, what, convert::missing("a window's timeInHeartRateZone"))
            })?;
            let entry = days.entry(day).or_default();
            for index in 0..ZONES.len() {
                entry.zones.entry(index).or_default().minutes = Some(0);
            }
            for zone in zones.time_in_heart_rate_zones {
                let Some(index) = zone_index(&zone.heart_rate_zone) else {
                    continue;
                };
                let seconds = match zone.duration.as_deref() {
                    None => 0,
                    Some(text) => parse_duration(text).ok_or_else(|| {
                        Self::bad_shape(
                            cx,
                            what,
                            ShapeError::new(format!("{text:?} is not a duration")),
                        )
                    })?,
                };
                let slot = days.entry(day).or_default().zones.entry(index).or_default();
                slot.minutes = Some((seconds as f64 / 60.0).round() as i64);
            }
        }
        let what = "the calories-in-heart-rate-zone daily roll-up";
        for (day, point) in self.daily_rollup(cx, "calories-in-heart-rate-zone", start, end)? {
            let zones = point.calories_in_heart_rate_zone.ok_or_else(|| {
                Self::bad_shape(
                    cx,
                    what,
                    convert::missing("a window's caloriesInHeartRateZone"),
                )
            })?;
            let entry = days.entry(day).or_default();
            for index in 0..ZONES.len() {
                entry.zones.entry(index).or_default().calories = Some(0.0);
            }
            for zone in zones.calories_in_heart_rate_zones {
                if let Some(index) = zone_index(&zone.heart_rate_zone) {
                    let slot = days.entry(day).or_default().zones.entry(index).or_default();
                    slot.calories = Some(zone.kcal.unwrap_or(0.0));
                }
            }
        }
        Ok(())
    }
}

/// The zone thresholds of one `daily-heart-rate-zones` point.
fn thresholds(days: &mut Days, i: usize, point: &DataPoint) -> Result<(), ShapeError> {
    let zones = point
        .daily_heart_rate_zones
        .as_ref()
        .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].dailyHeartRateZones")))?;
    let day = zones.date.date()?;
    for zone in &zones.heart_rate_zones {
        if let Some(index) = zone_index(&zone.heart_rate_zone_type) {
            let slot = days.entry(day).or_default().zones.entry(index).or_default();
            slot.min = zone.min_beats_per_minute;
            slot.max = zone.max_beats_per_minute;
        }
    }
    Ok(())
}

/// A day's legacy `value`: zones in legacy order with what is known of
/// each, and the resting heart rate when there is one.
fn day_value(day: &Day) -> Value {
    let zones: Vec<Value> = day
        .zones
        .iter()
        .map(|(index, zone)| {
            let mut entry = Map::new();
            if let Some(kcal) = zone.calories {
                entry.insert("caloriesOut".into(), num(kcal));
            }
            if let Some(max) = zone.max {
                entry.insert("max".into(), json!(max));
            }
            if let Some(min) = zone.min {
                entry.insert("min".into(), json!(min));
            }
            if let Some(minutes) = zone.minutes {
                entry.insert("minutes".into(), json!(minutes));
            }
            entry.insert("name".into(), json!(ZONES[*index].1));
            Value::Object(entry)
        })
        .collect();
    let mut value = Map::new();
    value.insert("heartRateZones".into(), Value::Array(zones));
    if let Some(bpm) = day.resting {
        value.insert("restingHeartRate".into(), json!(bpm));
    }
    Value::Object(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_keep_only_what_google_gave() {
        let mut day = Day {
            resting: Some(58),
            ..Day::default()
        };
        day.zones.insert(
            3,
            Zone {
                min: Some(160),
                max: Some(220),
                minutes: Some(4),
                calories: None,
            },
        );
        assert_eq!(
            day_value(&day),
            json!({"heartRateZones": [{"max": 220, "min": 160, "minutes": 4, "name": "Peak"}],
                   "restingHeartRate": 58})
        );
        assert_eq!(day_value(&Day::default()), json!({"heartRateZones": []}));
    }
}
