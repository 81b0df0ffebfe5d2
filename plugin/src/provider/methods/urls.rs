//! The legacy API path of each read, as python-fitbit 0.3.1 built it.

use crate::dates::Date;
use crate::provider::Call;

/// The API path (below the API base URL) of a call, as python-fitbit built
/// it; `today` is the date python-fitbit would have taken (the host's).
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
    // `_COLLECTION_RESOURCE` names: `foods_log` is `foods/log`, ...
    let collection = |name: &str| {
        match name {
            "foods_log" => "foods/log",
            "foods_log_water" => "foods/log/water",
            other => other,
        }
        .to_string()
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
        "body" | "activities" | "sleep" | "heart" | "foods_log" | "foods_log_water" | "bp"
        | "glucose" => format!(
            "/1/user/{uid}/{}/date/{}.json",
            collection(&call.method),
            date_or_today("date")
        ),
        // get_sleep formats the date itself, unpadded, on the v1 API.
        "get_sleep" => {
            let day = match arg("date") {
                Some("today") | None => today,
                Some(text) => Date::parse(text).unwrap_or(today),
            };
            format!(
                "/1/user/-/sleep/date/{}-{}-{}.json",
                day.year, day.month, day.day
            )
        }
        "user_profile_get" => format!("/1/user/{uid}/profile.json"),
        "get_devices" => "/1/user/-/devices.json".to_string(),
        "activity_stats" => match arg("qualifier") {
            Some(q) => format!("/1/user/{uid}/activities/{q}.json"),
            None => format!("/1/user/{uid}/activities.json"),
        },
        "recent_activities" | "favorite_activities" | "frequent_activities" => {
            let qualifier = call.method.trim_end_matches("_activities");
            format!("/1/user/{uid}/activities/{qualifier}.json")
        }
        "recent_foods" | "favorite_foods" | "frequent_foods" => {
            let qualifier = call.method.trim_end_matches("_foods");
            format!("/1/user/{uid}/foods/log/{qualifier}.json")
        }
        "activities_list" => "/1/activities.json".to_string(),
        "activity_detail" => format!("/1/activities/{}.json", arg("activity_id").unwrap_or("0")),
        "body_weight_goal" => "/1/user/-/body/log/weight/goal.json".to_string(),
        "body_fat_goal" => "/1/user/-/body/log/fat/goal.json".to_string(),
        "activities_daily_goal" => "/1/user/-/activities/goals/daily.json".to_string(),
        "activities_weekly_goal" => "/1/user/-/activities/goals/weekly.json".to_string(),
        "food_goal" => "/1/user/-/foods/log/goal.json".to_string(),
        "water_goal" => "/1/user/-/foods/log/water/goal.json".to_string(),
        "get_meals" => "/1/user/-/meals.json".to_string(),
        "get_alarms" => format!(
            "/1/user/-/devices/tracker/{}/alarms.json",
            arg("device_id").unwrap_or("0")
        ),
        "get_badges" => format!("/1/user/{uid}/badges.json"),
        "get_friends" => format!("/1/user/{uid}/friends.json"),
        "get_friends_leaderboard" => format!(
            "/1/user/-/friends/leaders/{}.json",
            arg("period").unwrap_or("7d")
        ),
        "food_units" => "/1/foods/units.json".to_string(),
        "food_detail" => format!("/1/foods/{}.json", arg("food_id").unwrap_or("0")),
        "search_foods" => {
            let query: String =
                url::form_urlencoded::byte_serialize(arg("query").unwrap_or("").as_bytes())
                    .collect();
            format!("/1/foods/search.json?query={query}")
        }
        "list_subscriptions" => match arg("collection") {
            Some(c) => format!("/1/user/-/{c}/apiSubscriptions.json"),
            None => "/1/user/-/apiSubscriptions.json".to_string(),
        },
        other => unreachable!("the plan knows no method {other}"),
    }
}
