//! The methods that came with Google Health parity: paired devices, the
//! profile, the daily summaries, intraday roll-ups, heart in both legacy
//! shapes, and the calories, elevation and BMI series.

use super::*;
use crate::provider::google::rollup_limit_days;

const ALL: &str = "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly \
    https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly \
    https://www.googleapis.com/auth/googlehealth.profile.readonly \
    https://www.googleapis.com/auth/googlehealth.settings.readonly";

fn body_of(request: &igor_plugin_sdk::FetchRequest) -> Value {
    serde_json::from_slice(&request.body).unwrap()
}

fn day_window(day: u32, field: &str, value: Value) -> Value {
    let mut w = json!({"civilStartTime": {"date": {"year": 2026, "month": 11, "day": day}},
                       "civilEndTime": {"date": {"year": 2026, "month": 11, "day": day + 1}}});
    w[field] = value;
    w
}

/// jack's `activities-heart` series of 2026-11-20.
const HEART_SERIES: &[(&str, &str)] = &[
    ("user", "jack"),
    ("methods", "time_series"),
    ("resource", "activities/heart"),
    ("base_date", "2026-11-20"),
    ("period", "1d"),
];

/// Google's answer to a request for jack's heart metrics of 2026-11-20: a
/// resting rate of 58 and the `zones`' thresholds (type, minimum and
/// maximum); `None` for any other request.
fn heart_metrics(
    r: &igor_plugin_sdk::FetchRequest,
    zones: &[(&str, &str, &str)],
) -> Option<Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError>> {
    let date = json!({"year": 2026, "month": 11, "day": 20});
    if is_list(&r.url, "daily-resting-heart-rate") {
        return Some(response(
            200,
            json!({"dataPoints": [{"dailyRestingHeartRate": {"date": date, "beatsPerMinute": "58"}}]}),
        ));
    }
    if path_of(&r.url).ends_with("/daily-heart-rate-zones/dataPoints:reconcile") {
        let zones: Vec<Value> = zones
            .iter()
            .map(|(kind, min, max)| {
                json!({"heartRateZoneType": kind, "minBeatsPerMinute": min, "maxBeatsPerMinute": max})
            })
            .collect();
        return Some(response(
            200,
            json!({"dataPoints": [{"dataPointName": "z1",
                "dailyHeartRateZones": {"date": date, "heartRateZones": zones}}]}),
        ));
    }
    None
}

fn stored(host: &MemoryHost) -> Value {
    host.get("sensors/fitbit/jack").unwrap()
}

#[test]
fn devices_come_from_every_page_of_paired_devices() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_SETTINGS);
    host.respond(|r| {
        // The user lives in New York, the host one hour east of UTC.
        if path_of(&r.url) == "/v4/users/me/settings" {
            return response(
                200,
                json!({"timeZone": "America/New_York", "utcOffset": "-18000s"}),
            );
        }
        assert_eq!(path_of(&r.url), "/v4/users/me/pairedDevices");
        let q = query_of(&r.url);
        assert_eq!(q["pageSize"], "100");
        match q.get("pageToken").map(String::as_str) {
            None => response(
                200,
                json!({"pairedDevices": [{"name": "users/me/pairedDevices/7",
                "batteryLevel": 90, "batteryStatus": "High", "deviceType": "TRACKER",
                "deviceVersion": "Charge 6", "features": ["STEPS"],
                "lastSyncTime": "2026-11-25T06:12:40Z", "macAddress": "AB12"}],
                "nextPageToken": "P2"}),
            ),
            _ => response(
                200,
                json!({"pairedDevices": [{"name": "users/me/pairedDevices/8"}]}),
            ),
        }
    });
    run_ok(&host, &[("user", "jack"), ("methods", "get_devices")]);
    assert_eq!(
        stored(&host),
        json!({"devices": [
            {"battery": "High", "batteryLevel": 90, "deviceVersion": "Charge 6", "features": ["STEPS"],
             "id": "7", "lastSyncTime": "2026-11-25T01:12:40.000", "mac": "AB12", "type": "TRACKER"},
            {"id": "8"}]})
    );
}

