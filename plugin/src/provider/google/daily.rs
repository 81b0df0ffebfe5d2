//! The legacy daily summaries of one date: `body` (`{"body": {bmi, fat,
//! weight}}`) and `activities` (`{"summary": {...}}`), each field from its
//! Google data type and left out when Google has nothing for the day.

use serde_json::{Map, Value, json};

use super::GoogleHealth;
use super::convert::{self, num, required};
use super::series::{Quantity, rolled};
use super::sync::{BODY_FAT, SampleType, WEIGHT};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use crate::dates::Date;
use crate::provider::RunState;

/// `activities` summary fields from daily roll-ups: legacy field, resource.
const ACTIVITY_FIELDS: &[(&str, &str)] = &[
    ("caloriesOut", "activities/calories"),
    ("elevation", "activities/elevation"),
    ("floors", "activities/floors"),
    ("steps", "activities/steps"),
];

/// Google's activity levels and the legacy minutes fields.
const ACTIVE_MINUTES: &[(&str, &str)] = &[
    ("LIGHT", "lightlyActiveMinutes"),
    ("MODERATE", "fairlyActiveMinutes"),
    ("VIGOROUS", "veryActiveMinutes"),
];

impl GoogleHealth {
    /// The day's latest sample of a sample type (lists are newest first).
    fn latest_of_day(&self, cx: &Ctx, kind: &SampleType, day: Date) -> Answer<Option<f64>> {
        let member = format!(
            "{}.sample_time.civil_time",
            kind.data_type.replace('-', "_")
        );
        let filter = days_filter(&member, day, day);
        let points: Vec<_> = self
            .latest(cx, kind.data_type, Some(&filter))?
            .into_iter()
            .collect();
        let samples = self.samples(cx, kind, &points)?;
        let Some((_, measured)) = samples
            .into_iter()
            .max_by(|a, b| a.0.epoch.total_cmp(&b.0.epoch))
        else {
            return Ok(None);
        };
        let (number, name) = if kind.data_type == "weight" {
            (measured.weight_grams, "weightGrams")
        } else {
            (measured.percentage, "percentage")
        };
        let what = format!("the {} list", kind.data_type);
        required(number, name)
            .map(Some)
            .map_err(|e| Self::bad_shape(cx, &what, e))
    }

    /// `body`: the day's last weight and body fat, and the BMI of that
    /// weight with the latest height.
    pub(super) fn body(&self, cx: &Ctx, state: &mut RunState, day: Date) -> Answer<Fields> {
        let mut body = Map::new();
        if let Some(grams) = self.latest_of_day(cx, &WEIGHT, day)? {
            let units = self.units(cx, state)?;
            if let Some(bmi) = convert::bmi(grams, self.height(cx, state)?) {
                body.insert("bmi".into(), json!(bmi));
            }
            body.insert("weight".into(), json!(units.weight(grams)));
        }
        if let Some(percentage) = self.latest_of_day(cx, &BODY_FAT, day)? {
            body.insert("fat".into(), json!(convert::round2(percentage)));
        }
        Ok(keyed("body", Value::Object(body)))
    }

    /// `activities`: the day's summary from daily roll-ups.
    pub(super) fn activities(&self, cx: &Ctx, state: &mut RunState, day: Date) -> Answer<Fields> {
        let units = self.units_for(cx, state, Quantity::Distance)?;
        let mut summary = Map::new();
        let value_of = |resource: &str| -> Answer<Option<f64>> {
            let rolled = rolled(resource).expect("activity resources are rolled up");
            Ok(self.daily_values(cx, rolled, units, day, day)?.remove(&day))
        };
        for (field, resource) in ACTIVITY_FIELDS {
            if let Some(value) = value_of(resource)? {
                summary.insert((*field).into(), num(value));
            }
        }
        if let Some(km) = value_of("activities/distance")? {
            summary.insert(
                "distances".into(),
                json!([{"activity": "total", "distance": num(km)}]),
            );
        }
        let logged = self.logged_activities(cx, units, day)?;
        let what = "the active-minutes daily roll-up";
        for (_, point) in self.daily_rollup(cx, "active-minutes", day, day)? {
            let levels = point
                .active_minutes
                .ok_or_else(|| {
                    Self::bad_shape(cx, what, convert::missing("a window's activeMinutes"))
                })?
                .active_minutes_rollup_by_activity_level;
            // A window lists the levels with minutes; the others had none.
            for (level, field) in ACTIVE_MINUTES {
                let minutes = levels
                    .iter()
                    .find(|l| l.activity_level == *level)
                    .and_then(|l| l.active_minutes_sum)
                    .unwrap_or(0);
                summary.insert((*field).into(), json!(minutes));
            }
        }
        let mut answer = keyed("activities", Value::Array(logged));
        answer.insert("summary".into(), Value::Object(summary));
        Ok(answer)
    }
}
