//! `get_bodyweight` and `get_bodyfat` with incremental sync, and what they
//! need: the run's units and the latest height (both cached for the day in
//! the user's bookkeeping).

use serde_json::{Map, Value, json};

use super::convert::{self, Sample, Units, merge_logs, utc_bounds};
use super::oauth::SCOPE_SETTINGS;
use super::{GoogleHealth, LIST_PAGE_SIZE};
use crate::host::{FetchRequest, Host, Level};
use crate::json::as_list;
use crate::oauth::field;
use crate::provider::{ApiError, AppSettings, Call, RunState};

impl GoogleHealth {
    /// The units of this run: `system` if set; else the user's Google
    /// settings when that scope was granted (cached for the day in the
    /// bookkeeping); else metric.
    pub(super) fn units(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Units, ApiError> {
        if let Some(system) = &app.system {
            return Ok(Units::from_system(system));
        }
        let granted = field(&state.token, "scope")
            .is_some_and(|s| s.split_whitespace().any(|s| s == SCOPE_SETTINGS));
        if !granted {
            return Ok(Units::METRIC);
        }
        let today = self.today.to_string();
        if let Some(cached) = state.sync.get("units")
            && cached.get("day").and_then(Value::as_str) == Some(today.as_str())
            && let Some(units) = cached
                .get("units")
                .and_then(Value::as_str)
                .and_then(Units::from_label)
        {
            return Ok(units);
        }
        let what = "the user's settings (units)";
        let request =
            FetchRequest::get(format!("{}/v4/users/me/settings", self.api_url)).bearer(token);
        let response = host
            .fetch(&request)
            .map_err(|e| Self::upstream(format!("Google Health error: {what}: {e}")))?;
        let units = match response.status {
            200..=299 => Units::from_settings(&response.json().unwrap_or(Value::Null)),
            // Consent without the settings permission: metric, as documented.
            403 => {
                host.log(
                    Level::Warn,
                    &format!("settings of {user} not readable; using metric units"),
                );
                Units::METRIC
            }
            _ => return Err(self.failure(&response, what, user)),
        };
        state.sync.insert(
            "units".into(),
            json!({"day": today, "units": units.label()}),
        );
        Ok(units)
    }

    /// The latest height in metres (for BMI), cached for the day.
    pub(super) fn height(
        &self,
        host: &dyn Host,
        token: &str,
        user: &str,
        state: &mut RunState,
    ) -> std::result::Result<Option<f64>, ApiError> {
        let today = self.today.to_string();
        if let Some(cached) = state.sync.get("height")
            && cached.get("day").and_then(Value::as_str) == Some(today.as_str())
        {
            return Ok(cached.get("meters").and_then(Value::as_f64));
        }
        // Newest first: one point is the latest height.
        let points = self.list(host, token, "height", None, 1, user)?;
        let meters = points
            .iter()
            .filter_map(|p| convert::sample(p, "height", self.utc_offset))
            .max_by(|a, b| a.epoch.total_cmp(&b.epoch))
            .as_ref()
            .and_then(convert::height_m);
        state
            .sync
            .insert("height".into(), json!({"day": today, "meters": meters}));
        Ok(meters)
    }

    /// `get_bodyweight` / `get_bodyfat`: the samples of the window as legacy
    /// logs. A rolling window (ending today, no explicit end) whose
    /// bookkeeping matches is synced incrementally: only samples from the
    /// last one stored on are listed and merged into the stored logs.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sample_logs(
        &self,
        host: &dyn Host,
        app: &AppSettings,
        call: &Call,
        token: &str,
        user: &str,
        state: &mut RunState,
        weight: bool,
    ) -> std::result::Result<Map<String, Value>, ApiError> {
        let (data_type, union, key) = if weight {
            ("weight", "weight", "weight")
        } else {
            ("body-fat", "bodyFat", "fat")
        };
        let window = self.window(call).map_err(ApiError::Failed)?;
        let units = if weight {
            self.units(host, app, token, user, state)?
        } else {
            Units::METRIC
        };
        let span = json!([window.start.to_string(), window.end.to_string()]);
        let record = state.sync.get(data_type).cloned().unwrap_or(Value::Null);
        // Igor's database may have turned a one-element list into a scalar.
        let stored = state.previous.get(key).map(as_list);
        let incremental = window.rolling
            && record.get("window") == Some(&span)
            && record.get("units").and_then(Value::as_str) == Some(units.label().as_str())
            && stored.is_some();
        let (start, end) = utc_bounds(window.start, window.end, self.utc_offset);
        let since = incremental
            .then(|| {
                record
                    .get("last")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .flatten();
        let lower = since.clone().unwrap_or(start);
        let member = format!("{}.sample_time.physical_time", data_type.replace('-', "_"));
        let filter = format!("{member} >= \"{lower}\" AND {member} < \"{end}\"");
        let points = self.list(host, token, data_type, Some(&filter), LIST_PAGE_SIZE, user)?;
        let samples: Vec<Sample> = points
            .iter()
            .filter_map(|p| convert::sample(p, union, self.utc_offset))
            .collect();
        let height = if weight {
            self.height(host, token, user, state)?
        } else {
            None
        };
        let entries: Vec<Value> = samples
            .iter()
            .filter_map(|s| {
                if weight {
                    convert::weight_entry(s, units, height)
                } else {
                    convert::fat_entry(s)
                }
            })
            .collect();
        let older = if incremental {
            stored.unwrap_or_default()
        } else {
            Vec::new()
        };
        let logs = merge_logs(older, entries);
        if window.rolling {
            let newest = samples
                .iter()
                .max_by(|a, b| a.epoch.total_cmp(&b.epoch))
                .map(|s| (s.epoch, s.physical.clone()));
            let previous_last = since.and_then(|t| convert::parse_rfc3339(&t).map(|e| (e, t)));
            let last = match (newest, previous_last) {
                (Some(a), Some(b)) => Some(if a.0 >= b.0 { a.1 } else { b.1 }),
                (a, b) => a.or(b).map(|x| x.1),
            };
            state.sync.insert(
                data_type.into(),
                json!({"window": span, "units": units.label(), "last": last}),
            );
        } else {
            // Explicit dates replace the stored logs with another window.
            state.sync.remove(data_type);
        }
        let mut answer = Map::new();
        answer.insert(key.into(), Value::Array(logs));
        Ok(answer)
    }
}