fn profile_responder(
    r: &igor_plugin_sdk::FetchRequest,
) -> Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError> {
    match path_of(&r.url).as_str() {
        "/v4/users/me/profile" => response(
            200,
            json!({"name": "users/me/profile", "age": 40,
            "membershipStartDate": {"year": 2016, "month": 1, "day": 1},
            "autoWalkingStrideLengthMm": 716, "userConfiguredWalkingStrideLengthMm": 700,
            "autoRunningStrideLengthMm": 1120}),
        ),
        "/v4/users/me/settings" => response(
            200,
            json!({"weightUnit": "WEIGHT_UNIT_POUNDS",
            "distanceUnit": "DISTANCE_UNIT_MILES", "heightUnit": "HEIGHT_UNIT_INCHES",
            "waterUnit": "WATER_UNIT_CUP", "timeZone": "Europe/Amsterdam", "utcOffset": "3600s",
            "languageLocale": "nl_NL", "strideLengthWalkingType": "STRIDE_LENGTH_TYPE_MANUAL",
            "strideLengthRunningType": "STRIDE_LENGTH_TYPE_AUTO", "autoStrideEnabled": false}),
        ),
        _ if is_list(&r.url, "height") => {
            response(200, json!({"dataPoints": [height_point("1800")]}))
        }
        _ if is_list(&r.url, "weight") => {
            assert_eq!(query_of(&r.url)["pageSize"], "1", "the latest weight");
            response(
                200,
                json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z",
                ((2026, 11, 25), (8, 0, 0)), 81_234.5)]}),
            )
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn the_profile_combines_profile_settings_height_and_weight() {
    let host = configured(None);
    with_token(&host, 3000.0, ALL);
    host.respond(profile_responder);
    run_ok(&host, &[("user", "jack"), ("methods", "user_profile_get")]);
    // Units from the user's settings: pounds and inches.
    assert_eq!(
        stored(&host),
        json!({"user": {"age": 40, "autoStrideEnabled": false, "distanceUnit": "en_US",
            "encodedId": "GGNJL9", "height": 70.87, "heightUnit": "en_US", "locale": "nl_NL",
            "memberSince": "2016-01-01", "offsetFromUTCMillis": 3_600_000,
            "strideLengthRunning": 44.09, "strideLengthRunningType": "auto",
            "strideLengthWalking": 27.56, "strideLengthWalkingType": "manual",
            "timezone": "Europe/Amsterdam", "weight": 179.09, "weightUnit": "en_US"}})
    );
}

#[test]
fn the_profile_reads_only_what_the_consent_covers() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_PROFILE);
    host.respond(profile_responder);
    run_ok(&host, &[("user", "jack"), ("methods", "user_profile_get")]);
    assert_eq!(host.sent_urls().len(), 1, "{:?}", host.sent_urls());
    let user = &stored(&host)["user"];
    assert_eq!(user["age"], 40);
    assert!(
        user.get("timezone").is_none() && user.get("height").is_none(),
        "{user}"
    );
}

#[test]
fn the_profile_without_its_scope_reads_the_rest_and_says_what_is_missing() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.respond(|r| {
        if path_of(&r.url) == "/v4/users/me/profile" {
            return not_covered();
        }
        profile_responder(r)
    });
    run_ok(&host, &[("user", "jack"), ("methods", "user_profile_get")]);
    let urls = host.sent_urls();
    assert!(!urls.iter().any(|u| u.ends_with("/profile")), "{urls:?}");
    let stored = stored(&host);
    let user = &stored["user"];
    assert_eq!(
        (&user["height"], &user["weight"]),
        (&json!(180.0), &json!(12.79))
    );
    assert_eq!(user["timezone"], "Europe/Amsterdam");
    assert!(user.get("age").is_none(), "{user}");
    let note = stored["partialConsent"]["user_profile_get"]
        .as_str()
        .unwrap();
    assert!(note.contains("the profile"), "{note}");
    assert!(
        note.contains("http://igor.test/plugin/fitbit/auth1?user=jack&scope=profile.readonly"),
        "{note}"
    );
}

