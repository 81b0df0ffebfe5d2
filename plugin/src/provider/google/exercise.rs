//! Exercise sessions in the legacy shapes: the day's logged `activities`
//! (in `activities`) and `recent_activities`. Google has no activity
//! catalogue: the legacy `activityId` and `activityParentId` are left out.

use serde_json::{Map, Value, json};

use super::GoogleHealth;
use super::convert::{self, Units, instant, log_id, num, parse_duration};
use super::shape::{DataPoint, Exercise, ShapeError};
use super::transport::{Answer, Ctx, Fields, days_filter, keyed};
use crate::dates::Date;

/// Exercise sessions per page (the API's maximum for exercise).
pub const EXERCISE_PAGE_SIZE: u32 = 25;

/// Milliseconds of an exercise: its active time, else its whole interval.
fn duration_ms(exercise: &Exercise) -> Result<i64, ShapeError> {
    if let Some(seconds) = exercise.active_duration.as_deref().and_then(parse_duration) {
        return Ok(seconds * 1000);
    }
    let interval = &exercise.interval;
    let seconds = instant(&interval.end_time)? - instant(&interval.start_time)?;
    Ok((seconds * 1000.0).round() as i64)
}

/// What the legacy activity entries share.
fn activity_fields(exercise: &Exercise, units: Units) -> Result<Map<String, Value>, ShapeError> {
    let mut entry = Map::new();
    let name = exercise
        .display_name
        .clone()
        .or_else(|| exercise.exercise_type.clone())
        .unwrap_or_default();
    entry.insert("name".into(), json!(name));
    entry.insert(
        "description".into(),
        json!(exercise.notes.clone().unwrap_or_default()),
    );
    entry.insert("duration".into(), json!(duration_ms(exercise)?));
    let summary = exercise.metrics_summary.clone().unwrap_or_default();
    if let Some(kcal) = summary.calories_kcal {
        entry.insert("calories".into(), num(kcal.round()));
    }
    if let Some(mm) = summary.distance_millimeters {
        entry.insert("distance".into(), num(units.distance(mm)));
    }
    if let Some(steps) = summary.steps {
        entry.insert("steps".into(), json!(steps));
    }
    Ok(entry)
}

impl GoogleHealth {
    fn exercises<'p>(
        &self,
        cx: &Ctx,
        points: &'p [DataPoint],
    ) -> Answer<Vec<(convert::Civil, &'p DataPoint, &'p Exercise)>> {
        let what = "the exercise list";
        let mut out = Vec::new();
        for (i, point) in points.iter().enumerate() {
            let exercise = point
                .exercise
                .as_ref()
                .ok_or_else(|| convert::missing(&format!("dataPoints[{i}].exercise")))
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            let start = self
                .session_start(&exercise.interval)
                .map_err(|e| Self::bad_shape(cx, what, e))?;
            out.push((start, point, exercise));
        }
        out.sort_by_key(|(start, _, _)| *start);
        Ok(out)
    }

    /// The legacy `activities` list of `day`: the exercises started then.
    pub(super) fn logged_activities(
        &self,
        cx: &Ctx,
        units: Units,
        day: Date,
    ) -> Answer<Vec<Value>> {
        let member = "exercise.interval.civil_start_time";
        let filter = days_filter(member, day, day);
        let points = self.list(cx, "exercise", Some(&filter), EXERCISE_PAGE_SIZE)?;
        let mut list = Vec::new();
        for (start, point, exercise) in self.exercises(cx, &points)? {
            let mut entry = activity_fields(exercise, units)
                .map_err(|e| Self::bad_shape(cx, "the exercise list", e))?;
            entry.insert("hasStartTime".into(), json!(true));
            entry.insert("logId".into(), json!(log_id(&point.name)));
            entry.insert("startDate".into(), json!(start.date.to_string()));
            entry.insert("startTime".into(), json!(start.time_text()[..5]));
            list.push(Value::Object(entry));
        }
        Ok(list)
    }

    /// `recent_activities` (and `activity_stats` with `qualifier=recent`):
    /// the latest exercise of each kind, newest first, from one page.
    pub(super) fn recent_activities(&self, cx: &Ctx, units: Units, key: String) -> Answer<Fields> {
        let points = self.first_page(cx, "exercise", None, EXERCISE_PAGE_SIZE)?;
        let mut sessions = self.exercises(cx, &points)?;
        sessions.reverse();
        let mut seen = Vec::new();
        let mut list = Vec::new();
        for (_, _, exercise) in sessions {
            let kind = exercise
                .exercise_type
                .clone()
                .or_else(|| exercise.display_name.clone())
                .unwrap_or_default();
            if seen.contains(&kind) {
                continue;
            }
            seen.push(kind);
            let entry = activity_fields(exercise, units)
                .map_err(|e| Self::bad_shape(cx, "the exercise list", e))?;
            list.push(Value::Object(entry));
        }
        Ok(keyed(key, Value::Array(list)))
    }
}
