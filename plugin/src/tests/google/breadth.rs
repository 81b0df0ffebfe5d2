//! The rest of python-fitbit's reads for a Google Health user: food, water,
//! glucose, sleep by date, recent activities and foods, the health metrics
//! as time series; the reads Google has no data for (501) and the writes
//! (400), both before anything is sent.

use super::*;
use crate::provider::google::SCOPE_NUTRITION;

fn stored(host: &MemoryHost) -> Value {
    host.get("sensors/fitbit/jack").unwrap()
}

/// A session interval on 2026-11-20 (UTC+1) from `start` to `end` (UTC).
fn session(start: &str, end: &str) -> Value {
    json!({"startTime": format!("2026-11-20T{start}Z"), "endTime": format!("2026-11-20T{end}Z"),
           "startUtcOffset": "3600s", "endUtcOffset": "3600s"})
}

fn responder(
    r: &FetchRequest,
) -> Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError> {
    let q = query_of(&r.url);
    let filter = q.get("filter").cloned().unwrap_or_default();
    if is_list(&r.url, "nutrition-log") {
        let oats = json!({"name": "users/1/dataTypes/nutrition-log/dataPoints/501", "nutritionLog": {
            "interval": session("07:30:00", "07:45:00"), "foodDisplayName": "Oatmeal",
            "mealType": "BREAKFAST", "energy": {"kcal": 150.4},
            "serving": {"amount": 1.5, "foodMeasurementUnitDisplayName": "cup"},
            "totalCarbohydrate": {"grams": 27.0}, "totalFat": {"grams": 3.0},
            "nutrients": [{"nutrient": "PROTEIN", "quantity": {"grams": 5.0}},
                          {"nutrient": "SODIUM", "quantity": {"grams": 0.115}}]}});
        let apple = json!({"name": "users/1/dataTypes/nutrition-log/dataPoints/502", "nutritionLog": {
            "interval": session("14:00:00", "14:05:00"), "foodDisplayName": "Apple",
            "mealType": "BEFORE_DINNER", "energy": {"kcal": 95.0},
            "nutrients": [{"nutrient": "DIETARY_FIBER", "quantity": {"grams": 4.4}}]}});
        if !q.contains_key("filter") {
            // recent_foods: the newest first, one page.
            assert_eq!(q["pageSize"], "100");
            return response(
                200,
                json!({"dataPoints": [apple, oats.clone(), oats],
                                       "nextPageToken": "OLDER"}),
            );
        }
        assert!(filter.starts_with("nutrition_log.interval.civil_start_time >= \"2026-11-20\""));
        return response(200, json!({"dataPoints": [apple, oats]}));
    }
    if is_list(&r.url, "hydration-log") {
        assert!(filter.starts_with("hydration_log.interval.civil_start_time >= \"2026-11-20\""));
        return response(
            200,
            json!({"dataPoints": [
            {"name": "users/1/dataTypes/hydration-log/dataPoints/9", "hydrationLog": {
                "interval": session("12:00:00", "12:00:00"), "amountConsumed": {"milliliters": 500.0}}},
            {"name": "users/1/dataTypes/hydration-log/dataPoints/8", "hydrationLog": {
                "interval": session("08:00:00", "08:00:00"), "amountConsumed": {"milliliters": 250.0}}}]}),
        );
    }
    if is_list(&r.url, "blood-glucose") {
        assert!(filter.starts_with("blood_glucose.sample_time.civil_time >= \"2026-11-20\""));
        return response(
            200,
            json!({"dataPoints": [{"name": "users/1/dataTypes/blood-glucose/dataPoints/31",
            "bloodGlucose": {"sampleTime": {"physicalTime": "2026-11-20T06:15:00Z", "utcOffset": "3600s"},
                "bloodGlucoseMilligramsPerDeciliter": 99.0, "measurementTiming": "FASTING"}}]}),
        );
    }
    if is_list(&r.url, "exercise") {
        assert_eq!(q["pageSize"], "25");
        let run = |id: &str, day: u32, km: f64| {
            json!({"name": format!("users/1/dataTypes/exercise/dataPoints/{id}"),
            "exercise": {"interval": {"startTime": format!("2026-11-{day}T17:00:00Z"),
                "endTime": format!("2026-11-{day}T17:30:00Z")}, "displayName": "Running",
                "exerciseType": "RUNNING", "metricsSummary": {"distanceMillimeters": km * 1e6, "caloriesKcal": 250.0}}})
        };
        let walk = json!({"name": "users/1/dataTypes/exercise/dataPoints/4", "exercise": {
            "interval": {"startTime": "2026-11-18T09:00:00Z", "endTime": "2026-11-18T10:00:00Z"},
            "displayName": "Walking", "exerciseType": "WALKING", "activeDuration": "3300s"}});
        return response(
            200,
            json!({"dataPoints": [run("6", 20, 5.0), run("5", 19, 4.0), walk],
                                   "nextPageToken": "OLDER"}),
        );
    }
    let daily = |field: &str, value: Value| {
        let mut point = json!({"date": {"year": 2026, "month": 11, "day": 20}});
        point
            .as_object_mut()
            .unwrap()
            .extend(value.as_object().unwrap().clone());
        response(200, json!({"dataPoints": [{field: point}]}))
    };
    if is_list(&r.url, "daily-oxygen-saturation") {
        assert_eq!(
            filter,
            "daily_oxygen_saturation.date >= \"2026-11-14\" AND daily_oxygen_saturation.date < \"2026-11-21\""
        );
        return daily(
            "dailyOxygenSaturation",
            json!({"averagePercentage": 96.5,
            "lowerBoundPercentage": 94.0, "upperBoundPercentage": 99.0}),
        );
    }
    if is_list(&r.url, "daily-heart-rate-variability") {
        return daily(
            "dailyHeartRateVariability",
            json!({"averageHeartRateVariabilityMilliseconds": 34.9,
            "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds": 31.6}),
        );
    }
    if is_list(&r.url, "daily-respiratory-rate") {
        return daily("dailyRespiratoryRate", json!({"breathsPerMinute": 14.8}));
    }
    if is_list(&r.url, "daily-sleep-temperature-derivations") {
        return daily(
            "dailySleepTemperatureDerivations",
            json!({"nightlyTemperatureCelsius": 34.1,
            "baselineTemperatureCelsius": 34.6}),
        );
    }
    if is_list(&r.url, "daily-vo2-max") {
        return daily(
            "dailyVo2Max",
            json!({"vo2Max": 46.34, "cardioFitnessLevel": "GOOD"}),
        );
    }
    if is_list(&r.url, "sleep") {
        return response(200, json!({}));
    }
    if path_of(&r.url) == "/v4/users/me/settings" {
        return response(
            200,
            json!({"timeZone": "Europe/Amsterdam", "utcOffset": "3600s"}),
        );
    }
    panic!("unexpected {}", r.url)
}