#[test]
fn heart_zones_without_the_activity_scope_keep_rates_and_thresholds() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    // time-in-heart-rate-zone and calories-in-heart-rate-zone: activity.
    host.respond(|r| heart_metrics(r, &[("PEAK", "159", "220")]).unwrap_or_else(not_covered));
    run_ok(&host, HEART_SERIES);
    assert_eq!(host.sent_urls().len(), 2, "{:?}", host.sent_urls());
    let stored = stored(&host);
    assert_eq!(
        stored["activities-heart"],
        json!([{"dateTime": "2026-11-20", "value": {"heartRateZones": [
            {"max": 220, "min": 159, "name": "Peak"}], "restingHeartRate": 58}}])
    );
    let note = stored["partialConsent"]["time_series activities/heart"]
        .as_str()
        .unwrap();
    assert!(
        note.contains("minutes and calories")
            && note.contains("scope=activity_and_fitness.readonly"),
        "{note}"
    );
}

#[test]
fn where_one_point_is_wanted_one_page_is_read() {
    // Long histories: every list has another page of one point after this one.
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, ALL);
    host.respond(|r| {
        let more =
            |point: Value| response(200, json!({"dataPoints": [point], "nextPageToken": "MORE"}));
        let path = path_of(&r.url);
        if is_list(&r.url, "height") {
            return more(height_point("1800"));
        }
        if is_list(&r.url, "weight") {
            return more(weight_point(
                "1",
                "2026-11-25T07:00:00Z",
                ((2026, 11, 25), (8, 0, 0)),
                80_000.0,
            ));
        }
        if is_list(&r.url, "body-fat") {
            return more(json!({"name": "users/1/dataTypes/body-fat/dataPoints/2",
                "bodyFat": {"sampleTime": {"physicalTime": "2026-11-25T07:00:00Z", "utcOffset": "3600s"},
                            "percentage": 21.5}}));
        }
        if path.ends_with("/profile") {
            return response(200, json!({"age": 40}));
        }
        response(200, json!({}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "user_profile_get,body"),
            ("date", "2026-11-25"),
        ],
    );
    let urls = host.sent_urls();
    for data_type in ["height", "weight"] {
        let lists: Vec<_> = urls.iter().filter(|u| is_list(u, data_type)).collect();
        // weight: the profile's latest and the day's last; height once (cached).
        let expected = if data_type == "weight" { 2 } else { 1 };
        assert_eq!(lists.len(), expected, "{data_type}: {urls:?}");
        assert!(
            lists.iter().all(|u| query_of(u)["pageSize"] == "1"),
            "{urls:?}"
        );
        assert!(lists.iter().all(|u| !u.contains("pageToken")), "{urls:?}");
    }
    assert_eq!(stored(&host)["user"]["weight"], 12.6);
}

#[test]
fn body_has_the_days_last_weight_and_fat_with_bmi() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        if is_list(&r.url, "height") {
            return response(200, json!({"dataPoints": [height_point("1800")]}));
        }
        let q = query_of(&r.url);
        assert_eq!(q["pageSize"], "1");
        if is_list(&r.url, "weight") {
            assert_eq!(
                q["filter"],
                "weight.sample_time.civil_time >= \"2026-11-20\" AND \
                weight.sample_time.civil_time < \"2026-11-21\""
            );
            return response(
                200,
                json!({"dataPoints": [weight_point("1", "2026-11-20T07:00:00Z",
                ((2026, 11, 20), (8, 0, 0)), 81_234.5)]}),
            );
        }
        assert!(is_list(&r.url, "body-fat"), "{}", r.url);
        response(200, json!({}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "body"),
            ("date", "2026-11-20"),
        ],
    );
    // No body fat that day: no `fat`, rather than an invented one.
    assert_eq!(
        stored(&host),
        json!({"body": {"bmi": 25.07, "weight": 179.09}})
    );
}

