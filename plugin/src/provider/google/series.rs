//! `time_series` from daily roll-ups: one `{dateTime, value}` per day with
//! data, values as text in the legacy units. Google leaves out the days a
//! device was not worn (and days without a measurement); so does the plugin
//! rather than invent zeros or carry values forward.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::GoogleHealth;
use super::convert::{self, Units, num_string};
use super::shape::{RollupPoint, RollupValue, ShapeError};
use super::transport::{Answer, Ctx, Fields};
use crate::dates::Date;
use crate::errors::PluginError;
use crate::provider::{ApiError, Call, RunState};

/// What a roll-up value measures, and so how it is converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Quantity {
    /// A whole count (steps, floors): an int64 sum.
    Count,
    /// Grams, averaged: the weight unit.
    Weight,
    /// A percentage, averaged.
    Percent,
    /// Millimetres, summed: the distance unit.
    Distance,
    /// Millimetres of altitude gain, summed: metres or feet.
    Elevation,
    /// Kilocalories, summed: whole kcal as the legacy API gave them.
    Kcal,
}

impl Quantity {
    /// Sums are omitted when zero (proto3 JSON): a window without its
    /// number is a true zero. Averages always have one.
    fn is_sum(self) -> bool {
        !matches!(self, Quantity::Weight | Quantity::Percent)
    }

    fn needs_units(self) -> bool {
        matches!(
            self,
            Quantity::Weight | Quantity::Distance | Quantity::Elevation
        )
    }

    /// The number in the legacy unit.
    pub(super) fn convert(self, units: Units, raw: f64) -> f64 {
        match self {
            Quantity::Count | Quantity::Percent => raw,
            Quantity::Weight => units.weight(raw),
            Quantity::Distance => units.distance(raw),
            Quantity::Elevation => units.elevation(raw),
            Quantity::Kcal => raw.round(),
        }
    }
}

/// A data type whose daily (or intraday) roll-ups answer a legacy resource.
pub(super) struct Rolled {
    /// The legacy resource, e.g. `activities/steps`.
    pub resource: &'static str,
    pub data_type: &'static str,
    /// The roll-up value's field, for messages.
    pub field: &'static str,
    pub value: fn(&RollupPoint) -> Option<&RollupValue>,
    pub number: fn(&RollupValue) -> Option<f64>,
    pub quantity: Quantity,
}

pub(super) const ROLLED: &[Rolled] = &[
    Rolled {
        resource: "body/weight",
        data_type: "weight",
        field: "weight.weightGramsAvg",
        value: |p| p.weight.as_ref(),
        number: |v| v.weight_grams_avg,
        quantity: Quantity::Weight,
    },
    Rolled {
        resource: "body/fat",
        data_type: "body-fat",
        field: "bodyFat.bodyFatPercentageAvg",
        value: |p| p.body_fat.as_ref(),
        number: |v| v.body_fat_percentage_avg,
        quantity: Quantity::Percent,
    },
    Rolled {
        resource: "activities/steps",
        data_type: "steps",
        field: "steps.countSum",
        value: |p| p.steps.as_ref(),
        number: |v| v.count_sum.map(|n| n as f64),
        quantity: Quantity::Count,
    },
    Rolled {
        resource: "activities/distance",
        data_type: "distance",
        field: "distance.millimetersSum",
        value: |p| p.distance.as_ref(),
        number: |v| v.millimeters_sum.map(|n| n as f64),
        quantity: Quantity::Distance,
    },
    Rolled {
        resource: "activities/floors",
        data_type: "floors",
        field: "floors.countSum",
        value: |p| p.floors.as_ref(),
        number: |v| v.count_sum.map(|n| n as f64),
        quantity: Quantity::Count,
    },
    Rolled {
        resource: "activities/elevation",
        data_type: "altitude",
        field: "altitude.gainMillimetersSum",
        value: |p| p.altitude.as_ref(),
        number: |v| v.gain_millimeters_sum.map(|n| n as f64),
        quantity: Quantity::Elevation,
    },
    Rolled {
        resource: "activities/calories",
        data_type: "total-calories",
        field: "totalCalories.kcalSum",
        value: |p| p.total_calories.as_ref(),
        number: |v| v.kcal_sum,
        quantity: Quantity::Kcal,
    },
];

/// Every `time_series` resource Google Health answers.
pub const RESOURCES: &[&str] = &[
    "body/weight",
    "body/fat",
    "body/bmi",
    "activities/steps",
    "activities/distance",
    "activities/floors",
    "activities/elevation",
    "activities/calories",
    "activities/heart",
    "spo2",
    "hrv",
    "br",
    "temp/skin",
    "cardioscore",
];

