//! The legacy methods, with python-fitbit 0.3.1's names, parameters and
//! URLs, and their validation: everything is checked before anything is
//! sent. `urls` builds each read's URL, `shapes` checks each answer's
//! shape, `writes` names the methods (and arguments) that would write.

mod shapes;
mod urls;
mod writes;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::dates::{Date, valid_time};
use crate::errors::{PluginError, Result, echo};
use crate::json::as_text;
use crate::provider::Call;

pub use writes::{WRITE_METHODS, write_refusal};

/// What a run reads when neither the call nor the user names methods.
pub const DEFAULT_METHODS: &str = "get_bodyweight";

/// The names in a comma-separated `methods` value; the default when it
/// names none (`","` must not store an empty result over the last one).
pub fn method_list(text: &str) -> Vec<String> {
    let methods: Vec<String> = text
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if methods.is_empty() {
        vec![DEFAULT_METHODS.to_string()]
    } else {
        methods
    }
}

pub const PERIODS: &[&str] = &["1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y", "max"];
pub const DETAIL_LEVELS: &[&str] = &["1sec", "1min", "15min"];
/// `activity_stats` qualifiers (python-fitbit's `_qualifiers`).
pub const QUALIFIERS: &[&str] = &["recent", "favorite", "frequent"];
/// `list_subscriptions` collections.
pub const COLLECTIONS: &[&str] = &["activities", "body", "foods", "sleep"];
/// `get_friends_leaderboard` periods.
pub const LEADERBOARD_PERIODS: &[&str] = &["7d", "30d"];

const DAY: &[&str] = &["date", "user_id"];
const RANGE: &[&str] = &["base_date", "user_id", "period", "end_date"];
const USER: &[&str] = &["user_id"];
const NONE: &[&str] = &[];

/// Every read method of python-fitbit 0.3.1 and the arguments it accepts.
pub const METHODS: &[(&str, &[&str])] = &[
    ("get_bodyweight", RANGE),
    ("get_bodyfat", RANGE),
    (
        "time_series",
        &["resource", "user_id", "base_date", "period", "end_date"],
    ),
    (
        "intraday_time_series",
        &[
            "resource",
            "base_date",
            "detail_level",
            "start_time",
            "end_time",
        ],
    ),
    ("body", DAY),
    ("activities", DAY),
    ("sleep", DAY),
    ("heart", DAY),
    ("foods_log", DAY),
    ("foods_log_water", DAY),
    ("bp", DAY),
    ("glucose", DAY),
    ("get_sleep", &["date"]),
    ("user_profile_get", USER),
    ("get_devices", NONE),
    ("activity_stats", &["user_id", "qualifier"]),
    ("recent_activities", USER),
    ("favorite_activities", USER),
    ("frequent_activities", USER),
    ("recent_foods", USER),
    ("favorite_foods", USER),
    ("frequent_foods", USER),
    ("activities_list", NONE),
    ("activity_detail", &["activity_id"]),
    ("body_weight_goal", NONE),
    ("body_fat_goal", NONE),
    ("activities_daily_goal", NONE),
    ("activities_weekly_goal", NONE),
    ("food_goal", NONE),
    ("water_goal", NONE),
    ("get_meals", NONE),
    ("get_alarms", &["device_id"]),
    ("get_badges", USER),
    ("get_friends", USER),
    ("get_friends_leaderboard", &["period"]),
    ("food_units", NONE),
    ("food_detail", &["food_id"]),
    ("search_foods", &["query"]),
    ("list_subscriptions", &["collection"]),
];

/// Arguments a method cannot do without (python-fitbit's positional ones).
const REQUIRED: &[(&str, &str)] = &[
    ("get_sleep", "date"),
    ("activity_detail", "activity_id"),
    ("get_alarms", "device_id"),
    ("get_friends_leaderboard", "period"),
    ("food_detail", "food_id"),
    ("search_foods", "query"),
];

