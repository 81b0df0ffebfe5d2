//! Weight, body fat, series, heart and sleep in the legacy shapes and units.

use super::*;

#[test]
pub(super) fn weights_come_in_the_legacy_shape_and_units() {
    for (system, expected) in [
        (None, 81.23),
        (Some("en_US"), 179.09),
        (Some("en_GB"), 12.79),
    ] {
        let host = configured(system);
        with_token(&host, 3000.0, SCOPE_METRICS);
        host.respond(|r| {
            if is_list(&r.url, "height") {
                assert_eq!(query_of(&r.url)["pageSize"], "1");
                return response(200, json!({"dataPoints": [height_point("1800")]}));
            }
            assert!(is_list(&r.url, "weight"), "{}", r.url);
            response(
                200,
                json!({"dataPoints": [
                    weight_point("7002", "2026-11-25T07:12:33Z", ((2026, 11, 25), (8, 12, 33)), 81_234.5),
                    weight_point("7001", "2026-11-24T23:30:00Z", ((2026, 11, 25), (0, 30, 0)), 81_500.0),
                ]}),
            )
        });
        run_ok(&host, &[("user", "jack")]);
        let sent = requests(&host)[0].clone();
        let q = query_of(&sent.url);
        assert_eq!(q["pageSize"], "10000");
        assert_eq!(q["filter"], DAY_FILTER);
        assert!(
            sent.url.contains("%20%3E%3D%20"),
            "spaces as %20: {}",
            sent.url
        );
        assert_eq!(auth_header(&sent).unwrap(), "Bearer ya29.A1");
        let stored = host.get("sensors/fitbit/jack").unwrap();
        let weights = stored["weight"].as_array().unwrap();
        // Oldest first, civil date and time, the id as logId.
        assert_eq!(weights[0]["logId"], 7001);
        assert_eq!(weights[0]["time"], "00:30:00");
        assert_eq!(
            weights[1],
            json!({"bmi": 25.07, "date": "2026-11-25", "logId": 7002, "source": "Aria Air",
                   "time": "08:12:33", "weight": expected})
        );
    }
}

#[test]
pub(super) fn pages_are_followed_past_empty_ones() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        let q = query_of(&r.url);
        match q.get("pageToken").map(String::as_str) {
            None => response(200, json!({"nextPageToken": "P1"})),
            Some("P1") => response(
                200,
                json!({"dataPoints": [weight_point("abc", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)],
                       "nextPageToken": "P2"}),
            ),
            Some("P2") => {
                // The filter stays the same across pages.
                assert!(q["filter"].starts_with("weight.sample_time"));
                response(200, json!({"nextPageToken": ""}))
            }
            other => panic!("unexpected page {other:?}"),
        }
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(host.sent.borrow().len(), 4);
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    assert_eq!(weights.as_array().unwrap().len(), 1);
    assert_eq!(weights[0]["weight"], 10.0);
    // A non-numeric id gives a stable numeric logId.
    let id = weights[0]["logId"].as_u64().unwrap();
    assert_eq!(
        id,
        crate::provider::google::convert::log_id(
            "users/4957304218837201659/dataTypes/weight/dataPoints/abc"
        )
    );
    assert!(weights[0].get("bmi").is_none(), "no height, no BMI");
}

#[test]
pub(super) fn endless_pages_are_cut_off() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|_| response(200, json!({"nextPageToken": "again"})));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("more pages"), "{}", r.body_text());
    assert_eq!(host.sent.borrow().len(), crate::provider::google::MAX_PAGES);
}

#[test]
pub(super) fn time_series_come_from_daily_rollups() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_ACTIVITY}"));
    host.respond(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let path = path_of(&r.url);
        let day = |d: u32| json!({"date": {"year": 2026, "month": 11, "day": d}, "time": {}});
        if path.ends_with("/weight/dataPoints:dailyRollUp") {
            assert_eq!(
                body,
                json!({"range": {"start": {"date": {"year": 2026, "month": 11, "day": 19}},
                                 "end": {"date": {"year": 2026, "month": 11, "day": 26}}},
                       "windowSizeDays": 1})
            );
            return response(
                200,
                json!({"rollupDataPoints": [
                    {"civilStartTime": day(21), "civilEndTime": day(22), "weight": {"weightGramsAvg": 80_000.0}},
                    {"civilStartTime": day(20), "civilEndTime": day(21), "weight": {"weightGramsAvg": 81_000.0}},
                ]}),
            );
        }
        if path.ends_with("/distance/dataPoints:dailyRollUp") {
            return response(
                200,
                json!({"rollupDataPoints": [
                    {"civilStartTime": day(25), "civilEndTime": day(26), "distance": {"millimetersSum": "8046720"}},
                ]}),
            );
        }
        panic!("unexpected {path}");
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "body/weight"),
            ("period", "7d"),
        ],
    );
    let sent = requests(&host)[0].clone();
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.url,
        format!("{API}/v4/users/me/dataTypes/weight/dataPoints:dailyRollUp")
    );
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"body-weight": [
            {"dateTime": "2026-11-20", "value": "178.57"},
            {"dateTime": "2026-11-21", "value": "176.37"},
        ]})
    );

    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "activities/distance"),
            ("base_date", "2026-11-24"),
            ("end_date", "2026-11-25"),
        ],
    );
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        // Only the day with data: Google leaves out days without it.
        json!({"activities-distance": [
            {"dateTime": "2026-11-25", "value": "5"},
        ]})
    );
}

