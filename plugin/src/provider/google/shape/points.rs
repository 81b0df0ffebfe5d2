//! `dataPoints.list` and `:reconcile` answers and the data-point payloads
//! the plugin reads (discovery document rev 20261002).

use serde::Deserialize;

use super::{CivilDateTime, DateParts, int64, opt_int64};

/// Fields of a list or reconcile answer.
pub const LIST_FIELDS: &[&str] = &["dataPoints", "nextPageToken"];

/// `ListDataPointsResponse` / `ReconcileDataPointsResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPage {
    #[serde(default)]
    pub data_points: Vec<DataPoint>,
    pub next_page_token: Option<String>,
}

/// A data point: its name, source and exactly one data-type field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataPoint {
    /// `users/{u}/dataTypes/{t}/dataPoints/{id}` (`dataPointName` when
    /// reconciled); empty for data types without identifiable points.
    #[serde(default, alias = "dataPointName")]
    pub name: String,
    pub data_source: Option<DataSource>,
    pub weight: Option<Measured>,
    pub body_fat: Option<Measured>,
    pub height: Option<Measured>,
    pub heart_rate: Option<Measured>,
    pub daily_resting_heart_rate: Option<DailyRestingHeartRate>,
    pub daily_heart_rate_zones: Option<DailyHeartRateZones>,
    pub sleep: Option<Sleep>,
    pub nutrition_log: Option<NutritionLog>,
    pub hydration_log: Option<HydrationLog>,
    pub blood_glucose: Option<BloodGlucose>,
    pub exercise: Option<Exercise>,
    pub daily_oxygen_saturation: Option<DailyOxygenSaturation>,
    pub daily_heart_rate_variability: Option<DailyHeartRateVariability>,
    pub daily_respiratory_rate: Option<DailyRespiratoryRate>,
    pub daily_sleep_temperature_derivations: Option<DailySleepTemperatureDerivations>,
    pub daily_vo2_max: Option<DailyVo2Max>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataSource {
    pub device: Option<Device>,
    pub recording_method: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub display_name: Option<String>,
}

/// An observation's time: physical, its offset, and the civil time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleTime {
    pub physical_time: String,
    pub utc_offset: Option<String>,
    pub civil_time: Option<CivilDateTime>,
}

/// A sample-type payload (`weight`, `bodyFat`, `height`, `heartRate`): the
/// time and the one value the plugin reads. Each value field has its own
/// name and JSON type; absent (proto3 default) means zero.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measured {
    pub sample_time: SampleTime,
    /// `weight.weightGrams` (double).
    pub weight_grams: Option<f64>,
    /// `bodyFat.percentage` (double).
    pub percentage: Option<f64>,
    /// `height.heightMillimeters` (int64).
    #[serde(default, deserialize_with = "opt_int64")]
    pub height_millimeters: Option<i64>,
    /// `heartRate.beatsPerMinute` (int64).
    #[serde(default, deserialize_with = "opt_int64")]
    pub beats_per_minute: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyRestingHeartRate {
    pub date: DateParts,
    #[serde(deserialize_with = "int64")]
    pub beats_per_minute: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyHeartRateZones {
    pub date: DateParts,
    #[serde(default)]
    pub heart_rate_zones: Vec<HeartRateZone>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartRateZone {
    #[serde(default)]
    pub heart_rate_zone_type: String,
    #[serde(default, deserialize_with = "opt_int64")]
    pub min_beats_per_minute: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub max_beats_per_minute: Option<i64>,
}

/// A session's interval (physical and civil ends, offsets).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInterval {
    pub start_time: String,
    pub end_time: String,
    pub start_utc_offset: Option<String>,
    pub end_utc_offset: Option<String>,
    pub civil_start_time: Option<CivilDateTime>,
    pub civil_end_time: Option<CivilDateTime>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sleep {
    pub interval: SessionInterval,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub summary: Option<SleepSummary>,
    pub metadata: Option<SleepMetadata>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepSummary {
    #[serde(default, deserialize_with = "opt_int64")]
    pub minutes_asleep: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub minutes_awake: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub minutes_in_sleep_period: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub minutes_after_wake_up: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub minutes_to_fall_asleep: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SleepMetadata {
    #[serde(default)]
    pub main_sleep: bool,
}

/// `WeightQuantity` (grams) and `EnergyQuantity` (kcal).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quantity {
    pub grams: Option<f64>,
    pub kcal: Option<f64>,
    pub milliliters: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NutrientQuantity {
    #[serde(default)]
    pub nutrient: String,
    pub quantity: Option<Quantity>,
}

/// `NutritionLog.Serving`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Serving {
    pub amount: Option<f64>,
    pub food_measurement_unit: Option<String>,
    pub food_measurement_unit_display_name: Option<String>,
}

/// `NutritionLog`: one food logged (a session).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NutritionLog {
    pub interval: SessionInterval,
    pub energy: Option<Quantity>,
    pub food: Option<String>,
    pub food_display_name: Option<String>,
    pub meal_type: Option<String>,
    #[serde(default)]
    pub nutrients: Vec<NutrientQuantity>,
    pub serving: Option<Serving>,
    pub total_carbohydrate: Option<Quantity>,
    pub total_fat: Option<Quantity>,
}

/// `HydrationLog`: liquid logged (a session).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HydrationLog {
    pub interval: SessionInterval,
    pub amount_consumed: Option<Quantity>,
}

/// `BloodGlucose` (mg/dL).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BloodGlucose {
    pub sample_time: SampleTime,
    pub blood_glucose_milligrams_per_deciliter: Option<f64>,
    pub meal_type: Option<String>,
    pub measurement_timing: Option<String>,
}