pub fn method_names() -> String {
    METHODS
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

fn accepted(method: &str) -> Option<&'static [&'static str]> {
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, args)| *args)
}

/// A numeric id of the legacy API (activity, food, tracker).
fn numeric_id(value: &str) -> bool {
    !value.is_empty() && value.len() <= 20 && value.chars().all(|c| c.is_ascii_digit())
}

/// Checks one argument's value (for `method`, where that matters).
fn check_value(method: &str, name: &str, value: &str) -> Result<()> {
    let ok = match name {
        "base_date" | "end_date" | "date" => value == "today" || Date::parse(value).is_some(),
        "period" if method == "get_friends_leaderboard" => LEADERBOARD_PERIODS.contains(&value),
        "period" => PERIODS.contains(&value),
        "detail_level" => DETAIL_LEVELS.contains(&value),
        "start_time" | "end_time" => valid_time(value),
        "qualifier" => QUALIFIERS.contains(&value),
        "collection" => COLLECTIONS.contains(&value),
        "activity_id" | "food_id" | "device_id" => numeric_id(value),
        "query" => value.chars().count() <= 100 && !value.chars().any(char::is_control),
        "user_id" => {
            value == "-"
                || (!value.is_empty()
                    && value.len() <= 16
                    && value
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
        }
        "resource" => {
            !value.is_empty()
                && !value.contains("..")
                && !value.starts_with('/')
                && !value.ends_with('/')
                && value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "/_-".contains(c))
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let expected = match name {
        "base_date" | "end_date" | "date" => "a date yyyy-MM-dd or 'today'".to_string(),
        "period" if method == "get_friends_leaderboard" => {
            format!("one of {}", LEADERBOARD_PERIODS.join(", "))
        }
        "period" => format!("one of {}", PERIODS.join(", ")),
        "detail_level" => format!("one of {}", DETAIL_LEVELS.join(", ")),
        "start_time" | "end_time" => "a time HH:MM".into(),
        "qualifier" => format!("one of {}", QUALIFIERS.join(", ")),
        "collection" => format!("one of {}", COLLECTIONS.join(", ")),
        "activity_id" | "food_id" | "device_id" => "a numeric id".into(),
        "query" => "a search text of at most 100 characters".into(),
        "user_id" => "'-' or a Fitbit user id".into(),
        _ => "a Fitbit resource path such as body/weight or activities/steps".into(),
    };
    Err(PluginError::bad_request(format!(
        "Fitbitplugin parameter '{}' has the bad value {:?}: expected {expected}",
        echo(name),
        echo(value)
    )))
}

/// Validates `methods` and `args` and gives each method the arguments it
/// accepts. A write (a write method, or a read method given what it would
/// write) is refused; so is an argument no called method accepts.
pub fn plan(methods: &[String], args: &Map<String, Value>) -> Result<Vec<Call>> {
    let mut texts = BTreeMap::new();
    for (name, value) in args {
        // Igor may return numbers; empty values mean "not given".
        if let Some(text) = as_text(value).filter(|t| !t.is_empty()) {
            texts.insert(name.clone(), text);
        }
    }
    let mut calls = Vec::new();
    for method in methods {
        if let Some(refusal) = write_refusal(method, &texts) {
            return Err(refusal);
        }
        let Some(accepts) = accepted(method) else {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin has no method '{}'; known methods: {}",
                echo(method),
                method_names()
            )));
        };
        let args: BTreeMap<String, String> = texts
            .iter()
            .filter(|(k, _)| accepts.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (name, value) in &args {
            check_value(method, name, value)?;
        }
        let has = |k: &str| args.contains_key(k);
        for (_, needed) in REQUIRED.iter().filter(|(m, _)| m == method) {
            if !has(needed) {
                return Err(PluginError::bad_request(format!(
                    "Fitbitplugin method {method} needs '{needed}'"
                )));
            }
        }
        if has("period") && has("end_date") {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin method {method}: give either 'period' or 'end_date', not both"
            )));
        }
        match method.as_str() {
            "time_series" if !has("period") && !has("end_date") => {
                return Err(PluginError::bad_request(
                    "Fitbitplugin method time_series needs 'period' or 'end_date'",
                ));
            }
            "time_series" | "intraday_time_series" if !has("resource") => {
                return Err(PluginError::bad_request(format!(
                    "Fitbitplugin method {method} needs 'resource' (e.g. body/weight)"
                )));
            }
            "intraday_time_series" if has("start_time") != has("end_time") => {
                return Err(PluginError::bad_request(
                    "Fitbitplugin method intraday_time_series needs both 'start_time' and 'end_time', or neither",
                ));
            }
            _ => {}
        }
        calls.push(Call {
            method: method.clone(),
            args,
        });
    }
    for name in texts.keys() {
        let used = calls.iter().any(|call| call.args.contains_key(name));
        if !used {
            return Err(PluginError::bad_request(format!(
                "Fitbitplugin parameter '{}' is not accepted by {}",
                echo(name),
                echo(&methods.join(", "))
            )));
        }
    }
    Ok(calls)
}

