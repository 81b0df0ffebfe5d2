//! The legacy methods, with python-fitbit's names, parameters and URLs, and
//! their validation: everything is checked before anything is sent.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::dates::{Date, valid_time};
use crate::errors::{PluginError, Result, echo};
use crate::json::as_text;
use crate::provider::Call;

pub const PERIODS: &[&str] = &["1d", "7d", "30d", "1w", "1m", "3m", "6m", "1y", "max"];
pub const DETAIL_LEVELS: &[&str] = &["1sec", "1min", "15min"];

/// Each method and the arguments it accepts.
pub const METHODS: &[(&str, &[&str])] = &[
    (
        "get_bodyweight",
        &["base_date", "user_id", "period", "end_date"],
    ),
    (
        "get_bodyfat",
        &["base_date", "user_id", "period", "end_date"],
    ),
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
    ("body", &["date", "user_id"]),
    ("activities", &["date", "user_id"]),
    ("sleep", &["date", "user_id"]),
    ("heart", &["date", "user_id"]),
    ("user_profile_get", &["user_id"]),
    ("get_devices", &[]),
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

/// Checks one argument's value.
fn check_value(name: &str, value: &str) -> Result<()> {
    let ok = match name {
        "base_date" | "end_date" | "date" => value == "today" || Date::parse(value).is_some(),
        "period" => PERIODS.contains(&value),
        "detail_level" => DETAIL_LEVELS.contains(&value),
        "start_time" | "end_time" => valid_time(value),
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
        "period" => format!("one of {}", PERIODS.join(", ")),
        "detail_level" => format!("one of {}", DETAIL_LEVELS.join(", ")),
        "start_time" | "end_time" => "a time HH:MM".into(),
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
/// accepts. An argument no called method accepts is an error.
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
            check_value(name, value)?;
        }
        let has = |k: &str| args.contains_key(k);
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

/// Checks that a successful answer has the shape its method returns, so
/// that data of another shape (`{"weight": "lots"}`) is never stored as if
/// it were the user's. `Err` says what is wrong. Only what readers of
/// `sensors/N/U` rely on is checked; extra fields are kept.
pub fn check_shape(call: &Call, answer: &Map<String, Value>) -> std::result::Result<(), String> {
    let resource = call
        .args
        .get("resource")
        .map(|r| r.replace('/', "-"))
        .unwrap_or_default();
    match call.method.as_str() {
        "get_bodyweight" => list_of(answer, "weight", &[("weight", number), ("date", text)]),
        "get_bodyfat" => list_of(answer, "fat", &[("fat", number), ("date", text)]),
        // Values are strings, or objects for `activities/heart` (zones).
        "time_series" => list_of(
            answer,
            &resource,
            &[("dateTime", text), ("value", scalar_or_object)],
        ),
        "intraday_time_series" => {
            let key = format!("{resource}-intraday");
            let day = answer
                .get(&key)
                .and_then(Value::as_object)
                .ok_or_else(|| format!("'{key}' is not an object"))?;
            list_of(day, "dataset", &[("time", text), ("value", number)])
        }
        "body" => object_at(answer, "body"),
        "activities" => object_at(answer, "summary"),
        "sleep" => list_of(answer, "sleep", &[]),
        "heart" => list_of(answer, "heart", &[]),
        "user_profile_get" => object_at(answer, "user"),
        _ => list_of(answer, "devices", &[]),
    }
}

fn number(value: &Value) -> bool {
    value.is_number()
}

fn text(value: &Value) -> bool {
    value.is_string()
}

fn scalar_or_object(value: &Value) -> bool {
    value.is_number() || value.is_string() || value.is_object()
}

type FieldCheck<'a> = (&'a str, fn(&Value) -> bool);

/// `answer[key]` is a list of objects whose `fields` pass their checks.
fn list_of(
    answer: &Map<String, Value>,
    key: &str,
    fields: &[FieldCheck],
) -> std::result::Result<(), String> {
    let items = answer
        .get(key)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("'{key}' is not a list"))?;
    for (i, item) in items.iter().enumerate() {
        let item = item
            .as_object()
            .ok_or_else(|| format!("'{key}'[{i}] is not an object"))?;
        for (field, ok) in fields {
            if !item.get(*field).is_some_and(ok) {
                return Err(format!(
                    "'{key}'[{i}].{field} is missing or of the wrong type"
                ));
            }
        }
    }
    Ok(())
}

fn object_at(answer: &Map<String, Value>, key: &str) -> std::result::Result<(), String> {
    match answer.get(key) {
        Some(Value::Object(_)) => Ok(()),
        _ => Err(format!("'{key}' is not an object")),
    }
}

/// The API path (below the API base URL) of a call, as python-fitbit built it.
pub fn path(call: &Call, today: Date) -> String {
    let arg = |k: &str| call.args.get(k).map(String::as_str);
    let uid = arg("user_id").unwrap_or("-");
    let date_or_today = |k: &str| {
        arg(k)
            .map(str::to_string)
            .unwrap_or_else(|| today.to_string())
    };
    let range = |base: String| match (arg("period"), arg("end_date")) {
        (Some(period), _) => format!("{base}/{period}"),
        (_, Some(end)) => format!("{base}/{end}"),
        _ => base,
    };
    match call.method.as_str() {
        "get_bodyweight" => format!(
            "/1/user/{uid}/body/log/weight/date/{}.json",
            range(date_or_today("base_date"))
        ),
        "get_bodyfat" => format!(
            "/1/user/{uid}/body/log/fat/date/{}.json",
            range(date_or_today("base_date"))
        ),
        "time_series" => format!(
            "/1/user/{uid}/{}/date/{}.json",
            arg("resource").unwrap_or_default(),
            range(arg("base_date").unwrap_or("today").to_string())
        ),
        "intraday_time_series" => {
            let mut path = format!(
                "/1/user/-/{}/date/{}/1d/{}",
                arg("resource").unwrap_or_default(),
                arg("base_date").unwrap_or("today"),
                arg("detail_level").unwrap_or("1min")
            );
            if let (Some(start), Some(end)) = (arg("start_time"), arg("end_time")) {
                path.push_str(&format!("/time/{start}/{end}"));
            }
            format!("{path}.json")
        }
        "body" | "activities" | "sleep" | "heart" => format!(
            "/1/user/{uid}/{}/date/{}.json",
            call.method,
            date_or_today("date")
        ),
        "user_profile_get" => format!("/1/user/{uid}/profile.json"),
        _ => "/1/user/-/devices.json".to_string(),
    }
}

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
