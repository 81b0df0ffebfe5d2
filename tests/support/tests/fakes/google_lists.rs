//! The fake Google Health lists: paging, filters, int64 strings, sleep,
//! settings and daily types.

use igor_test_support::fake_google::{self, DataPoint};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn google_list_pagination_filter_and_int64() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    for d in 18..=20 {
        g.add_data_point(
            hid,
            DataPoint::weight(&format!("2026-11-{d}T07:12:33Z"), 80000.0 + f64::from(d))
                .utc_offset(3600),
        );
    }
    g.add_data_point(
        hid,
        DataPoint::steps("2026-11-20T08:00:00Z", "2026-11-20T08:01:00Z", 120),
    );
    let t = g.issue_tokens(
        "gcid",
        hid,
        &format!(
            "{} {}",
            fake_google::SCOPE_METRICS,
            fake_google::SCOPE_ACTIVITY
        ),
    );
    let base = "/v4/users/me/dataTypes/weight/dataPoints";

    g.insert_empty_pages(1);
    let (s, p0) = gget(&g, &c, &t.access_token, &format!("{base}?pageSize=2")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(p0.get("dataPoints").is_none());
    let tok0 = p0["nextPageToken"].as_str().unwrap();
    let (_, p1) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?pageSize=2&pageToken={tok0}"),
    )
    .await;
    let pts = p1["dataPoints"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(
        pts[0]["weight"]["sampleTime"]["physicalTime"],
        "2026-11-20T07:12:33Z"
    );
    assert_eq!(pts[0]["weight"]["sampleTime"]["utcOffset"], "3600s");
    assert_eq!(
        pts[0]["weight"]["sampleTime"]["civilTime"]["time"],
        json!({"hours": 8, "minutes": 12, "seconds": 33})
    );
    assert_eq!(pts[0]["weight"]["weightGrams"], json!(80020.0));
    assert!(
        pts[0]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("users/{hid}/dataTypes/weight/dataPoints/"))
    );
    let tok1 = p1["nextPageToken"].as_str().unwrap();
    let (_, p2) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?pageSize=2&pageToken={tok1}"),
    )
    .await;
    assert_eq!(p2["dataPoints"].as_array().unwrap().len(), 1);
    assert!(p2.get("nextPageToken").is_none());

    // Filter: supported member.
    let f = url::form_urlencoded::byte_serialize(b"weight.sample_time.physical_time >= \"2026-11-19T00:00:00Z\" AND weight.sample_time.physical_time < \"2026-11-20T00:00:00Z\"").collect::<String>();
    let (s, r) = gget(&g, &c, &t.access_token, &format!("{base}?filter={f}")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 1);
    // Unsupported member.
    let f = url::form_urlencoded::byte_serialize(
        b"steps.interval.end_time >= \"2026-11-19T00:00:00Z\"",
    )
    .collect::<String>();
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/steps/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        r["error"]["details"][0]["reason"],
        "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"
    );
    // Malformed.
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?filter=weight.sample_time.physical_time%20%3E%3D"),
    )
    .await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    // int64 as strings.
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/steps/dataPoints",
    )
    .await;
    assert_eq!(r["dataPoints"][0]["steps"]["count"], "120");
    assert_eq!(
        r["dataPoints"][0]["steps"]["interval"]["startTime"],
        "2026-11-20T08:00:00Z"
    );
    // Scope.
    let (s, _) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/sleep/dataPoints",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn google_sleep_settings_and_daily_types() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    for d in 1..=30 {
        g.add_data_point(
            hid,
            DataPoint::sleep(
                &format!("2026-10-{d:02}T23:00:00Z"),
                &format!("2026-10-{:02}T07:00:00Z", d + 1),
                450,
            ),
        );
    }
    g.add_data_point(hid, DataPoint::daily_resting_heart_rate("2026-11-20", 58));
    g.set_settings(hid, json!({"weightUnit": "WEIGHT_UNIT_STONE"}));
    let scopes = format!(
        "{} {} {}",
        fake_google::SCOPE_SLEEP,
        fake_google::SCOPE_SETTINGS,
        fake_google::SCOPE_METRICS
    );
    let t = g.issue_tokens("gcid", hid, &scopes);
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/sleep/dataPoints?pageSize=100",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 25);
    assert!(r["nextPageToken"].is_string());
    assert_eq!(
        r["dataPoints"][0]["sleep"]["summary"]["minutesAsleep"],
        "450"
    );
    assert_eq!(r["dataPoints"][0]["sleep"]["summary"]["minutesAwake"], "30");
    let f = url::form_urlencoded::byte_serialize(b"sleep.interval.end_time < \"2026-10-03T00:00:00Z\" OR sleep.interval.end_time >= \"2026-10-31T00:00:00Z\"").collect::<String>();
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/sleep/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 2);
    let f =
        url::form_urlencoded::byte_serialize(b"daily_resting_heart_rate.date >= \"2026-11-20\"")
            .collect::<String>();
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/daily-resting-heart-rate/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(
        r["dataPoints"][0]["dailyRestingHeartRate"]["beatsPerMinute"],
        "58"
    );
    assert_eq!(
        r["dataPoints"][0]["dailyRestingHeartRate"]["date"],
        json!({"year":2026,"month":11,"day":20})
    );
    let (_, r) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(r["weightUnit"], "WEIGHT_UNIT_STONE");
    assert_eq!(r["name"], format!("users/{hid}/settings"));
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/height/dataPoints",
    )
    .await;
    assert_eq!(r, json!({}));
}