/// The longest window of a resource, in days. Calories and heart-rate
/// zones are rolled up 14 days per request: their windows stay short
/// enough for one run (a host allows 32 requests per run by default).
pub fn max_days(resource: &str) -> i32 {
    match resource {
        // 27 requests; the legacy API read activity series up to `1y`.
        "activities/calories" => 366,
        // 11 requests; the legacy heart series took periods up to `1m`.
        "activities/heart" => 93,
        _ => super::MAX_DAYS,
    }
}

pub(super) fn rolled(resource: &str) -> Option<&'static Rolled> {
    ROLLED.iter().find(|r| r.resource == resource)
}

/// The legacy answer key of a resource: `body/weight` → `body-weight`.
pub(super) fn series_key(resource: &str) -> String {
    crate::provider::methods::series_key(resource)
}

pub(super) fn unsupported_resource(method: &str, resource: &str) -> PluginError {
    PluginError::bad_request(format!(
        "Fitbitplugin method {method}: the resource {:?} is not available from \
         Google Health; available: {}",
        crate::errors::echo(resource),
        RESOURCES.join(", ")
    ))
}

impl Rolled {
    /// The raw number of one window; a sum's missing number is zero.
    pub(super) fn raw(&self, point: &RollupPoint) -> Result<f64, ShapeError> {
        let value = (self.value)(point)
            .ok_or_else(|| convert::missing(&format!("a window's {}", self.field)))?;
        match ((self.number)(value), self.quantity.is_sum()) {
            (Some(n), _) => Ok(n),
            (None, true) => Ok(0.0),
            (None, false) => Err(convert::missing(&format!("a window's {}", self.field))),
        }
    }
}

impl GoogleHealth {
    /// The units a quantity is given in: the run's for converted ones.
    pub(super) fn units_for(
        &self,
        cx: &Ctx,
        state: &mut RunState,
        quantity: Quantity,
    ) -> Answer<Units> {
        if quantity.needs_units() {
            self.units(cx, state)
        } else {
            Ok(Units::METRIC)
        }
    }

    /// The days of `start..=end` with data, and their numbers in the legacy
    /// unit.
    pub(super) fn daily_values(
        &self,
        cx: &Ctx,
        rolled: &Rolled,
        units: Units,
        start: Date,
        end: Date,
    ) -> Answer<BTreeMap<Date, f64>> {
        let what = format!("the {} daily roll-up", rolled.data_type);
        let mut days = BTreeMap::new();
        for (day, point) in self.daily_rollup(cx, rolled.data_type, start, end)? {
            let raw = rolled
                .raw(&point)
                .map_err(|e| Self::bad_shape(cx, &what, e))?;
            days.insert(day, rolled.quantity.convert(units, raw));
        }
        Ok(days)
    }

    /// `time_series`: the resource's daily values over the call's window.
    pub(super) fn time_series(
        &self,
        cx: &Ctx,
        state: &mut RunState,
        call: &Call,
    ) -> Answer<Fields> {
        let resource = call.args.get("resource").map(String::as_str).unwrap_or("");
        let window = self.call_window(call)?;
        let mut answer = Map::new();
        let series: Vec<Value> = match resource {
            "activities/heart" => self.heart_days(
                cx,
                state,
                (window.start, window.end),
                "time_series activities/heart",
                &mut answer,
            )?,
            "body/bmi" => self.bmi_series(cx, state, window.start, window.end)?,
            _ if super::metrics::metric(resource).is_some() => {
                let metric = super::metrics::metric(resource).expect("just found");
                let units = self.units(cx, state)?;
                return self.metric_series(cx, units, metric, window.start, window.end);
            }
            _ => {
                let rolled = rolled(resource)
                    .ok_or_else(|| ApiError::Failed(unsupported_resource(cx.method, resource)))?;
                let units = self.units_for(cx, state, rolled.quantity)?;
                self.daily_values(cx, rolled, units, window.start, window.end)?
                    .into_iter()
                    .map(|(d, v)| json!({"dateTime": d.to_string(), "value": num_string(v)}))
                    .collect()
            }
        };
        answer.insert(series_key(resource), Value::Array(series));
        Ok(answer)
    }

    /// `body/bmi`: each day's average weight over the latest height squared;
    /// no days without a height.
    fn bmi_series(
        &self,
        cx: &Ctx,
        state: &mut RunState,
        start: Date,
        end: Date,
    ) -> Answer<Vec<Value>> {
        let weight = rolled("body/weight").expect("body/weight is rolled up");
        let Some(height) = self.height(cx, state)? else {
            return Ok(Vec::new());
        };
        let grams = self.daily_values(cx, weight, Units::METRIC, start, end)?;
        Ok(grams
            .into_iter()
            .filter_map(|(d, kg)| {
                let bmi = convert::bmi(kg * 1000.0, Some(height))?;
                Some(json!({"dateTime": d.to_string(), "value": num_string(bmi)}))
            })
            .collect())
    }
}