fn everything() -> String {
    crate::provider::google::ALL_SCOPES.join(" ")
}

fn call(host: &MemoryHost, method: &str, extra: &[(&str, &str)]) -> Value {
    let mut query = vec![("user", "jack"), ("methods", method)];
    query.extend_from_slice(extra);
    let r = run(host, &query);
    assert_eq!(r.status, 200, "{method}: {}", r.body_text());
    stored(host)
}

#[test]
pub(super) fn food_water_and_glucose_come_in_the_legacy_shapes_and_units() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, &everything());
    host.respond(responder);
    let day = [("date", "2026-11-20")];
    assert_eq!(
        call(&host, "foods_log", &day),
        json!({"foods": [
            {"logDate": "2026-11-20", "logId": 501, "loggedFood": {"amount": 1.5, "calories": 150,
                "mealTypeId": 1, "name": "Oatmeal", "unit": {"name": "cup"}},
             "nutritionalValues": {"calories": 150.4, "carbs": 27, "fat": 3, "protein": 5, "sodium": 115}},
            {"logDate": "2026-11-20", "logId": 502, "loggedFood": {"calories": 95, "mealTypeId": 4,
                "name": "Apple"}, "nutritionalValues": {"calories": 95, "fiber": 4.4}}],
            "summary": {"calories": 245.4, "carbs": 27, "fat": 3, "fiber": 4.4, "protein": 5, "sodium": 115}})
    );
    // en_US: fluid ounces and mg/dL, as the legacy Accept-Language did.
    assert_eq!(
        call(&host, "foods_log_water", &day),
        json!({"summary": {"water": 25.36}, "water": [{"amount": 8.45, "logId": 8},
               {"amount": 16.91, "logId": 9}]})
    );
    assert_eq!(
        call(&host, "glucose", &day),
        json!({"glucose": [{"glucose": 99, "logId": 31, "time": "07:15", "tracker": "Before meal"}]})
    );
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &everything());
    host.respond(responder);
    assert_eq!(call(&host, "glucose", &day)["glucose"][0]["glucose"], 5.5);
    assert_eq!(
        call(&host, "foods_log_water", &day)["summary"]["water"],
        750
    );
}

#[test]
pub(super) fn recent_foods_and_activities_read_one_page_newest_first() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &everything());
    host.respond(responder);
    assert_eq!(
        call(&host, "recent_foods", &[]),
        json!({"recent_foods": [
            {"calories": 95, "dateLastEaten": "2026-11-20", "mealTypeId": 4, "name": "Apple"},
            {"amount": 1.5, "calories": 150, "dateLastEaten": "2026-11-20", "mealTypeId": 1,
             "name": "Oatmeal", "unit": {"name": "cup"}}]})
    );
    assert_eq!(
        call(&host, "recent_activities", &[]),
        json!({"recent_activities": [
            {"calories": 250, "description": "", "distance": 5, "duration": 1_800_000, "name": "Running"},
            {"description": "", "duration": 3_300_000, "name": "Walking"}]})
    );
    // activity_stats with qualifier=recent is the same list.
    let stats = call(&host, "activity_stats", &[("qualifier", "recent")]);
    assert_eq!(stats["recent_activities"].as_array().unwrap().len(), 2);
    // One page each: the older pages are never read.
    assert!(host.sent_urls().iter().all(|u| !u.contains("pageToken")));
}