#[test]
fn activities_summarise_the_days_rollups() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    host.respond(|r| {
        let path = path_of(&r.url);
        let data_type = path.split('/').nth(5).unwrap().to_string();
        if is_list(&r.url, "exercise") {
            // The day's logged activities: the exercises started that day.
            assert_eq!(
                query_of(&r.url)["filter"],
                "exercise.interval.civil_start_time >= \"2026-11-20\" AND \
                 exercise.interval.civil_start_time < \"2026-11-21\""
            );
            return response(200, json!({"dataPoints": [{"name": "users/1/dataTypes/exercise/dataPoints/77",
                "exercise": {"interval": {"startTime": "2026-11-20T17:00:00Z", "endTime": "2026-11-20T17:40:00Z",
                    "startUtcOffset": "3600s", "endUtcOffset": "3600s"},
                    "displayName": "Running", "exerciseType": "RUNNING", "activeDuration": "1800s",
                    "metricsSummary": {"caloriesKcal": 301.4, "distanceMillimeters": 4828032.0, "steps": "4100"}}}]}));
        }
        let body = body_of(r);
        assert_eq!(body["range"]["start"]["date"]["day"], 20);
        assert_eq!(body["range"]["end"]["date"]["day"], 21);
        let window = match data_type.as_str() {
            "steps" => day_window(20, "steps", json!({"countSum": "8012"})),
            "distance" => day_window(20, "distance", json!({"millimetersSum": "8046720"})),
            // Worn, but no floors: a true zero.
            "floors" => day_window(20, "floors", json!({})),
            "altitude" => day_window(20, "altitude", json!({"gainMillimetersSum": "3048"})),
            "total-calories" => day_window(20, "totalCalories", json!({"kcalSum": 2301.6})),
            "active-minutes" => day_window(
                20,
                "activeMinutes",
                json!({"activeMinutesRollupByActivityLevel":
                [{"activityLevel": "VIGOROUS", "activeMinutesSum": "15"}]}),
            ),
            other => panic!("unexpected {other}"),
        };
        response(200, json!({"rollupDataPoints": [window]}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "activities"),
            ("date", "2026-11-20"),
        ],
    );
    assert_eq!(
        stored(&host),
        json!({"activities": [{"calories": 301, "description": "", "distance": 3, "duration": 1_800_000,
                "hasStartTime": true, "logId": 77, "name": "Running", "startDate": "2026-11-20",
                "startTime": "18:00", "steps": 4100}],
            "summary": {"caloriesOut": 2302, "distances": [{"activity": "total", "distance": 5}],
            "elevation": 10, "fairlyActiveMinutes": 0, "floors": 0, "lightlyActiveMinutes": 0,
            "steps": 8012, "veryActiveMinutes": 15}})
    );
}

#[test]
fn a_day_without_activity_data_has_an_empty_summary() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    host.respond(|_| response(200, json!({})));
    run_ok(&host, &[("user", "jack"), ("methods", "activities")]);
    assert_eq!(stored(&host), json!({"activities": [], "summary": {}}));
}

#[test]
fn intraday_rolls_up_the_asked_part_of_the_day() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    host.respond(|r| {
        let body = body_of(r);
        if path_of(&r.url).ends_with(":dailyRollUp") {
            return response(200, json!({"rollupDataPoints": [day_window(20, "steps", json!({"countSum": "50"}))]}));
        }
        assert!(path_of(&r.url).ends_with("/steps/dataPoints:rollUp"), "{}", r.url);
        // 08:00-09:29 local (UTC+1), the end minute included.
        assert_eq!(body["range"], json!({"startTime": "2026-11-20T07:00:00Z", "endTime": "2026-11-20T08:30:00Z"}));
        assert_eq!(body["windowSize"], "900s");
        response(200, json!({"rollupDataPoints": [
            {"startTime": "2026-11-20T07:15:00Z", "endTime": "2026-11-20T07:30:00Z", "steps": {"countSum": "20"}},
            {"startTime": "2026-11-20T07:00:00Z", "endTime": "2026-11-20T07:15:00Z", "steps": {"countSum": "30"}},
        ]}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "intraday_time_series"),
            ("resource", "activities/steps"),
            ("base_date", "2026-11-20"),
            ("detail_level", "15min"),
            ("start_time", "08:00"),
            ("end_time", "09:29"),
        ],
    );
    assert_eq!(
        stored(&host),
        json!({"activities-steps": [{"dateTime": "2026-11-20", "value": "50"}],
               "activities-steps-intraday": {"dataset": [{"time": "08:00:00", "value": 30},
                   {"time": "08:15:00", "value": 20}], "datasetInterval": 15, "datasetType": "minute"}})
    );
}

#[test]
fn intraday_arguments_are_checked_before_anything_is_sent() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    for (args, needle) in [
        (
            vec![("resource", "activities/steps"), ("detail_level", "1sec")],
            "1sec",
        ),
        (vec![("resource", "body/fat")], "no intraday data"),
        (
            vec![
                ("resource", "activities/steps"),
                ("start_time", "10:00"),
                ("end_time", "09:00"),
            ],
            "before",
        ),
    ] {
        let mut query = vec![("user", "jack"), ("methods", "intraday_time_series")];
        query.extend(args);
        let r = run(&host, &query);
        assert_eq!(r.status, 400, "{}", r.body_text());
        assert!(
            r.body_text().contains(needle),
            "{needle}: {}",
            r.body_text()
        );
    }
    assert!(host.sent.borrow().is_empty());
}

