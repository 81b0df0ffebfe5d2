//! Which Google OAuth scopes each legacy method needs: one table, read by
//! the consent URL (ask only for what the user's methods need) and by
//! anything that checks a token's grant before a call.

use serde_json::{Map, Value};

use crate::errors::{PluginError, Result};
use crate::json::as_text;
use crate::provider::{Call, Consent};

pub const SCOPE_METRICS: &str =
    "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly";
pub const SCOPE_ACTIVITY: &str =
    "https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly";
pub const SCOPE_SLEEP: &str = "https://www.googleapis.com/auth/googlehealth.sleep.readonly";
pub const SCOPE_PROFILE: &str = "https://www.googleapis.com/auth/googlehealth.profile.readonly";
pub const SCOPE_SETTINGS: &str = "https://www.googleapis.com/auth/googlehealth.settings.readonly";
/// Food and water logs (the scopes page lists it; the discovery document
/// names only its writeonly twin).
pub const SCOPE_NUTRITION: &str = "https://www.googleapis.com/auth/googlehealth.nutrition.readonly";

/// Every scope the plugin may ask for, in the order it asks.
pub const ALL_SCOPES: &[&str] = &[
    SCOPE_METRICS,
    SCOPE_ACTIVITY,
    SCOPE_SLEEP,
    SCOPE_NUTRITION,
    SCOPE_PROFILE,
    SCOPE_SETTINGS,
];

/// One row of [`NEEDS`].
pub struct Need {
    /// The method, or `method resource` for `time_series` and
    /// `intraday_time_series`.
    pub call: &'static str,
    /// The scopes of the Google data it reads (data-type table of
    /// developers.google.com/health/data-types; profile, settings and
    /// paired devices from the discovery document).
    pub scopes: &'static [&'static str],
    /// Converts weights, distances, heights or elevations: without a
    /// `system`, the units come from the user's settings (settings scope).
    pub units: bool,
    /// Reads the user's days or local times ("today", windows, intraday
    /// labels): their time zone comes from the settings (settings scope;
    /// without it the host's zone is used).
    pub zone: bool,
    /// The Google Health data types it reads: a change notification of one
    /// of them (a webhook) is a reason to run it again.
    pub data_types: &'static [&'static str],
}

const fn need(
    call: &'static str,
    scopes: &'static [&'static str],
    units: bool,
    data_types: &'static [&'static str],
) -> Need {
    Need {
        call,
        scopes,
        units,
        zone: true,
        data_types,
    }
}

impl Need {
    /// The row of a call that reads no days (the profile).
    const fn timeless(self) -> Need {
        Need {
            zone: false,
            ..self
        }
    }
}

const M: &[&str] = &[SCOPE_METRICS];
const A: &[&str] = &[SCOPE_ACTIVITY];
const MA: &[&str] = &[SCOPE_METRICS, SCOPE_ACTIVITY];
const N: &[&str] = &[SCOPE_NUTRITION];
const PROFILE: &[&str] = &[SCOPE_PROFILE, SCOPE_SETTINGS, SCOPE_METRICS, SCOPE_ACTIVITY];

/// The scopes of every method and resource Google Health answers, a row
/// a line.
#[rustfmt::skip]
pub const NEEDS: &[Need] = &[
    need("get_bodyweight", M, true, &["weight", "height"]),
    need("get_bodyfat", M, false, &["body-fat"]),
    need("body", M, true, &["weight", "body-fat", "height"]),
    need("activities", A, true, ACTIVITY),
    need("heart", M, false, &["daily-resting-heart-rate"]),
    need("sleep", &[SCOPE_SLEEP], false, &["sleep"]),
    // profile fields shown only with the activity scope: stride lengths
    need("user_profile_get", PROFILE, true, &["height", "weight"]).timeless(),
    // pairedDevices (settings, no data type)
    need("get_devices", &[SCOPE_SETTINGS], false, &[]),
    // liquid units for water
    need("foods_log", N, false, &["nutrition-log"]),
    need("foods_log_water", N, true, &["hydration-log"]),
    need("recent_foods", N, false, &["nutrition-log"]).timeless(),
    need("glucose", M, true, &["blood-glucose"]),
    need("get_sleep", &[SCOPE_SLEEP], false, &["sleep"]),
    // distance units
    need("recent_activities", A, true, &["exercise"]).timeless(),
    need("activity_stats", A, true, &["exercise"]).timeless(),
    need("time_series spo2", M, false, &["daily-oxygen-saturation"]),
    need("time_series hrv", M, false, &["daily-heart-rate-variability"]),
    need("time_series br", M, false, &["daily-respiratory-rate"]),
    // temperature units
    need("time_series temp/skin", M, true, &["daily-sleep-temperature-derivations"]),
    need("time_series cardioscore", A, false, &["daily-vo2-max"]),
    need("time_series body/weight", M, true, &["weight"]),
    need("time_series body/fat", M, false, &["body-fat"]),
    need("time_series body/bmi", M, false, &["weight", "height"]),
    need("time_series activities/steps", A, false, &["steps"]),
    need("time_series activities/distance", A, true, &["distance"]),
    need("time_series activities/floors", A, false, &["floors"]),
    need("time_series activities/elevation", A, true, &["altitude"]),
    need("time_series activities/calories", A, false, &["total-calories"]),
    // metrics and activity
    need("time_series activities/heart", MA, false, HEART),
    need("intraday_time_series activities/steps", A, false, &["steps"]),
    need("intraday_time_series activities/distance", A, true, &["distance"]),
    need("intraday_time_series activities/floors", A, false, &["floors"]),
    need("intraday_time_series activities/elevation", A, true, &["altitude"]),
    need("intraday_time_series activities/calories", A, false, &["total-calories"]),
    // and the day's summary, as time_series activities/heart
    need("intraday_time_series activities/heart", MA, false, &["heart-rate"]),
];

