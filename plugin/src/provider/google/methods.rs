//! The legacy methods answered from Google Health: which are available,
//! their validation, and the time series, heart and sleep answers.

use serde_json::{Map, Value, json};

use super::super::fitbit_methods;
use super::convert::{self, Units, int64};
use super::{GoogleHealth, LIST_PAGE_SIZE, SLEEP_PAGE_SIZE};
use crate::dates::Date;
use crate::errors::{PluginError, Result};
use crate::host::Host;
use crate::oauth::field;
use crate::provider::{ApiError, AppSettings, Call, RunState};

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

impl GoogleHealth {
    pub(super) fn plan_calls(
        &self,
        methods: &[String],
        args: &Map<String, Value>,
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

    pub(super) fn run_call(
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
