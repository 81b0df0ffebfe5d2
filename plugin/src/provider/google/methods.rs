//! The legacy methods answered from Google Health: their validation before
//! anything is sent, the dispatch of each call, and `sleep`.

use serde_json::{Map, Value};

use super::convert;
use super::intraday;
use super::series::{RESOURCES, max_days, unsupported_resource};
use super::sync::{BODY_FAT, WEIGHT};
use super::transport::{Answer, Ctx, Fields};
use super::{GoogleHealth, SLEEP_PAGE_SIZE};
use crate::dates::Date;
use crate::errors::{PluginError, Result};
use crate::json::field;
use crate::provider::methods as legacy;
use crate::provider::{ApiError, Call, RunState};

impl GoogleHealth {
    /// Validates the methods and their arguments before anything is sent.
    pub(super) fn plan_calls(
        &self,
        methods: &[String],
        args: &Map<String, Value>,
    ) -> Result<Vec<Call>> {
        let calls = legacy::plan(methods, args)?;
        for call in &calls {
            if let Some(refusal) = super::unavailable::no_equivalent(call) {
                return Err(refusal);
            }
            match call.method.as_str() {
                "time_series" => {
                    let resource = call.args.get("resource").map(String::as_str).unwrap_or("");
                    if !RESOURCES.contains(&resource) {
                        return Err(unsupported_resource(&call.method, resource));
                    }
                    let window = self.window(call)?;
                    let days = window.end.to_days() - window.start.to_days() + 1;
                    if days > max_days(resource) {
                        return Err(PluginError::bad_request(format!(
                            "Fitbitplugin method time_series: Google Health gives {resource} for \
                             at most {} days at a time ({} to {} is {days} days)",
                            max_days(resource),
                            window.start,
                            window.end
                        )));
                    }
                }
                "intraday_time_series" => intraday::check(call)?,
                _ => {}
            }
            self.window(call)?;
        }
        Ok(calls)
    }

    pub(super) fn run_call(&self, cx: &Ctx, call: &Call, state: &mut RunState) -> Answer<Fields> {
        // Google Health reads the authorising user's data only.
        if let Some(id) = call.args.get("user_id").filter(|id| id.as_str() != "-") {
            let own = ["legacyUserId", "healthUserId"]
                .iter()
                .any(|k| field(&state.token, k).as_deref() == Some(id.as_str()));
            if !own {
                return Err(ApiError::Failed(PluginError::bad_request(format!(
                    "Fitbitplugin method {}: user_id {id} is not the user who authorised; \
                     Google Health reads only {}'s own data (use '-' or leave it out)",
                    call.method, cx.user
                ))));
            }
        }
        // The user's days and local times (the profile has neither).
        if !matches!(
            call.method.as_str(),
            "user_profile_get" | "recent_foods" | "recent_activities" | "activity_stats"
        ) {
            self.localise(cx, state)?;
        }
        match call.method.as_str() {
            "get_bodyweight" => self.sample_logs(cx, state, call, &WEIGHT),
            "get_bodyfat" => self.sample_logs(cx, state, call, &BODY_FAT),
            "time_series" => self.time_series(cx, state, call),
            "intraday_time_series" => self.intraday(cx, state, call),
            "body" => self.body(cx, state, self.day_of(call)?),
            "activities" => self.activities(cx, state, self.day_of(call)?),
            "heart" => self.heart(cx, self.day_of(call)?),
            "sleep" | "get_sleep" => self.sleep(cx, self.day_of(call)?),
            "foods_log" => self.foods_log(cx, self.day_of(call)?),
            "foods_log_water" => self.foods_log_water(cx, state, self.day_of(call)?),
            "recent_foods" => self.recent_foods(cx),
            "glucose" => self.glucose(cx, state, self.day_of(call)?),
            "recent_activities" | "activity_stats" => {
                let units = self.units(cx, state)?;
                self.recent_activities(cx, units, legacy::answer_key(call))
            }
            "user_profile_get" => self.user_profile(cx, state),
            "get_devices" => self.devices(cx),
            other => Err(ApiError::Failed(PluginError::bad_request(format!(
                "Fitbitplugin method {other} is not available from Google Health"
            )))),
        }
    }

    /// `sleep`: the sessions ending on the day (local civil time).
    fn sleep(&self, cx: &Ctx, day: Date) -> Answer<Fields> {
        let member = "sleep.interval.civil_end_time";
        let filter = format!(
            "{member} >= \"{day}T00:00:00\" AND {member} < \"{}T00:00:00\"",
            day.add_days(1)
        );
        let points = self.list(cx, "sleep", Some(&filter), SLEEP_PAGE_SIZE)?;
        let what = "the sleep list";
        let mut entries = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let entry = point
                .sleep
                .as_ref()
                .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].sleep")))
                .and_then(|sleep| convert::sleep_entry(&point.name, sleep, &self.local().zone))
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            entries.push(entry);
        }
        Ok(convert::sleep_answer(entries))
    }
}