const ACTIVITY: &[&str] = &[
    "steps",
    "distance",
    "floors",
    "altitude",
    "total-calories",
    "active-minutes",
];
const HEART: &[&str] = &[
    "daily-resting-heart-rate",
    "daily-heart-rate-zones",
    "time-in-heart-rate-zone",
    "calories-in-heart-rate-zone",
];

/// The rows for one method call: its own row, or for `time_series` and
/// `intraday_time_series` the resource's (every resource's when the
/// resource is not known yet, as it may come with the call).
pub fn needs_of(method: &str, resource: Option<&str>) -> Vec<&'static Need> {
    if let Some(row) = NEEDS.iter().find(|n| n.call == method) {
        return vec![row];
    }
    let prefix = format!("{method} ");
    let rows: Vec<&Need> = NEEDS
        .iter()
        .filter(|n| n.call.starts_with(&prefix))
        .collect();
    match resource {
        Some(resource) => match rows.iter().find(|n| n.call[prefix.len()..] == *resource) {
            Some(row) => vec![*row],
            None => rows,
        },
        None => rows,
    }
}

/// The scopes the methods need, in [`ALL_SCOPES`] order.
/// `units_from_settings`: no `system` is set, so converting calls need the
/// settings scope too; so do calls that read the user's days (their time
/// zone). A user without any known method gets what the default method
/// (`get_bodyweight`) needs.
pub fn scopes_for(
    methods: &[String],
    args: &Map<String, Value>,
    units_from_settings: bool,
) -> Vec<&'static str> {
    let resource = args.get("resource").and_then(as_text);
    let mut wanted: Vec<&str> = Vec::new();
    for method in methods {
        for row in needs_of(method, resource.as_deref()) {
            wanted.extend(row.scopes);
            if row.zone || (row.units && units_from_settings) {
                wanted.push(SCOPE_SETTINGS);
            }
        }
    }
    if wanted.is_empty() {
        wanted.extend([SCOPE_METRICS, SCOPE_SETTINGS]);
    }
    ALL_SCOPES
        .iter()
        .copied()
        .filter(|s| wanted.contains(s))
        .collect()
}

/// The Google Health data types the methods read, in [`NEEDS`] order; the
/// default method's without any known method.
pub fn data_types_of(methods: &[String], args: &Map<String, Value>) -> Vec<&'static str> {
    let resource = args.get("resource").and_then(as_text);
    let mut types: Vec<&'static str> = Vec::new();
    let rows: Vec<&Need> = methods
        .iter()
        .flat_map(|m| needs_of(m, resource.as_deref()))
        .collect();
    let rows = if rows.is_empty() {
        needs_of(crate::provider::methods::DEFAULT_METHODS, None)
    } else {
        rows
    };
    for t in rows.iter().flat_map(|row| row.data_types) {
        if !types.contains(t) {
            types.push(t);
        }
    }
    types
}

/// What each scope opens, in plain words.
pub const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        SCOPE_METRICS,
        "body measurements (weight, body fat, heart rate)",
    ),
    (
        SCOPE_ACTIVITY,
        "activity (steps, distance, floors, calories)",
    ),
    (SCOPE_SLEEP, "sleep"),
    (SCOPE_NUTRITION, "food and water logs"),
    (SCOPE_PROFILE, "profile"),
    (
        SCOPE_SETTINGS,
        "settings (units, time zone) and paired devices",
    ),
];

/// The prefix every Google Health scope shares; links name scopes without it.
pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/googlehealth.";

/// What `scope` opens, in plain words (the scope itself when unknown).
pub fn scope_description(scope: &str) -> &str {
    DESCRIPTIONS
        .iter()
        .find(|(s, _)| *s == scope)
        .map_or(scope, |(_, what)| what)
}

/// `sleep.readonly` for the sleep scope: the form `auth1?scope=` takes.
pub fn scope_short_name(scope: &str) -> &str {
    scope.strip_prefix(SCOPE_PREFIX).unwrap_or(scope)
}