/// `MetricsSummary` of an exercise.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsSummary {
    pub calories_kcal: Option<f64>,
    pub distance_millimeters: Option<f64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub steps: Option<i64>,
    #[serde(default, deserialize_with = "opt_int64")]
    pub average_heart_rate_beats_per_minute: Option<i64>,
}

/// `Exercise`: one activity session.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exercise {
    pub interval: SessionInterval,
    pub display_name: Option<String>,
    pub exercise_type: Option<String>,
    /// A `google.protobuf.Duration` without pauses (`"1800s"`).
    pub active_duration: Option<String>,
    pub metrics_summary: Option<MetricsSummary>,
    pub notes: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyOxygenSaturation {
    pub date: DateParts,
    pub average_percentage: Option<f64>,
    pub lower_bound_percentage: Option<f64>,
    pub upper_bound_percentage: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyHeartRateVariability {
    pub date: DateParts,
    pub average_heart_rate_variability_milliseconds: Option<f64>,
    pub deep_sleep_root_mean_square_of_successive_differences_milliseconds: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyRespiratoryRate {
    pub date: DateParts,
    pub breaths_per_minute: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailySleepTemperatureDerivations {
    pub date: DateParts,
    pub nightly_temperature_celsius: Option<f64>,
    pub baseline_temperature_celsius: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyVo2Max {
    pub date: DateParts,
    pub vo2_max: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::super::{decode, decode_answer};
    use super::*;
    use serde_json::json;

    #[test]
    fn list_pages_read_points_and_refuse_wrong_types() {
        let page: ListPage = decode_answer(
            &json!({"dataPoints": [{"name": "users/1/dataTypes/weight/dataPoints/7",
                "weight": {"sampleTime": {"physicalTime": "2026-11-20T07:12:33Z", "utcOffset": "3600s"},
                           "weightGrams": 81234.5}}],
                    "nextPageToken": ""}),
            LIST_FIELDS,
        )
        .unwrap();
        assert_eq!(
            page.data_points[0].weight.as_ref().unwrap().weight_grams,
            Some(81234.5)
        );
        let err = decode::<ListPage>(&json!({"dataPoints": [{"weight": "lots"}]})).unwrap_err();
        assert!(err.0.starts_with("dataPoints[0].weight:"), "{err:?}");
        let err = decode::<ListPage>(
            &json!({"dataPoints": [{"weight": {"sampleTime": {"physicalTime": "x"}, "weightGrams": "80"}}]}),
        )
        .unwrap_err();
        assert!(
            err.0.starts_with("dataPoints[0].weight.weightGrams:"),
            "{err:?}"
        );
    }

    #[test]
    fn reconciled_points_name_themselves_differently() {
        let page: ListPage = decode(&json!({"dataPoints": [{"dataPointName": "users/1/x/7",
            "dailyHeartRateZones": {"date": {"year": 2026, "month": 11, "day": 20},
                "heartRateZones": [{"heartRateZoneType": "PEAK", "minBeatsPerMinute": "160", "maxBeatsPerMinute": "220"}]}}]}))
        .unwrap();
        let point = &page.data_points[0];
        assert_eq!(point.name, "users/1/x/7");
        let zones = point.daily_heart_rate_zones.as_ref().unwrap();
        assert_eq!(zones.heart_rate_zones[0].min_beats_per_minute, Some(160));
    }
}