#[test]
pub(super) fn long_series_are_split_into_ninety_day_requests() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    host.respond(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let start = body["range"]["start"]["date"].clone();
        response(
            200,
            json!({"rollupDataPoints": [
                {"civilStartTime": {"date": start}, "steps": {"countSum": "8012"}},
            ]}),
        )
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "activities/steps"),
            ("period", "6m"),
        ],
    );
    let bodies: Vec<Value> = requests(&host)
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3, "2026-05-26..2026-11-25 is 184 days");
    assert_eq!(
        bodies[0]["range"]["start"]["date"],
        json!({"year": 2026, "month": 5, "day": 26})
    );
    assert_eq!(bodies[0]["range"]["end"], bodies[1]["range"]["start"]);
    assert_eq!(
        bodies[2]["range"]["end"]["date"],
        json!({"year": 2026, "month": 11, "day": 26})
    );
    let series = host.get("sensors/fitbit/jack").unwrap()["activities-steps"].clone();
    let series = series.as_array().unwrap();
    let days: Vec<&str> = series
        .iter()
        .map(|d| d["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        ["2026-05-26", "2026-08-24", "2026-11-22"],
        "one day with data per chunk"
    );
    assert_eq!(
        series[0],
        json!({"dateTime": "2026-05-26", "value": "8012"})
    );
}

#[test]
pub(super) fn heart_and_sleep_map_to_legacy_like_shapes() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SLEEP}"));
    host.respond(|r| {
        let filter = filter_of(r);
        if is_list(&r.url, "daily-resting-heart-rate") {
            assert_eq!(
                filter,
                "daily_resting_heart_rate.date >= \"2026-11-20\" AND daily_resting_heart_rate.date < \"2026-11-21\""
            );
            return response(
                200,
                json!({"dataPoints": [{"name": "users/1/dataTypes/daily-resting-heart-rate/dataPoints/9",
                       "dailyRestingHeartRate": {"date": {"year": 2026, "month": 11, "day": 20}, "beatsPerMinute": "58"}}]}),
            );
        }
        assert!(is_list(&r.url, "sleep"));
        assert_eq!(query_of(&r.url)["pageSize"], "25");
        assert_eq!(
            filter,
            "sleep.interval.civil_end_time >= \"2026-11-20T00:00:00\" AND sleep.interval.civil_end_time < \"2026-11-21T00:00:00\""
        );
        response(
            200,
            json!({"dataPoints": [{"name": "users/1/dataTypes/sleep/dataPoints/77",
                "sleep": {"interval": {"startTime": "2026-11-19T22:00:00Z", "endTime": "2026-11-20T06:00:00Z",
                                       "civilStartTime": civil((2026, 11, 19), (23, 0, 0)),
                                       "civilEndTime": civil((2026, 11, 20), (7, 0, 0))},
                          "type": "STAGES",
                          "summary": {"minutesAsleep": "450", "minutesAwake": "30", "minutesInSleepPeriod": "480"},
                          "metadata": {"mainSleep": true}}}]}),
        )
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "heart,sleep"),
            ("date", "2026-11-20"),
        ],
    );
    let stored = host.get("sensors/fitbit/jack").unwrap();
    assert_eq!(
        stored["average"],
        json!([{"heartRate": 58, "tracker": "Resting Heart Rate"}])
    );
    let sleep = &stored["sleep"][0];
    assert_eq!(sleep["dateOfSleep"], "2026-11-20");
    assert_eq!(sleep["startTime"], "2026-11-19T23:00:00.000");
    assert_eq!(sleep["endTime"], "2026-11-20T07:00:00.000");
    assert_eq!(sleep["duration"], 28_800_000);
    assert_eq!(sleep["minutesAsleep"], 450);
    assert_eq!(sleep["minutesAwake"], 30);
    assert_eq!(sleep["isMainSleep"], true);
    assert!(sleep.get("efficiency").is_none());
    assert_eq!(stored["summary"]["totalMinutesAsleep"], 450);
}

#[test]
pub(super) fn units_follow_the_users_google_settings_when_no_system_is_set() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.respond(|r| {
        if path_of(&r.url) == "/v4/users/me/settings" {
            return response(
                200,
                json!({"weightUnit": "WEIGHT_UNIT_STONE", "distanceUnit": "DISTANCE_UNIT_KILOMETERS"}),
            );
        }
        one_weigh_in(r)
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(jacks_weight(&host), 10.0);
    let settings = &host.get(SYNC_PATH).unwrap()["settings"];
    assert_eq!(settings["units"], "st/km/cm/ml/mmol/c");
    assert_eq!(settings["read_at"], host.now.get());

    // Without the settings scope: metric, and no settings call.
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        assert_ne!(path_of(&r.url), "/v4/users/me/settings");
        one_weigh_in(r)
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(jacks_weight(&host), 63.5);
}