/// The full scopes named by `auth1?scope=a,b` (short or full names).
pub fn parse_scope_names(text: &str) -> Result<Vec<String>> {
    let mut scopes = Vec::new();
    for name in text.split([',', ' ']).filter(|n| !n.is_empty()) {
        let full = if name.starts_with("https://") {
            name.to_string()
        } else {
            format!("{SCOPE_PREFIX}{name}")
        };
        if !ALL_SCOPES.contains(&full.as_str()) {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin/auth1: {name:?} is not a permission this plugin asks for; known: {}",
                ALL_SCOPES
                    .iter()
                    .map(|s| scope_short_name(s))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        scopes.push(full);
    }
    Ok(scopes)
}

/// What an authorisation asks for: the scopes the user's methods need, plus
/// what was granted before (incremental authorisation keeps it), plus what a
/// refused call named; in [`ALL_SCOPES`] order, each once.
pub fn consent_scopes(consent: &Consent, units_from_settings: bool) -> Vec<&'static str> {
    let wanted = scopes_for(&consent.methods, &consent.args, units_from_settings);
    ALL_SCOPES
        .iter()
        .copied()
        .filter(|s| {
            wanted.contains(s)
                || consent
                    .granted
                    .iter()
                    .chain(&consent.adding)
                    .any(|g| g == s)
        })
        .collect()
}

/// The scopes `calls` need that `granted` (a token's `scope`) lacks: those
/// of each call none of whose scopes was granted (a call with some of them,
/// such as the profile, reads what they cover). Units fall back to metric
/// without the settings scope, so conversions never need it.
pub fn missing_scopes(calls: &[Call], granted: &str) -> Vec<&'static str> {
    let granted: Vec<&str> = granted.split_whitespace().collect();
    let mut missing: Vec<&'static str> = Vec::new();
    for call in calls {
        for row in needs_of(&call.method, call.args.get("resource").map(String::as_str)) {
            if !row.scopes.iter().any(|s| granted.contains(s)) {
                missing.extend(row.scopes);
            }
        }
    }
    ALL_SCOPES
        .iter()
        .copied()
        .filter(|s| missing.contains(s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn methods(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn scopes_only_as_needed() {
        let none = Map::new();
        // The user's days need their time zone: the settings scope.
        assert_eq!(
            scopes_for(&methods(&["get_bodyweight"]), &none, false),
            vec![SCOPE_METRICS, SCOPE_SETTINGS]
        );
        assert_eq!(
            scopes_for(&methods(&["get_bodyweight"]), &none, true),
            vec![SCOPE_METRICS, SCOPE_SETTINGS]
        );
        let steps = json!({"resource": "activities/steps"});
        assert_eq!(
            scopes_for(
                &methods(&["time_series", "sleep"]),
                steps.as_object().unwrap(),
                true
            ),
            vec![SCOPE_ACTIVITY, SCOPE_SLEEP, SCOPE_SETTINGS]
        );
        assert_eq!(
            scopes_for(&methods(&["get_devices"]), &none, true),
            vec![SCOPE_SETTINGS]
        );
        assert_eq!(
            scopes_for(&methods(&["user_profile_get"]), &none, false),
            vec![SCOPE_METRICS, SCOPE_ACTIVITY, SCOPE_PROFILE, SCOPE_SETTINGS]
        );
        let heart = json!({"resource": "activities/heart"});
        assert_eq!(
            scopes_for(
                &methods(&["intraday_time_series"]),
                heart.as_object().unwrap(),
                true
            ),
            vec![SCOPE_METRICS, SCOPE_ACTIVITY, SCOPE_SETTINGS]
        );
        assert_eq!(
            scopes_for(&methods(&["nonsense"]), &none, false),
            vec![SCOPE_METRICS, SCOPE_SETTINGS]
        );
        // The profile reads no days: its own scopes only.
        assert!(!needs_of("user_profile_get", None)[0].zone);
    }

    #[test]
    fn a_resource_given_with_the_call_may_be_any() {
        let all = scopes_for(&methods(&["time_series"]), &Map::new(), true);
        assert_eq!(all, vec![SCOPE_METRICS, SCOPE_ACTIVITY, SCOPE_SETTINGS]);
    }

    #[test]
    fn every_method_google_answers_has_a_row() {
        use crate::provider::google::unavailable::NO_EQUIVALENT;
        for (method, _) in crate::provider::methods::METHODS {
            // activity_stats is answered with qualifier=recent only.
            let unavailable =
                NO_EQUIVALENT.iter().any(|(m, _, _)| m == method) && *method != "activity_stats";
            assert_eq!(needs_of(method, None).is_empty(), unavailable, "{method}");
        }
        for resource in crate::provider::google::RESOURCES {
            assert_eq!(
                needs_of("time_series", Some(resource)).len(),
                1,
                "{resource}"
            );
        }
    }
}
