//! `:rollUp` and `:dailyRollUp` answers: one window each, with the data
//! type's roll-up value (zero sums are omitted by proto3 JSON, so a value
//! object without its field is a true zero).

use serde::Deserialize;

use super::{CivilDateTime, opt_int64};

/// Fields of a roll-up answer.
pub const ROLLUP_FIELDS: &[&str] = &["rollupDataPoints", "nextPageToken"];

/// `RollUpDataPointsResponse` / `DailyRollUpDataPointsResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupPage {
    #[serde(default)]
    pub rollup_data_points: Vec<RollupPoint>,
    pub next_page_token: Option<String>,
}

/// One window: physical bounds (`rollUp`) or civil ones (`dailyRollUp`),
/// and the value of the data type rolled up.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupPoint {
    pub start_time: Option<String>,
    pub civil_start_time: Option<CivilDateTime>,
    pub weight: Option<RollupValue>,
    pub body_fat: Option<RollupValue>,
    pub steps: Option<RollupValue>,
    pub floors: Option<RollupValue>,
    pub distance: Option<RollupValue>,
    pub altitude: Option<RollupValue>,
    pub total_calories: Option<RollupValue>,
    pub heart_rate: Option<RollupValue>,
    pub active_minutes: Option<ActiveMinutesRollup>,
    pub time_in_heart_rate_zone: Option<TimeInZonesRollup>,
    pub calories_in_heart_rate_zone: Option<CaloriesInZonesRollup>,
}

/// The single-number roll-up values, each with its own field name and
/// JSON type (doubles are numbers, int64 sums are strings).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollupValue {
    pub weight_grams_avg: Option<f64>,
    pub body_fat_percentage_avg: Option<f64>,
    /// `steps` and `floors`.
    #[serde(default, deserialize_with = "opt_int64")]
    pub count_sum: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub millimeters_sum: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub gain_millimeters_sum: Option<i64>,
    pub kcal_sum: Option<f64>,
    pub beats_per_minute_avg: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveMinutesRollup {
    #[serde(default)]
    pub active_minutes_rollup_by_activity_level: Vec<ActiveMinutesLevel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveMinutesLevel {
    #[serde(default)]
    pub activity_level: String,
    #[serde(default, deserialize_with = "opt_int64")]
    pub active_minutes_sum: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeInZonesRollup {
    #[serde(default)]
    pub time_in_heart_rate_zones: Vec<TimeInZone>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeInZone {
    #[serde(default)]
    pub heart_rate_zone: String,
    /// A `google.protobuf.Duration` (`"1800s"`).
    #[serde(default)]
    pub duration: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaloriesInZonesRollup {
    #[serde(default)]
    pub calories_in_heart_rate_zones: Vec<CaloriesInZone>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaloriesInZone {
    #[serde(default)]
    pub heart_rate_zone: String,
    pub kcal: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::super::decode;
    use super::*;
    use serde_json::json;

    #[test]
    fn windows_read_their_values_and_refuse_wrong_types() {
        let page: RollupPage = decode(&json!({"rollupDataPoints": [
            {"civilStartTime": {"date": {"year": 2026, "month": 11, "day": 20}}, "steps": {"countSum": "8012"}},
            {"startTime": "2026-11-20T07:00:00Z", "heartRate": {"beatsPerMinuteAvg": 61.5}},
            {"startTime": "2026-11-20T08:00:00Z", "steps": {}},
        ]}))
        .unwrap();
        let points = &page.rollup_data_points;
        assert_eq!(points[0].steps.as_ref().unwrap().count_sum, Some(8012));
        assert_eq!(
            points[1].heart_rate.as_ref().unwrap().beats_per_minute_avg,
            Some(61.5)
        );
        assert_eq!(points[2].steps.as_ref().unwrap().count_sum, None);
        let err = decode::<RollupPage>(
            &json!({"rollupDataPoints": [{"weight": {"weightGramsAvg": "heavy"}}]}),
        )
        .unwrap_err();
        assert!(
            err.0
                .starts_with("rollupDataPoints[0].weight.weightGramsAvg:"),
            "{err:?}"
        );
    }
}
