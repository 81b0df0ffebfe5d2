//! `get_bodyweight` and `get_bodyfat` with incremental sync, and the
//! latest height many methods need (kept for a day in the user's
//! bookkeeping).

use serde_json::{Value, json};

use super::convert::{self, Sample, Units, merge_logs, required};
use super::settings::KEEP_SECONDS;
use super::shape::{DataPoint, Measured};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use super::{GoogleHealth, LIST_PAGE_SIZE};
use crate::dates::Date;
use crate::json::{as_f64, as_list};
use crate::provider::{Call, RunState};

/// Days an incremental run lists again, ending today: samples logged late
/// or deleted within them are seen at the next run.
pub const TRAILING_DAYS: i32 = 7;

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
                let sample = convert::sample(point, measured, kind.field, &self.local().zone)
                    .map_err(|e| Self::bad_shape(cx, &what, e))?;
                Ok((sample, measured))
            })
            .collect()
    }

    /// The latest height in metres (BMI, the profile), kept for a day.
    pub(super) fn height(&self, cx: &Ctx, state: &mut RunState) -> Answer<Option<f64>> {
        let now = cx.host.now();
        if let Some(cached) = state.sync.get("height")
            && let Some(read_at) = cached.get("read_at").and_then(as_f64)
            && read_at <= now
            && now - read_at < KEEP_SECONDS
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
            .insert("height".into(), json!({"read_at": now, "meters": meters}));
        Ok(meters)
    }

    /// `get_bodyweight` / `get_bodyfat`: the samples of the window as legacy
    /// logs. A rolling window (ending today, no explicit end) whose stored
    /// logs are known to cover it up to the last week is synced
    /// incrementally: only the last [`TRAILING_DAYS`] are listed again, and
    /// they replace what is stored for those days (so samples added late
    /// and samples deleted there are seen); older stored days are kept, and
    /// days before the window are dropped. One list call, as a full read.
    pub(super) fn sample_logs(
        &self,
        cx: &Ctx,
        state: &mut RunState,
        call: &Call,
        kind: &SampleType,
    ) -> Answer<Fields> {
        let weight = kind.data_type == "weight";
        let window = self.call_window(call)?;
        let units = if weight {
            self.units(cx, state)?
        } else {
            Units::METRIC
        };
        let record = state
            .sync
            .get(kind.data_type)
            .cloned()
            .unwrap_or(Value::Null);
        // Igor's database may have turned a one-element list into a scalar.
        let stored = state.previous.get(kind.key).map(|v| as_list(v).to_vec());
        let trailing = window.start.max(window.end.add_days(1 - TRAILING_DAYS));
        let covered = covered_days(&record, &units.label());
        let incremental = window.rolling
            && stored.is_some()
            && covered
                .is_some_and(|(first, last)| first <= window.start && last.add_days(1) >= trailing);
        let lower = if incremental { trailing } else { window.start };
        // The user's days, whatever their offset (civil time filters).
        let civil = format!(
            "{}.sample_time.civil_time",
            kind.data_type.replace('-', "_")
        );
        let filter = days_filter(&civil, lower, window.end);
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
        // Stored days the list did not cover again, inside the window.
        let older = match (incremental, stored) {
            (true, Some(stored)) => stored
                .into_iter()
                .filter(|e| logged_on(e).is_some_and(|day| day >= window.start && day < trailing))
                .collect(),
            _ => Vec::new(),
        };
        let logs = merge_logs(older, entries);
        if window.rolling {
            let span = json!([window.start.to_string(), window.end.to_string()]);
            state.sync.insert(
                kind.data_type.into(),
                json!({"window": span, "units": units.label()}),
            );
        } else {
            // Explicit dates replace the stored logs with another window.
            state.sync.remove(kind.data_type);
        }
        Ok(keyed(kind.key, Value::Array(logs)))
    }
}

/// The days the stored logs were last read for, if in `units`.
fn covered_days(record: &Value, units: &str) -> Option<(Date, Date)> {
    if record.get("units").and_then(Value::as_str) != Some(units) {
        return None;
    }
    let window = record.get("window").map(as_list)?;
    let day = |i: usize| window.get(i).and_then(Value::as_str).and_then(Date::parse);
    Some((day(0)?, day(1)?))
}

/// The day of a stored log entry.
fn logged_on(entry: &Value) -> Option<Date> {
    entry
        .get("date")
        .and_then(Value::as_str)
        .and_then(Date::parse)
}