#[test]
fn heart_gives_the_legacy_heart_endpoint_and_the_series_zones() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_ACTIVITY}"));
    host.respond(|r| {
        let zones = [("MODERATE", "94", "131"), ("PEAK", "159", "220")];
        if let Some(answer) = heart_metrics(r, &zones) {
            return answer;
        }
        let path = path_of(&r.url);
        if path.ends_with("/time-in-heart-rate-zone/dataPoints:dailyRollUp") {
            return response(200, json!({"rollupDataPoints": [day_window(20, "timeInHeartRateZone",
                json!({"timeInHeartRateZones": [{"heartRateZone": "PEAK", "duration": "1200s"}]}))]}));
        }
        assert!(path.ends_with("/calories-in-heart-rate-zone/dataPoints:dailyRollUp"), "{path}");
        response(200, json!({}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "heart"),
            ("date", "2026-11-20"),
        ],
    );
    assert_eq!(
        stored(&host),
        json!({"average": [{"heartRate": 58, "tracker": "Resting Heart Rate"}]})
    );
    run_ok(&host, HEART_SERIES);
    assert_eq!(
        stored(&host),
        json!({"activities-heart": [{"dateTime": "2026-11-20", "value": {"heartRateZones": [
            {"minutes": 0, "name": "Out of Range"},
            {"max": 131, "min": 94, "minutes": 0, "name": "Fat Burn"},
            {"minutes": 0, "name": "Cardio"},
            {"max": 220, "min": 159, "minutes": 20, "name": "Peak"}],
            "restingHeartRate": 58}}]})
    );
}

#[test]
fn calories_come_in_fourteen_day_chunks_elevation_and_bmi_in_legacy_units() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_ACTIVITY}"));
    host.respond(|r| {
        let path = path_of(&r.url);
        if is_list(&r.url, "height") {
            return response(200, json!({"dataPoints": [height_point("1800")]}));
        }
        let window = if path.contains("/total-calories/") {
            day_window(24, "totalCalories", json!({"kcalSum": 2100.4}))
        } else if path.contains("/altitude/") {
            day_window(24, "altitude", json!({"gainMillimetersSum": "3048"}))
        } else {
            day_window(24, "weight", json!({"weightGramsAvg": 81_000.0}))
        };
        response(200, json!({"rollupDataPoints": [window]}))
    });
    let series = |resource: &str, period: &str| {
        run_ok(
            &host,
            &[
                ("user", "jack"),
                ("methods", "time_series"),
                ("resource", resource),
                ("period", period),
            ],
        );
        stored(&host)
    };
    host.sent.borrow_mut().clear();
    let calories = series("activities/calories", "1m");
    // 2026-10-26..2026-11-25: 31 days in 14 + 14 + 3.
    let spans: Vec<i64> = requests(&host)
        .iter()
        .map(|r| {
            let b = body_of(r);
            let day = |k: &str| {
                crate::dates::Date::parse(&format!(
                    "{:04}-{:02}-{:02}",
                    b["range"][k]["date"]["year"].as_u64().unwrap(),
                    b["range"][k]["date"]["month"].as_u64().unwrap(),
                    b["range"][k]["date"]["day"].as_u64().unwrap()
                ))
                .unwrap()
                .to_days()
            };
            i64::from(day("end") - day("start"))
        })
        .collect();
    assert_eq!(spans, [14, 14, 3]);
    assert_eq!(rollup_limit_days("total-calories"), 14);
    assert_eq!(
        calories["activities-calories"][0],
        json!({"dateTime": "2026-11-24", "value": "2100"})
    );
    assert_eq!(
        series("activities/elevation", "7d"),
        json!({"activities-elevation": [{"dateTime": "2026-11-24", "value": "10"}]})
    );
    assert_eq!(
        series("body/bmi", "7d"),
        json!({"body-bmi": [{"dateTime": "2026-11-24", "value": "25"}]})
    );
}
