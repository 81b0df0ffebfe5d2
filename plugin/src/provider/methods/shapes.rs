//! What each read answers: the key an answer that is a bare list is kept
//! under, and the shape readers of `sensors/N/U` rely on, checked so that
//! data of another shape (`{"weight": "lots"}`) is never stored as if it
//! were the user's. Only what readers rely on is checked; extra fields are
//! kept.

use serde_json::{Map, Value};

use crate::provider::Call;

/// The key a bare-list answer is stored under: `devices` for
/// `get_devices`, the series key for a `time_series` (the legacy SpO2
/// interval is a bare list), else the method's name (`recent_foods`, or
/// `recent_activities` for `activity_stats` with `qualifier=recent`).
pub fn answer_key(call: &Call) -> String {
    match call.method.as_str() {
        "get_devices" => "devices".into(),
        "time_series" => series_key(call.args.get("resource").map_or("", String::as_str)),
        "activity_stats" => match call.args.get("qualifier") {
            Some(q) => format!("{q}_activities"),
            None => "activity_stats".into(),
        },
        other => other.into(),
    }
}

/// The answer key of a `time_series` resource, as the legacy API named it:
/// `body/weight` → `body-weight`; the health metrics have their own.
pub fn series_key(resource: &str) -> String {
    match resource {
        "temp/skin" => "tempSkin".into(),
        "cardioscore" => "cardioScore".into(),
        other => other.replace('/', "-"),
    }
}

/// Checks that a successful answer has the shape its method returns. `Err`
/// says what is wrong.
pub fn check_shape(call: &Call, answer: &Map<String, Value>) -> std::result::Result<(), String> {
    let key = answer_key(call);
    let resource = call.args.get("resource").map_or("", String::as_str);
    match call.method.as_str() {
        "get_bodyweight" => list_of(answer, "weight", &[("weight", number), ("date", text)]),
        "get_bodyfat" => list_of(answer, "fat", &[("fat", number), ("date", text)]),
        // Values are strings, or objects (heart zones, the health metrics).
        "time_series" => list_of(
            answer,
            &key,
            &[("dateTime", text), ("value", scalar_or_object)],
        ),
        "intraday_time_series" => {
            let key = format!("{}-intraday", series_key(resource));
            let day = answer
                .get(&key)
                .and_then(Value::as_object)
                .ok_or_else(|| format!("'{key}' is not an object"))?;
            list_of(day, "dataset", &[("time", text), ("value", number)])
        }
        "body" => object_at(answer, "body"),
        "activities" => object_at(answer, "summary"),
        "sleep" | "get_sleep" => list_of(answer, "sleep", &[]),
        "heart" => list_of(answer, "heart", &[]),
        "foods_log" => list_of(answer, "foods", &[]),
        "foods_log_water" => list_of(answer, "water", &[("amount", number)]),
        "bp" => list_of(answer, "bp", &[]),
        "glucose" => list_of(answer, "glucose", &[]),
        "user_profile_get" => object_at(answer, "user"),
        "activity_stats" if !call.args.contains_key("qualifier") => object_at(answer, "lifetime"),
        "activities_list" => list_of(answer, "categories", &[]),
        "activity_detail" => object_at(answer, "activity"),
        "body_weight_goal" | "body_fat_goal" | "water_goal" => object_at(answer, "goal"),
        "activities_daily_goal" | "activities_weekly_goal" | "food_goal" => {
            object_at(answer, "goals")
        }
        "get_meals" => list_of(answer, "meals", &[]),
        "get_alarms" => list_of(answer, "trackerAlarms", &[]),
        "get_badges" => list_of(answer, "badges", &[]),
        "get_friends" | "get_friends_leaderboard" => list_of(answer, "friends", &[]),
        "food_detail" => object_at(answer, "food"),
        "search_foods" => list_of(answer, "foods", &[]),
        "list_subscriptions" => list_of(answer, "apiSubscriptions", &[]),
        // Bare lists: devices, recent/favorite/frequent activities and foods,
        // food units.
        _ => list_of(answer, &key, &[]),
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