#[test]
pub(super) fn health_metrics_are_time_series_of_googles_daily_types() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, &everything());
    host.respond(responder);
    let week = |resource| {
        [
            ("resource", resource),
            ("base_date", "2026-11-20"),
            ("period", "7d"),
        ]
    };
    let day = |value: Value| json!([{"dateTime": "2026-11-20", "value": value}]);
    // SpO2: Google has the night's average, not its minimum and maximum.
    assert_eq!(
        call(&host, "time_series", &week("spo2")),
        json!({"spo2": day(json!({"avg": 96.5}))})
    );
    assert_eq!(
        call(&host, "time_series", &week("hrv")),
        json!({"hrv": day(json!({"dailyRmssd": 34.9, "deepRmssd": 31.6}))})
    );
    assert_eq!(
        call(&host, "time_series", &week("br")),
        json!({"br": day(json!({"breathingRate": 14.8}))})
    );
    // The night against the baseline, in °F for en_US.
    assert_eq!(
        call(&host, "time_series", &week("temp/skin")),
        json!({"tempSkin": day(json!({"nightlyRelative": -0.9}))})
    );
    assert_eq!(
        call(&host, "time_series", &week("cardioscore")),
        json!({"cardioScore": day(json!({"vo2Max": "46.34"}))})
    );
    // get_sleep is sleep of a date.
    let sleep = call(&host, "get_sleep", &[("date", "2026-11-20")]);
    assert_eq!(sleep["sleep"], json!([]));
}

#[test]
pub(super) fn the_scopes_of_new_methods_drive_consent() {
    let host = configured(Some("en_GB"));
    host.put(
        "identities/jack/plugindata/fitbit",
        json!({"methods": "foods_log,glucose,recent_activities"}),
    );
    let scope = super::oauth::start_auth(&host, "jack")["scope"].clone();
    for wanted in [SCOPE_NUTRITION, SCOPE_METRICS, SCOPE_ACTIVITY] {
        assert!(scope.contains(wanted), "{wanted}: {scope}");
    }
    // A token without the nutrition scope: foods_log is refused with the
    // link that adds it, before anything is sent.
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        Err(igor_plugin_sdk::FetchError::Connection(format!(
            "nothing may be sent: {}",
            r.url
        )))
    });
    let r = run(&host, &[("user", "jack"), ("methods", "foods_log")]);
    assert_eq!(r.status, 403, "{}", r.body_text());
    assert!(
        r.body_text().contains("scope=nutrition.readonly"),
        "{}",
        r.body_text()
    );
}

#[test]
pub(super) fn reads_google_has_no_data_for_are_501_and_writes_400_before_anything_is_sent() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &everything());
    host.put("sensors/fitbit/jack", json!({"weight": []}));
    host.respond(|r| {
        Err(igor_plugin_sdk::FetchError::Connection(format!(
            "nothing may be sent: {}",
            r.url
        )))
    });
    let before = crate::testing::data(&host);
    for (method, extra, needle) in [
        ("get_badges", vec![], "badges"),
        ("get_friends", vec![], "friends"),
        (
            "get_friends_leaderboard",
            vec![("period", "7d")],
            "leaderboards",
        ),
        ("get_alarms", vec![("device_id", "123")], "alarms"),
        ("food_units", vec![], "food database"),
        ("search_foods", vec![("query", "apple")], "food database"),
        ("food_detail", vec![("food_id", "5")], "food database"),
        ("bp", vec![], "blood pressure"),
        ("water_goal", vec![], "goals"),
        ("body_weight_goal", vec![], "goals"),
        ("activity_stats", vec![], "lifetime"),
        (
            "activity_stats",
            vec![("qualifier", "favorite")],
            "favourite",
        ),
        ("favorite_foods", vec![], "favourite"),
        ("get_meals", vec![], "meals"),
        ("activities_list", vec![], "catalogue"),
        ("list_subscriptions", vec![], "webhooks"),
    ] {
        let mut query = vec![("user", "jack"), ("methods", method)];
        query.extend(extra);
        let r = run(&host, &query);
        let text = r.body_text();
        assert_eq!(r.status, 501, "{method}: {text}");
        assert!(
            text.contains(&format!("method {method}"))
                && text.contains("Google Health has no equivalent")
                && text.contains("use ")
                && text.contains(needle),
            "{method}: {text}"
        );
    }
    for (method, extra) in [
        ("log_activity", vec![]),
        ("delete_foods_log", vec![]),
        ("invite_friend", vec![]),
        ("water_goal", vec![("target", "2000")]),
        ("body", vec![("data", "{}")]),
    ] {
        let mut query = vec![("user", "jack"), ("methods", method)];
        query.extend(extra);
        let r = run(&host, &query);
        assert_eq!(r.status, 400, "{method}: {}", r.body_text());
        assert!(r.body_text().contains("a write"), "{}", r.body_text());
    }
    assert!(host.sent.borrow().is_empty());
    assert_eq!(crate::testing::data(&host), before);
}
