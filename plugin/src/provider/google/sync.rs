//! `get_bodyweight` and `get_bodyfat` with incremental sync, and what many
//! methods need: the run's units, the user's settings and the latest
//! height (units and height cached for the day in the user's bookkeeping).

use serde_json::{Map, Value, json};

use super::convert::{self, Sample, Units, merge_logs, required, utc_bounds};
use super::scopes::SCOPE_SETTINGS;
use super::shape::{DataPoint, Measured, SETTINGS_FIELDS, Settings};
use super::transport::{Answer, Ctx};
use super::{GoogleHealth, LIST_PAGE_SIZE, granted};
use crate::json::as_list;
use crate::provider::{ApiError, AppSettings, Call, RunState};

/// A sample-type data type: its name, its field in a data point, the
/// legacy log key, and its payload.
pub(super) struct SampleType {
    pub data_type: &'static str,
    pub field: &'static str,
    pub key: &'static str,
    pub payload: fn(&DataPoint) -> Option<&Measured>,
}

pub(super) const WEIGHT: SampleType = SampleType {
    data_type: "weight",
    field: "weight",
    key: "weight",
    payload: |p| p.weight.as_ref(),
};

pub(super) const BODY_FAT: SampleType = SampleType {
    data_type: "body-fat",
    field: "bodyFat",
    key: "fat",
    payload: |p| p.body_fat.as_ref(),
};

impl GoogleHealth {
    /// The data points of a sample type as samples with their payloads; a
    /// point without the type's field is a shape error.
    pub(super) fn samples<'p>(
        &self,
        cx: &Ctx,
        kind: &SampleType,
        points: &'p [DataPoint],
    ) -> Answer<Vec<(Sample, &'p Measured)>> {
        let what = format!("the {} list", kind.data_type);
        points
            .iter()
            .enumerate()
            .map(|(i, point)| {
                let measured = (kind.payload)(point).ok_or_else(|| {
                    Self::bad_shape(
                        cx,
                        &what,
                        convert::missing(&format!("dataPoints[{i}].{}", kind.field)),
                    )
                })?;
                let sample = convert::sample(point, measured, kind.field, self.utc_offset)
                    .map_err(|e| Self::bad_shape(cx, &what, e))?;
                Ok((sample, measured))
            })
            .collect()
    }

    /// `GET /v4/users/me/settings`, or none when the consent does not
    /// include the settings scope (Google answers 403).
    pub(super) fn settings(&self, cx: &Ctx) -> Answer<Option<Settings>> {
        self.get_if_granted(cx, "settings", "the user's settings", SETTINGS_FIELDS)
    }

    /// The units of this run: `system` if set; else the user's Google
    /// settings when that scope was granted (cached for the day in the
    /// bookkeeping); else metric.
    pub(super) fn units(&self, cx: &Ctx, app: &AppSettings, state: &mut RunState) -> Answer<Units> {
        if let Some(system) = &app.system {
            return Ok(Units::from_system(system));
        }
        if !granted(state, SCOPE_SETTINGS) {
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
        // Consent without the settings permission: metric, as documented.
        let units = self
            .settings(cx)?
            .map_or(Units::METRIC, |s| Units::from_settings(&s));
        state.sync.insert(
            "units".into(),
            json!({"day": today, "units": units.label()}),
        );
        Ok(units)
    }

    /// The latest height in metres (BMI, the profile), cached for the day.
    pub(super) fn height(&self, cx: &Ctx, state: &mut RunState) -> Answer<Option<f64>> {
        let today = self.today.to_string();
        if let Some(cached) = state.sync.get("height")
            && cached.get("day").and_then(Value::as_str) == Some(today.as_str())
        {
            return Ok(cached.get("meters").and_then(Value::as_f64));
        }
        // Newest first: the first point is the latest height.
        let points: Vec<DataPoint> = self.latest(cx, "height", None)?.into_iter().collect();
        let kind = SampleType {
            data_type: "height",
            field: "height",
            key: "height",
            payload: |p| p.height.as_ref(),
        };
        let meters = self
            .samples(cx, &kind, &points)?
            .into_iter()
            .max_by(|a, b| a.0.epoch.total_cmp(&b.0.epoch))
            .and_then(|(_, measured)| convert::height_m(measured));
        state
            .sync
            .insert("height".into(), json!({"day": today, "meters": meters}));
        Ok(meters)
    }

    /// `get_bodyweight` / `get_bodyfat`: the samples of the window as legacy
    /// logs. A rolling window (ending today, no explicit end) whose
    /// bookkeeping matches is synced incrementally: only samples from the
    /// last one stored on are listed and merged into the stored logs.
    pub(super) fn sample_logs(
        &self,
        cx: &Ctx,
        app: &AppSettings,
        call: &Call,
        state: &mut RunState,
        kind: &SampleType,
    ) -> Answer<Map<String, Value>> {
        let weight = kind.data_type == "weight";
        let window = self.window(call).map_err(ApiError::Failed)?;
        let units = if weight {
            self.units(cx, app, state)?
        } else {
            Units::METRIC
        };
        let span = json!([window.start.to_string(), window.end.to_string()]);
        let record = state
            .sync
            .get(kind.data_type)
            .cloned()
            .unwrap_or(Value::Null);
        // Igor's database may have turned a one-element list into a scalar.
        let stored = state.previous.get(kind.key).map(as_list);
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
        let member = format!(
            "{}.sample_time.physical_time",
            kind.data_type.replace('-', "_")
        );
        let filter = format!("{member} >= \"{lower}\" AND {member} < \"{end}\"");
        let points = self.list(cx, kind.data_type, Some(&filter), LIST_PAGE_SIZE)?;
        let samples = self.samples(cx, kind, &points)?;
        let height = if weight {
            self.height(cx, state)?
        } else {
            None
        };
        let what = format!("the {} list", kind.data_type);
        let mut entries = Vec::new();
        for (sample, measured) in &samples {
            let entry = if weight {
                required(measured.weight_grams, "weightGrams")
                    .map(|g| convert::weight_entry(sample, g, units, height))
            } else {
                required(measured.percentage, "percentage").map(|p| convert::fat_entry(sample, p))
            };
            entries.push(entry.map_err(|e| Self::bad_shape(cx, &what, e))?);
        }
        let older = if incremental {
            stored.unwrap_or_default()
        } else {
            Vec::new()
        };
        let logs = merge_logs(older, entries);
        if window.rolling {
            let newest = samples
                .iter()
                .map(|(s, _)| s)
                .max_by(|a, b| a.epoch.total_cmp(&b.epoch))
                .map(|s| (s.epoch, s.physical.clone()));
            let previous_last = since.and_then(|t| convert::parse_rfc3339(&t).map(|e| (e, t)));
            let last = match (newest, previous_last) {
                (Some(a), Some(b)) => Some(if a.0 >= b.0 { a.1 } else { b.1 }),
                (a, b) => a.or(b).map(|x| x.1),
            };
            state.sync.insert(
                kind.data_type.into(),
                json!({"window": span, "units": units.label(), "last": last}),
            );
        } else {
            // Explicit dates replace the stored logs with another window.
            state.sync.remove(kind.data_type);
        }
        let mut answer = Map::new();
        answer.insert(kind.key.into(), Value::Array(logs));
        Ok(answer)
    }
}