#[tokio::test(flavor = "multi_thread")]
async fn google_points_follow_the_users_zone_across_daylight_saving() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.set_time_zone(hid, "Europe/Amsterdam");
    // Before and after summer time ended on 2026-10-25 at 01:00 UTC.
    g.add_data_point(hid, DataPoint::weight("2026-10-24T22:30:00Z", 80_000.0));
    g.add_data_point(hid, DataPoint::weight("2026-10-25T22:30:00Z", 79_000.0));
    g.set_max_page_size(1);
    let scopes = format!(
        "{} {}",
        fake_google::SCOPE_METRICS,
        fake_google::SCOPE_SETTINGS
    );
    let t = g.issue_tokens("gcid", hid, &scopes);
    let (_, settings) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(settings["timeZone"], "Europe/Amsterdam");
    let offset = settings["utcOffset"].as_str().unwrap();
    assert!(offset == "3600s" || offset == "7200s", "{offset}");
    // Both on the civil day of the 25th; one per page.
    let url = "/v4/users/me/dataTypes/weight/dataPoints?filter=weight.sample_time.civil_time%20%3E%3D%20%222026-10-25%22%20AND%20weight.sample_time.civil_time%20%3C%20%222026-10-26%22";
    let (s, first) = gget(&g, &c, &t.access_token, url).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let newest = &first["dataPoints"][0]["weight"]["sampleTime"];
    assert_eq!(newest["utcOffset"], "3600s");
    assert_eq!(
        newest["civilTime"]["time"],
        json!({"hours": 23, "minutes": 30})
    );
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = gget(&g, &c, &t.access_token, &format!("{url}&pageToken={token}")).await;
    let oldest = &second["dataPoints"][0]["weight"]["sampleTime"];
    assert_eq!(oldest["utcOffset"], "7200s");
    assert_eq!(oldest["civilTime"]["date"]["day"], 25);
    assert_eq!(oldest["civilTime"]["time"], json!({"minutes": 30}));
    assert!(second.get("nextPageToken").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn google_food_water_glucose_exercise_and_daily_types_need_their_scopes() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.add_data_point(
        hid,
        DataPoint::nutrition_log(
            "2026-11-20T07:30:00Z",
            "2026-11-20T07:45:00Z",
            json!({"foodDisplayName": "Oatmeal", "energy": {"kcal": 150.0}}),
        ),
    );
    g.add_data_point(hid, DataPoint::hydration_log("2026-11-20T08:00:00Z", 250.0));
    g.add_data_point(
        hid,
        DataPoint::blood_glucose("2026-11-20T06:15:00Z", 99.0, Some("FASTING")),
    );
    g.add_data_point(
        hid,
        DataPoint::daily("daily-vo2-max", "2026-11-20", json!({"vo2Max": 46.3})),
    );
    let metrics = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let base = "/v4/users/me/dataTypes";
    let (s, _) = gget(
        &g,
        &c,
        &metrics.access_token,
        &format!("{base}/nutrition-log/dataPoints"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "nutrition needs its scope");
    let (s, r) = gget(
        &g,
        &c,
        &metrics.access_token,
        &format!("{base}/blood-glucose/dataPoints"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["dataPoints"][0]["bloodGlucose"]["bloodGlucoseMilligramsPerDeciliter"],
        99.0
    );
    let (s, _) = gget(
        &g,
        &c,
        &metrics.access_token,
        &format!("{base}/daily-vo2-max/dataPoints"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "cardio fitness is activity data");
    let nutrition = g.issue_tokens("gcid", hid, fake_google::SCOPE_NUTRITION);
    let day = "filter=nutrition_log.interval.civil_start_time%20%3E%3D%20%222026-11-20%22";
    let (s, r) = gget(
        &g,
        &c,
        &nutrition.access_token,
        &format!("{base}/nutrition-log/dataPoints?{day}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["dataPoints"][0]["nutritionLog"]["foodDisplayName"],
        "Oatmeal"
    );
    assert!(r["dataPoints"][0]["nutritionLog"]["interval"]["civilStartTime"].is_object());
    // Sessions are filtered on their civil start only.
    let physical =
        "filter=nutrition_log.interval.start_time%20%3E%3D%20%222026-11-20T00%3A00%3A00Z%22";
    let (s, r) = gget(
        &g,
        &c,
        &nutrition.access_token,
        &format!("{base}/nutrition-log/dataPoints?{physical}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let (_, r) = gget(
        &g,
        &c,
        &nutrition.access_token,
        &format!("{base}/hydration-log/dataPoints"),
    )
    .await;
    assert_eq!(
        r["dataPoints"][0]["hydrationLog"]["amountConsumed"]["milliliters"],
        250.0
    );
    let activity = g.issue_tokens("gcid", hid, fake_google::SCOPE_ACTIVITY);
    let (s, r) = gget(
        &g,
        &c,
        &activity.access_token,
        &format!("{base}/daily-vo2-max/dataPoints"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r["dataPoints"][0]["dailyVo2Max"],
        json!({"date": {"year": 2026, "month": 11, "day": 20}, "vo2Max": 46.3})
    );
}
