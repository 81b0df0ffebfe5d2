//! The fake Fitbit's data endpoints: units, series, rate limits and the
//! other legacy endpoints.

use std::time::Duration;

use igor_test_support::fake_fitbit::WeightLog;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

/// The weigh-ins of today.
const TODAY: &str = "/1/user/-/body/log/weight/date/today.json";

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_weight_units_and_series() {
    let (f, c) = fitbit().await;
    f.add_weight(
        "GGNJL9",
        WeightLog::new("2026-11-18", "07:00:00", 80.0)
            .fat(18.5)
            .bmi(24.69),
    );
    f.add_weight("GGNJL9", WeightLog::new("2026-11-20", "07:12:33", 80.1));
    let a = f.issue_tokens("CID", "GGNJL9", "weight").access_token;
    let path = "/1/user/-/body/log/weight/date/2026-11-20.json";
    let (_, kg) = fitbit_json(&f, &c, &a, path).await;
    let w = &kg["weight"][0];
    assert_eq!(w["weight"], json!(80.1));
    assert_eq!(w["date"], "2026-11-20");
    assert_eq!(w["time"], "07:12:33");
    assert!(w["logId"].is_u64());
    assert!(w.get("fat").is_none());
    assert_eq!(w["bmi"], json!(24.72));
    let (_, lb) = json_of(fitbit_get(&f, &c, &a, path, Some("en_US")).await).await;
    assert_eq!(lb["weight"][0]["weight"], json!(176.59));
    let (_, st) = json_of(fitbit_get(&f, &c, &a, path, Some("en_GB")).await).await;
    assert_eq!(st["weight"][0]["weight"], json!(12.61));
    let (_, metric) = json_of(fitbit_get(&f, &c, &a, path, Some("en-US")).await).await;
    assert_eq!(metric["weight"][0]["weight"], json!(80.1));

    // Range + period forms.
    let (s, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/2026-11-17/2026-11-20.json",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["weight"].as_array().unwrap().len(), 2);
    assert_eq!(r["weight"][0]["fat"], json!(18.5));
    let (s, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/2026-11-20/3m.json",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["errors"][0]["errorType"], "validation");
    let (s, _) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/2026-10-01/2026-11-20.json",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, r) = fitbit_json(&f, &c, &a, "/1/user/-/body/log/fat/date/2026-11-20/7d.json").await;
    assert_eq!(r["fat"][0]["fat"], json!(18.5));

    // Time series: strings, one entry per day, carry-forward, "0" before the first log.
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/weight/date/2026-11-20/7d.json",
            Some("en_US"),
        )
        .await,
    )
    .await;
    let series = r["body-weight"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    assert_eq!(series[0], json!({"dateTime": "2026-11-14", "value": "0"}));
    assert_eq!(
        series[4],
        json!({"dateTime": "2026-11-18", "value": "176.37"})
    );
    assert_eq!(
        series[5],
        json!({"dateTime": "2026-11-19", "value": "176.37"})
    );
    assert_eq!(
        series[6],
        json!({"dateTime": "2026-11-20", "value": "176.59"})
    );
    let (s, r) = fitbit_json(&f, &c, &a, "/1/user/-/nope.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(r["success"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_activity_series_strings() {
    let (f, c) = fitbit().await;
    f.set_activity("GGNJL9", "steps", "2026-11-19", 2504.0);
    f.set_activity("GGNJL9", "distance", "2026-11-19", 1.609344);
    let a = f.issue_tokens("CID", "GGNJL9", "activity").access_token;
    let (_, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/activities/steps/date/2026-11-19/2026-11-20.json",
    )
    .await;
    assert_eq!(
        r["activities-steps"],
        json!([{"dateTime":"2026-11-19","value":"2504"},{"dateTime":"2026-11-20","value":"0"}])
    );
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/distance/date/2026-11-19/1d.json",
            Some("en_US"),
        )
        .await,
    )
    .await;
    assert_eq!(r["activities-distance"][0]["value"], "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_rate_limit_headers_and_429() {
    let (f, c) = fitbit().await;
    let a = f.issue_tokens("CID", "GGNJL9", "weight").access_token;
    let r = fitbit_get(&f, &c, &a, TODAY, None).await;
    let h = r.headers();
    assert_eq!(h["fitbit-rate-limit-limit"], "150");
    assert_eq!(h["fitbit-rate-limit-remaining"], "149");
    let reset: i64 = h["fitbit-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&reset));
    f.set_rate_limit_remaining("GGNJL9", 0);
    let r = fitbit_get(&f, &c, &a, TODAY, None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"errors":[{"errorType":"system","fieldName":"n/a","message":"Too Many Requests"}],"success":false})
    );
    // Next hour: quota restored.
    f.advance_clock(Duration::from_secs(3600));
    let r = fitbit_get(&f, &c, &a, TODAY, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(f.calls("/1/user/-/body"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_other_endpoints_smoke() {
    use igor_test_support::fake_fitbit::SleepLog;
    let (f, c) = fitbit().await;
    f.add_sleep(
        "GGNJL9",
        SleepLog::new("2026-11-20", "2026-11-19T23:10:00", 450, 420).stages(70, 280, 70),
    );
    f.set_intraday(
        "GGNJL9",
        "steps",
        "2026-11-20",
        &[("08:00:10", 30.0), ("08:00:50", 12.0), ("08:20:00", 5.0)],
    );
    f.set_intraday(
        "GGNJL9",
        "heart",
        "2026-11-20",
        &[("08:00:10", 70.0), ("08:00:50", 74.0)],
    );
    f.set_resting_heart_rate("GGNJL9", "2026-11-20", 58);
    f.set_profile("GGNJL9", json!({"height": 177.8, "displayName": "Jo"}));
    let a = f
        .issue_tokens(
            "CID",
            "GGNJL9",
            "activity heartrate sleep profile settings weight",
        )
        .access_token;
    let (s, r) = fitbit_json(&f, &c, &a, "/1.2/user/-/sleep/date/2026-11-20.json").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["sleep"][0]["minutesAsleep"], 420);
    assert_eq!(r["sleep"][0]["endTime"], "2026-11-20T06:40:00.000");
    assert_eq!(r["summary"]["totalMinutesAsleep"], 420);
    let (_, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/activities/steps/date/2026-11-20/1d/15min/time/08:00/08:29.json",
    )
    .await;
    assert_eq!(
        r["activities-steps-intraday"]["dataset"],
        json!([{"time":"08:00:00","value":42},{"time":"08:15:00","value":5}])
    );
    assert_eq!(r["activities-steps-intraday"]["datasetInterval"], 15);
    let (_, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/activities/heart/date/2026-11-20/1d/1min.json",
    )
    .await;
    assert_eq!(
        r["activities-heart-intraday"]["dataset"],
        json!([{"time":"08:00:00","value":72}])
    );
    assert_eq!(r["activities-heart"][0]["value"]["restingHeartRate"], 58);
    let (_, r) = fitbit_json(
        &f,
        &c,
        &a,
        "/1/user/-/activities/heart/date/2026-11-20/1d.json",
    )
    .await;
    assert_eq!(
        r["activities-heart"][0]["value"]["heartRateZones"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let (_, r) =
        json_of(fitbit_get(&f, &c, &a, "/1/user/-/profile.json", Some("en_US")).await).await;
    assert_eq!(r["user"]["height"], json!(70.0));
    assert_eq!(r["user"]["displayName"], "Jo");
    assert_eq!(r["user"]["encodedId"], "GGNJL9");
    let (_, r) = fitbit_json(&f, &c, &a, "/1/user/-/devices.json").await;
    assert!(r.is_array());
    for p in [
        "/1/user/-/body/date/today.json",
        "/1/user/-/activities/date/today.json",
        "/1/user/-/sleep/date/today.json",
        "/1/user/GGNJL9/body/fat/date/today/max.json",
    ] {
        assert_eq!(
            fitbit_get(&f, &c, &a, p, None).await.status(),
            StatusCode::OK,
            "{p}"
        );
    }
    assert_eq!(
        fitbit_get(&f, &c, &a, "/1/user/OTHER/profile.json", None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_food_water_metrics_and_catalogue_follow_the_legacy_shapes() {
    use igor_test_support::fake_fitbit::FoodLog;
    let (f, c) = fitbit().await;
    let user = "GGNJL9";
    f.add_food(
        user,
        FoodLog::new("2026-11-20", "Oatmeal", 150.0, 7)
            .meal(1)
            .nutrients(27.0, 3.0, 5.0),
    );
    f.add_day_log(user, "water", "2026-11-20", "08:00", &[250.0]);
    f.set_metric(
        user,
        "spo2",
        "2026-11-20",
        json!({"avg": 96.5, "min": 94.0, "max": 99.0}),
    );
    f.set_metric(
        user,
        "temp/skin",
        "2026-11-20",
        json!({"nightlyRelative": -0.5}),
    );
    let weight_only = f.issue_tokens("CID", user, "weight").access_token;
    let (s, _) = fitbit_json(
        &f,
        &c,
        &weight_only,
        "/1/user/-/foods/log/date/2026-11-20.json",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "nutrition scope");
    let all = "nutrition oxygen_saturation temperature activity social profile settings";
    let a = f.issue_tokens("CID", user, all).access_token;
    let get = |path: &'static str, lang: Option<&'static str>| {
        let (f, c, a) = (&f, &c, a.clone());
        async move { json_of(fitbit_get(f, c, &a, path, lang).await).await }
    };
    let (s, foods) = get("/1/user/-/foods/log/date/2026-11-20.json", None).await;
    assert_eq!(s, StatusCode::OK, "{foods}");
    assert_eq!(foods["foods"][0]["loggedFood"]["name"], "Oatmeal");
    assert_eq!(foods["summary"]["calories"], 150);
    assert_eq!(foods["summary"]["water"], 250);
    let (_, water) = get(
        "/1/user/-/foods/log/water/date/2026-11-20.json",
        Some("en_US"),
    )
    .await;
    assert_eq!(water["water"][0]["amount"], 8.45);
    // SpO2: an object for a date, a bare list for a range; no periods.
    let (_, one) = get("/1/user/-/spo2/date/2026-11-20.json", None).await;
    assert_eq!(one["value"]["avg"], 96.5);
    let (_, range) = get("/1/user/-/spo2/date/2026-11-19/2026-11-20.json", None).await;
    assert_eq!(range.as_array().unwrap().len(), 1);
    let (s, _) = get("/1/user/-/spo2/date/2026-11-20/7d.json", None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, skin) = get(
        "/1/user/-/temp/skin/date/2026-11-19/2026-11-20.json",
        Some("en_US"),
    )
    .await;
    assert_eq!(skin["tempSkin"][0]["value"]["nightlyRelative"], -0.9);
    let (_, recent) = get("/1/user/-/foods/log/recent.json", None).await;
    assert_eq!(recent[0]["name"], "Oatmeal");
    let (_, units) = get("/1/foods/units.json", None).await;
    assert!(units.as_array().is_some());
    let (_, badges) = get("/1/user/-/badges.json", None).await;
    assert_eq!(badges, json!({"badges": []}));
    let (_, sleep) = get("/1/user/-/activities/goals/daily.json", None).await;
    assert_eq!(sleep["goals"]["steps"], 10000);
}
