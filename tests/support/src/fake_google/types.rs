//! The data types the fake serves: their read scope, which operations the
//! API offers for them (developers.google.com/health/data-types), their
//! roll-up field and the longest roll-up range (the `dailyRollUp` / `rollUp`
//! reference: 14 days for `calories-in-heart-rate-zone`, `heart-rate`,
//! `active-minutes` and `total-calories`, 90 days for all others).

use super::{SCOPE_ACTIVITY, SCOPE_METRICS, SCOPE_NUTRITION, SCOPE_SLEEP};

/// What the fake knows of a data type.
pub(crate) struct TypeInfo {
    pub name: &'static str,
    pub scope: &'static str,
    /// `dataPoints.list`.
    pub list: bool,
    /// `dataPoints:reconcile`.
    pub reconcile: bool,
    /// The `RollupDataPoint` field, for types with `rollUp`/`dailyRollUp`.
    pub rollup: Option<&'static str>,
    /// Longest roll-up range in days.
    pub limit_days: i64,
}

const fn info(
    name: &'static str,
    scope: &'static str,
    list: bool,
    reconcile: bool,
    rollup: Option<&'static str>,
    limit_days: i64,
) -> TypeInfo {
    TypeInfo {
        name,
        scope,
        list,
        reconcile,
        rollup,
        limit_days,
    }
}

const M: &str = SCOPE_METRICS;
const A: &str = SCOPE_ACTIVITY;

pub(crate) const TYPES: &[TypeInfo] = &[
    info("weight", M, true, true, Some("weight"), 90),
    info("body-fat", M, true, true, Some("bodyFat"), 90),
    info("height", M, true, true, None, 90),
    info("heart-rate", M, true, true, Some("heartRate"), 14),
    info("daily-resting-heart-rate", M, true, true, None, 90),
    info("daily-heart-rate-zones", M, false, true, None, 90),
    info("steps", A, true, true, Some("steps"), 90),
    info("distance", A, true, true, Some("distance"), 90),
    info("floors", A, true, true, Some("floors"), 90),
    info("altitude", A, true, true, Some("altitude"), 90),
    info("total-calories", A, false, false, Some("totalCalories"), 14),
    info("active-minutes", A, true, true, Some("activeMinutes"), 14),
    info(
        "time-in-heart-rate-zone",
        A,
        true,
        true,
        Some("timeInHeartRateZone"),
        90,
    ),
    info(
        "calories-in-heart-rate-zone",
        A,
        false,
        false,
        Some("caloriesInHeartRateZone"),
        14,
    ),
    info("sleep", SCOPE_SLEEP, true, true, None, 90),
    info(
        "nutrition-log",
        SCOPE_NUTRITION,
        true,
        true,
        Some("nutritionLog"),
        90,
    ),
    info(
        "hydration-log",
        SCOPE_NUTRITION,
        true,
        true,
        Some("hydrationLog"),
        90,
    ),
    info("blood-glucose", M, true, true, Some("bloodGlucose"), 90),
    info("exercise", A, true, true, None, 90),
    info("daily-oxygen-saturation", M, true, true, None, 90),
    info("daily-heart-rate-variability", M, true, true, None, 90),
    info("daily-respiratory-rate", M, true, true, None, 90),
    info(
        "daily-sleep-temperature-derivations",
        M,
        true,
        true,
        None,
        90,
    ),
    info("daily-vo2-max", A, true, true, None, 90),
];

pub(crate) fn type_info(data_type: &str) -> Option<&'static TypeInfo> {
    TYPES.iter().find(|t| t.name == data_type)
}