pub use shapes::{answer_key, check_shape, series_key};
pub use urls::path;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn methods(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn today() -> Date {
        Date::parse("2026-11-25").unwrap()
    }

    fn one(method: &str, a: Value) -> String {
        let calls = plan(&methods(&[method]), &args(a)).unwrap();
        path(&calls[0], today())
    }

    #[test]
    fn urls_follow_python_fitbit() {
        assert_eq!(
            one("get_bodyweight", json!({})),
            "/1/user/-/body/log/weight/date/2026-11-25.json"
        );
        assert_eq!(
            one(
                "get_bodyweight",
                json!({"base_date": "2026-11-01", "period": "7d"})
            ),
            "/1/user/-/body/log/weight/date/2026-11-01/7d.json"
        );
        assert_eq!(
            one(
                "get_bodyfat",
                json!({"base_date": "2026-11-01", "end_date": "2026-11-20"})
            ),
            "/1/user/-/body/log/fat/date/2026-11-01/2026-11-20.json"
        );
        assert_eq!(
            one(
                "time_series",
                json!({"resource": "body/weight", "period": "1m"})
            ),
            "/1/user/-/body/weight/date/today/1m.json"
        );
        assert_eq!(
            one(
                "intraday_time_series",
                json!({"resource": "activities/heart", "detail_level": "15min", "start_time": "08:00", "end_time": "09:30"})
            ),
            "/1/user/-/activities/heart/date/today/1d/15min/time/08:00/09:30.json"
        );
        assert_eq!(
            one("sleep", json!({"date": "2026-11-20"})),
            "/1/user/-/sleep/date/2026-11-20.json"
        );
        assert_eq!(
            one("heart", json!({})),
            "/1/user/-/heart/date/2026-11-25.json"
        );
        assert_eq!(
            one("user_profile_get", json!({"user_id": "GGNJL9"})),
            "/1/user/GGNJL9/profile.json"
        );
        assert_eq!(one("get_devices", json!({})), "/1/user/-/devices.json");
    }

    #[test]
    fn every_method_builds_its_url_with_user_and_range() {
        let cases = [
            (
                "get_bodyweight",
                json!({"user_id": "GGNJL9", "base_date": "today", "end_date": "2026-11-20"}),
                "/1/user/GGNJL9/body/log/weight/date/today/2026-11-20.json",
            ),
            (
                "get_bodyfat",
                json!({"period": "1m"}),
                "/1/user/-/body/log/fat/date/2026-11-25/1m.json",
            ),
            (
                "time_series",
                json!({"resource": "activities/steps", "user_id": "-", "base_date": "2026-11-01", "end_date": "2026-11-20"}),
                "/1/user/-/activities/steps/date/2026-11-01/2026-11-20.json",
            ),
            (
                "intraday_time_series",
                json!({"resource": "activities/steps"}),
                "/1/user/-/activities/steps/date/today/1d/1min.json",
            ),
            (
                "body",
                json!({"date": "today"}),
                "/1/user/-/body/date/today.json",
            ),
            (
                "activities",
                json!({"user_id": "ABC123"}),
                "/1/user/ABC123/activities/date/2026-11-25.json",
            ),
            ("sleep", json!({}), "/1/user/-/sleep/date/2026-11-25.json"),
            ("user_profile_get", json!({}), "/1/user/-/profile.json"),
        ];
        for (method, a, expected) in cases {
            assert_eq!(one(method, a), expected, "{method}");
        }
    }

    #[test]
    fn every_read_goes_to_python_fitbits_url() {
        let cases = [
            (
                "foods_log",
                json!({"date": "2026-11-20"}),
                "/1/user/-/foods/log/date/2026-11-20.json",
            ),
            (
                "foods_log_water",
                json!({}),
                "/1/user/-/foods/log/water/date/2026-11-25.json",
            ),
            (
                "bp",
                json!({"user_id": "GGNJL9"}),
                "/1/user/GGNJL9/bp/date/2026-11-25.json",
            ),
            (
                "glucose",
                json!({}),
                "/1/user/-/glucose/date/2026-11-25.json",
            ),
            // Unpadded, on the v1 API, as get_sleep formats it.
            (
                "get_sleep",
                json!({"date": "2026-01-05"}),
                "/1/user/-/sleep/date/2026-1-5.json",
            ),
            ("activity_stats", json!({}), "/1/user/-/activities.json"),
            (
                "activity_stats",
                json!({"qualifier": "frequent"}),
                "/1/user/-/activities/frequent.json",
            ),
            (
                "recent_activities",
                json!({}),
                "/1/user/-/activities/recent.json",
            ),
            (
                "favorite_activities",
                json!({}),
                "/1/user/-/activities/favorite.json",
            ),
            (
                "frequent_activities",
                json!({}),
                "/1/user/-/activities/frequent.json",
            ),
            ("recent_foods", json!({}), "/1/user/-/foods/log/recent.json"),
            (
                "favorite_foods",
                json!({}),
                "/1/user/-/foods/log/favorite.json",
            ),
            (
                "frequent_foods",
                json!({}),
                "/1/user/-/foods/log/frequent.json",
            ),
            ("activities_list", json!({}), "/1/activities.json"),
            (
                "activity_detail",
                json!({"activity_id": "90009"}),
                "/1/activities/90009.json",
            ),
            (
                "body_weight_goal",
                json!({}),
                "/1/user/-/body/log/weight/goal.json",
            ),
            (
                "body_fat_goal",
                json!({}),
                "/1/user/-/body/log/fat/goal.json",
            ),
            (
                "activities_daily_goal",
                json!({}),
                "/1/user/-/activities/goals/daily.json",
            ),
            (
                "activities_weekly_goal",
                json!({}),
                "/1/user/-/activities/goals/weekly.json",
            ),
            ("food_goal", json!({}), "/1/user/-/foods/log/goal.json"),
            (
                "water_goal",
                json!({}),
                "/1/user/-/foods/log/water/goal.json",
            ),
            ("get_meals", json!({}), "/1/user/-/meals.json"),
            (
                "get_alarms",
                json!({"device_id": "12345"}),
                "/1/user/-/devices/tracker/12345/alarms.json",
            ),
            ("get_badges", json!({}), "/1/user/-/badges.json"),
            ("get_friends", json!({}), "/1/user/-/friends.json"),
            (
                "get_friends_leaderboard",
                json!({"period": "30d"}),
                "/1/user/-/friends/leaders/30d.json",
            ),
            ("food_units", json!({}), "/1/foods/units.json"),
            ("food_detail", json!({"food_id": "18"}), "/1/foods/18.json"),
            (
                "search_foods",
                json!({"query": "rice cake"}),
                "/1/foods/search.json?query=rice+cake",
            ),
            (
                "list_subscriptions",
                json!({}),
                "/1/user/-/apiSubscriptions.json",
            ),
            (
                "list_subscriptions",
                json!({"collection": "body"}),
                "/1/user/-/body/apiSubscriptions.json",
            ),
            (
                "time_series",
                json!({"resource": "spo2", "base_date": "2026-11-01", "end_date": "2026-11-20"}),
                "/1/user/-/spo2/date/2026-11-01/2026-11-20.json",
            ),
            (
                "time_series",
                json!({"resource": "temp/skin", "base_date": "2026-11-01", "end_date": "2026-11-20"}),
                "/1/user/-/temp/skin/date/2026-11-01/2026-11-20.json",
            ),
        ];
        for (method, a, expected) in cases {
            assert_eq!(one(method, a), expected, "{method}");
        }
        for method in [
            "get_sleep",
            "activity_detail",
            "get_alarms",
            "get_friends_leaderboard",
            "food_detail",
            "search_foods",
        ] {
            let err = plan(&methods(&[method]), &args(json!({}))).unwrap_err();
            assert!(err.message.contains("needs"), "{method}: {}", err.message);
        }
        for (method, a) in [
            ("get_friends_leaderboard", json!({"period": "1y"})),
            ("activity_stats", json!({"qualifier": "best"})),
            ("food_detail", json!({"food_id": "../x"})),
            ("list_subscriptions", json!({"collection": "heart"})),
        ] {
            assert_eq!(plan(&methods(&[method]), &args(a)).unwrap_err().status, 400);
        }
    }

    #[test]
    fn writes_are_refused_before_anything_else() {
        for (method, a) in [
            ("log_activity", json!({})),
            ("subscription", json!({})),
            ("water_goal", json!({"target": "2000"})),
            ("activities_daily_goal", json!({"steps": "10000"})),
            ("sleep", json!({"data": "{}"})),
        ] {
            let err = plan(&methods(&[method]), &args(a)).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(
                err.message.contains(method) && err.message.contains("a write"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn bare_lists_are_kept_under_the_methods_key() {
        let call = |method: &str, a: Value| plan(&methods(&[method]), &args(a)).unwrap().remove(0);
        assert_eq!(answer_key(&call("get_devices", json!({}))), "devices");
        assert_eq!(answer_key(&call("recent_foods", json!({}))), "recent_foods");
        assert_eq!(
            answer_key(&call("activity_stats", json!({"qualifier": "recent"}))),
            "recent_activities"
        );
        let spo2 = call("time_series", json!({"resource": "spo2", "period": "7d"}));
        assert_eq!(answer_key(&spo2), "spo2");
        let skin = call(
            "time_series",
            json!({"resource": "temp/skin", "period": "7d"}),
        );
        assert_eq!(answer_key(&skin), "tempSkin");
    }

    #[test]
    fn values_are_checked_by_parameter() {
        let ok = [
            (
                "intraday_time_series",
                json!({"resource": "activities/heart", "detail_level": "1sec"}),
            ),
            ("sleep", json!({"date": "2024-02-29"})),
            (
                "get_bodyweight",
                json!({"period": "max", "base_date": "today"}),
            ),
            (
                "time_series",
                json!({"resource": "body/bmi", "period": "1y"}),
            ),
        ];
        for (method, a) in ok {
            assert!(plan(&methods(&[method]), &args(a.clone())).is_ok(), "{a}");
        }
        let bad = [
            (
                "intraday_time_series",
                json!({"resource": "activities/heart", "detail_level": "5sec"}),
                "'detail_level'",
            ),
            (
                "intraday_time_series",
                json!({"resource": "activities/heart", "start_time": "8:00", "end_time": "09:00"}),
                "'start_time'",
            ),
            ("sleep", json!({"date": "2023-02-29"}), "'date'"),
            ("sleep", json!({"date": "yesterday"}), "'date'"),
            (
                "user_profile_get",
                json!({"user_id": "ggnjl9"}),
                "'user_id'",
            ),
            (
                "time_series",
                json!({"resource": "Body/Weight", "period": "1d"}),
                "'resource'",
            ),
            (
                "time_series",
                json!({"resource": "/body/weight", "period": "1d"}),
                "'resource'",
            ),
            (
                "time_series",
                json!({"resource": "body/weight?x=1", "period": "1d"}),
                "'resource'",
            ),
            ("time_series", json!({"period": "1d"}), "needs 'resource'"),
            (
                "get_devices",
                json!({"period": "1d"}),
                "'period' is not accepted by get_devices",
            ),
        ];
        for (method, a, needle) in bad {
            let err = plan(&methods(&[method]), &args(a)).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
        // Empty values (Igor's `{}` or an empty form field) mean "not given".
        let calls = plan(
            &methods(&["get_bodyweight"]),
            &args(json!({"period": {}, "end_date": ""})),
        )
        .unwrap();
        assert!(calls[0].args.is_empty());
    }

    #[test]
    fn bad_input_names_the_culprit() {
        let cases = [
            (vec!["nope"], json!({}), "no method 'nope'"),
            (vec!["get_bodyweight"], json!({"period": "2w"}), "'period'"),
            (
                vec!["get_bodyweight"],
                json!({"period": "7d", "end_date": "2026-11-20"}),
                "not both",
            ),
            (
                vec!["get_bodyweight"],
                json!({"base_date": "2026-13-01"}),
                "'base_date'",
            ),
            (
                vec!["time_series"],
                json!({"resource": "body/weight"}),
                "'period' or 'end_date'",
            ),
            (
                vec!["time_series"],
                json!({"resource": "../x", "period": "1d"}),
                "'resource'",
            ),
            (
                vec!["get_bodyweight"],
                json!({"perod": "7d"}),
                "'perod' is not accepted",
            ),
            (
                vec!["get_bodyweight"],
                json!({"user_id": "x; y"}),
                "'user_id'",
            ),
            (
                vec!["intraday_time_series"],
                json!({"resource": "activities/steps", "start_time": "08:00"}),
                "both 'start_time' and 'end_time'",
            ),
        ];
        for (methods_list, a, needle) in cases {
            let err = plan(&methods(&methods_list), &args(a)).unwrap_err();
            assert_eq!(err.status, 400);
            assert!(err.message.contains(needle), "{needle}: {}", err.message);
        }
    }

    #[test]
    fn shapes_follow_what_each_method_answers() {
        let call = |a: Value| {
            plan(&methods(&["time_series"]), &args(a))
                .unwrap()
                .remove(0)
        };
        let heart = call(json!({"resource": "activities/heart", "period": "7d"}));
        let zones = json!({"activities-heart": [{"dateTime": "2026-11-20",
            "value": {"heartRateZones": [], "restingHeartRate": 60}}]});
        assert_eq!(check_shape(&heart, zones.as_object().unwrap()), Ok(()));
        let steps = call(json!({"resource": "activities/steps", "period": "7d"}));
        let listed = json!({"activities-steps": [{"dateTime": "2026-11-20", "value": [1]}]});
        assert!(check_shape(&steps, listed.as_object().unwrap()).is_err());
        let text = json!({"activities-steps": [{"dateTime": "2026-11-20", "value": "8012"}]});
        assert_eq!(check_shape(&steps, text.as_object().unwrap()), Ok(()));
    }

    #[test]
    fn arguments_go_to_the_methods_that_accept_them() {
        let calls = plan(
            &methods(&["get_bodyweight", "time_series"]),
            &args(json!({"resource": "body/weight", "period": "1m", "base_date": 20261101})),
        );
        // A numeric-looking date from Igor is still checked as text.
        assert!(calls.is_err());
        let calls = plan(
            &methods(&["get_bodyweight", "time_series"]),
            &args(json!({"resource": "body/weight", "period": "1m"})),
        )
        .unwrap();
        assert!(!calls[0].args.contains_key("resource"));
        assert_eq!(calls[1].args["resource"], "body/weight");
    }
}
