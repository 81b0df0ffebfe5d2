//! The legacy reads Google Health has no data for: badges, friends, alarms,
//! goals, the food and activity databases, favourites, blood pressure. Each
//! is answered 501 before anything is sent, naming the method, saying that
//! Google Health has no equivalent and what the owner can use instead.

use crate::errors::PluginError;
use crate::provider::Call;

/// Method, what Google Health lacks, and what to use instead.
pub const NO_EQUIVALENT: &[(&str, &str, &str)] = &[
    (
        "bp",
        "blood pressure logs",
        "no Google Health data type holds blood pressure; keep such logs elsewhere",
    ),
    (
        "favorite_activities",
        "favourite activities",
        "recent_activities (the user's latest exercise types)",
    ),
    (
        "frequent_activities",
        "a list of frequent activities",
        "recent_activities (the user's latest exercise types)",
    ),
    (
        "favorite_foods",
        "favourite foods",
        "recent_foods (the foods the user logged last)",
    ),
    (
        "frequent_foods",
        "a list of frequent foods",
        "recent_foods (the foods the user logged last)",
    ),
    (
        "activity_stats",
        "lifetime totals and best days",
        "time_series with period=max for daily totals of up to three years",
    ),
    (
        "activities_list",
        "the catalogue of activity types",
        "recent_activities, whose names are Google's exercise types",
    ),
    (
        "activity_detail",
        "the catalogue of activity types",
        "recent_activities, whose names are Google's exercise types",
    ),
    (
        "body_weight_goal",
        "goals",
        "the weight itself: get_bodyweight or time_series with resource=body/weight",
    ),
    (
        "body_fat_goal",
        "goals",
        "the body fat itself: get_bodyfat or time_series with resource=body/fat",
    ),
    (
        "activities_daily_goal",
        "goals",
        "the day's totals: activities or time_series",
    ),
    (
        "activities_weekly_goal",
        "goals",
        "the week's totals: time_series with period=7d",
    ),
    ("food_goal", "goals", "the day's food log: foods_log"),
    (
        "water_goal",
        "goals",
        "the day's water log: foods_log_water",
    ),
    (
        "get_meals",
        "saved meals",
        "foods_log (what was eaten, with its meal type)",
    ),
    (
        "get_alarms",
        "device alarms",
        "get_devices (the paired devices, whose features list ALARMS)",
    ),
    (
        "get_badges",
        "badges",
        "the totals they were earned for: time_series",
    ),
    (
        "get_friends",
        "friends",
        "nothing: Google Health has no social data",
    ),
    (
        "get_friends_leaderboard",
        "friends or leaderboards",
        "time_series with resource=activities/steps for the user's own steps",
    ),
    (
        "food_units",
        "a searchable food database",
        "foods_log, whose entries name their serving units",
    ),
    (
        "food_detail",
        "a searchable food database",
        "foods_log, whose entries carry their nutritional values",
    ),
    (
        "search_foods",
        "a searchable food database",
        "recent_foods (the foods the user logged last)",
    ),
    (
        "list_subscriptions",
        "per-user subscriptions (notifications go to webhooks of a Cloud project, with \
         the cloud-platform scope)",
        "a scheduled action that calls the plugin",
    ),
];

/// The 501 for a call Google Health has no data for, if it is one.
pub fn no_equivalent(call: &Call) -> Option<PluginError> {
    // activity_stats with qualifier=recent is recent_activities.
    let method = match (call.method.as_str(), call.args.get("qualifier")) {
        ("activity_stats", Some(q)) if q == "recent" => return None,
        ("activity_stats", Some(q)) => format!("{q}_activities"),
        (method, _) => method.to_string(),
    };
    let (_, what, instead) = NO_EQUIVALENT.iter().find(|(m, _, _)| *m == method)?;
    Some(PluginError::new(
        501,
        format!(
            "Fitbitplugin method {}: Google Health has no equivalent ({what}), so it cannot be \
             answered for a Google Health user; use {instead}. Nothing was sent or stored.",
            call.method
        ),
    ))
}
