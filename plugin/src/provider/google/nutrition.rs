//! Food and water in the legacy shapes: `foods_log` and `recent_foods` from
//! `nutrition-log`, `foods_log_water` from `hydration-log`. Google keeps no
//! food database, favourites or goals: those legacy fields are left out.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::convert::{self, Civil, Units, log_id, num};
use super::shape::{DataPoint, NutritionLog, SessionInterval, ShapeError};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use super::{GoogleHealth, LIST_PAGE_SIZE};
use crate::dates::Date;
use crate::provider::RunState;

/// Nutrition logs `recent_foods` reads (the newest, one page).
pub const RECENT_FOODS_PAGE: u32 = 100;

/// Google's meal types as the legacy `mealTypeId` (1 breakfast, 2 morning
/// snack, 3 lunch, 4 afternoon snack, 5 dinner, 6 evening snack, 7 anytime).
fn meal_type_id(meal: Option<&str>) -> u32 {
    match meal.unwrap_or("") {
        "BREAKFAST" => 1,
        "BEFORE_LUNCH" => 2,
        "LUNCH" => 3,
        "BEFORE_DINNER" => 4,
        "DINNER" => 5,
        "AFTER_DINNER" => 6,
        _ => 7,
    }
}

/// Grams of one nutrient of a log.
fn nutrient(log: &NutritionLog, name: &str) -> Option<f64> {
    log.nutrients
        .iter()
        .find(|n| n.nutrient == name)
        .and_then(|n| n.quantity.as_ref())
        .and_then(|q| q.grams)
}

/// The legacy `nutritionalValues` of a log (sodium in mg, as it was).
fn nutritional_values(log: &NutritionLog) -> Map<String, Value> {
    let grams = |q: &Option<super::shape::Quantity>| q.as_ref().and_then(|q| q.grams);
    let fields = [
        ("calories", log.energy.as_ref().and_then(|e| e.kcal)),
        ("carbs", grams(&log.total_carbohydrate)),
        ("fat", grams(&log.total_fat)),
        ("fiber", nutrient(log, "DIETARY_FIBER")),
        ("protein", nutrient(log, "PROTEIN")),
        ("sodium", nutrient(log, "SODIUM").map(|g| g * 1000.0)),
    ];
    fields
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_string(), num(v))))
        .collect()
}

/// The legacy `loggedFood` of a log.
fn logged_food(log: &NutritionLog) -> Map<String, Value> {
    let mut food = Map::new();
    if let Some(name) = &log.food_display_name {
        food.insert("name".into(), json!(name));
    }
    if let Some(amount) = log.serving.as_ref().and_then(|s| s.amount) {
        food.insert("amount".into(), num(amount));
    }
    if let Some(unit) = log
        .serving
        .as_ref()
        .and_then(|s| s.food_measurement_unit_display_name.as_ref())
    {
        food.insert("unit".into(), json!({"name": unit}));
    }
    if let Some(kcal) = log.energy.as_ref().and_then(|e| e.kcal) {
        food.insert("calories".into(), num(kcal.round()));
    }
    food.insert(
        "mealTypeId".into(),
        json!(meal_type_id(log.meal_type.as_deref())),
    );
    food
}

impl GoogleHealth {
    /// The civil start of a session in the user's days.
    pub(super) fn session_start(&self, interval: &SessionInterval) -> Result<Civil, ShapeError> {
        convert::civil_at(
            interval.civil_start_time.as_ref(),
            &interval.start_time,
            interval.start_utc_offset.as_deref(),
            &self.local().zone,
        )
    }

    /// The sessions of a data type that started on `day` (civil time).
    fn sessions_of_day(&self, cx: &Ctx, data_type: &str, day: Date) -> Answer<Vec<DataPoint>> {
        let member = format!("{}.interval.civil_start_time", data_type.replace('-', "_"));
        let filter = days_filter(&member, day, day);
        self.list(cx, data_type, Some(&filter), LIST_PAGE_SIZE)
    }

    fn nutrition_logs<'p>(
        &self,
        cx: &Ctx,
        points: &'p [DataPoint],
    ) -> Answer<Vec<(Civil, &'p DataPoint, &'p NutritionLog)>> {
        let what = "the nutrition-log list";
        let mut logs = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let log = point
                .nutrition_log
                .as_ref()
                .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].nutritionLog")))
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            let start = self
                .session_start(&log.interval)
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            logs.push((start, point, log));
        }
        logs.sort_by_key(|(start, _, _)| *start);
        Ok(logs)
    }

    /// `foods_log` (`date`): the day's food logs and their totals.
    pub(super) fn foods_log(&self, cx: &Ctx, day: Date) -> Answer<Fields> {
        let points = self.sessions_of_day(cx, "nutrition-log", day)?;
        let mut foods = Vec::new();
        let mut totals: BTreeMap<String, f64> = BTreeMap::new();
        for (start, point, log) in self.nutrition_logs(cx, &points)? {
            let values = nutritional_values(log);
            for (key, value) in &values {
                *totals.entry(key.clone()).or_default() += value.as_f64().unwrap_or(0.0);
            }
            foods.push(json!({
                "logDate": start.date.to_string(),
                "logId": log_id(&point.name),
                "loggedFood": logged_food(log),
                "nutritionalValues": values,
            }));
        }
        let summary: Map<String, Value> = totals.into_iter().map(|(k, v)| (k, num(v))).collect();
        let mut answer = keyed("foods", Value::Array(foods));
        answer.insert("summary".into(), Value::Object(summary));
        Ok(answer)
    }

    /// `recent_foods`: the foods logged last, newest first, each once.
    pub(super) fn recent_foods(&self, cx: &Ctx) -> Answer<Fields> {
        let points = self.first_page(cx, "nutrition-log", None, RECENT_FOODS_PAGE)?;
        let mut logs = self.nutrition_logs(cx, &points)?;
        logs.reverse();
        let mut seen = Vec::new();
        let mut foods = Vec::new();
        for (start, _, log) in logs {
            let name = log.food_display_name.clone().unwrap_or_default();
            if seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let mut food = logged_food(log);
            food.insert("dateLastEaten".into(), json!(start.date.to_string()));
            foods.push(Value::Object(food));
        }
        Ok(keyed("recent_foods", Value::Array(foods)))
    }

    /// `foods_log_water` (`date`): the day's water in the liquid unit.
    pub(super) fn foods_log_water(
        &self,
        cx: &Ctx,
        state: &mut RunState,
        day: Date,
    ) -> Answer<Fields> {
        let units: Units = self.units(cx, state)?;
        let what = "the hydration-log list";
        let mut logs = Vec::new();
        for (i, point) in self
            .sessions_of_day(cx, "hydration-log", day)?
            .iter()
            .enumerate()
        {
            let log = point
                .hydration_log
                .as_ref()
                .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].hydrationLog")))
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            let start = self
                .session_start(&log.interval)
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            let ml = convert::required(
                log.amount_consumed.as_ref().and_then(|a| a.milliliters),
                "amountConsumed.milliliters",
            )
            .map_err(|e| Self::bad_shape(cx, what, e))?;
            logs.push((start, log_id(&point.name), ml));
        }
        logs.sort_by_key(|log| log.0);
        let total: f64 = logs.iter().map(|(_, _, ml)| ml).sum();
        let water: Vec<Value> = logs
            .iter()
            .map(|(_, id, ml)| json!({"amount": num(units.liquid(*ml)), "logId": id}))
            .collect();
        let mut answer = keyed("summary", json!({"water": num(units.liquid(total))}));
        answer.insert("water".into(), Value::Array(water));
        Ok(answer)
    }
}
