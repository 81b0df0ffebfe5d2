//! The fake Google Health roll-ups: daily and physical windows, range
//! limits, windows without data, paging.

use igor_test_support::fake_google::{self, DataPoint};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn google_daily_rollup_newest_first_without_empty_days() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.add_data_point(hid, DataPoint::weight("2026-11-20T07:00:00Z", 81000.0));
    g.add_data_point(hid, DataPoint::weight("2026-11-20T19:00:00Z", 81400.0));
    g.add_data_point(hid, DataPoint::weight("2026-11-22T07:00:00Z", 80000.0));
    let t = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let url = format!(
        "{}/v4/users/me/dataTypes/weight/dataPoints:dailyRollUp",
        g.url()
    );
    let body = json!({"range":{"start":{"date":{"year":2026,"month":11,"day":20}},"end":{"date":{"year":2026,"month":11,"day":23}}},"windowSizeDays":1});
    let (s, r) = json_of(
        c.post(&url)
            .bearer_auth(&t.access_token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Newest window first; the day without data is left out.
    let pts = r["rollupDataPoints"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(
        pts[1]["civilStartTime"],
        json!({"date":{"year":2026,"month":11,"day":20}})
    );
    assert_eq!(
        pts[1]["civilEndTime"],
        json!({"date":{"year":2026,"month":11,"day":21}})
    );
    assert_eq!(pts[1]["weight"]["weightGramsAvg"], json!(81200.0));
    assert_eq!(pts[0]["weight"]["weightGramsAvg"], json!(80000.0));
    let too_long = json!({"range":{"start":{"date":{"year":2026,"month":1,"day":1}},"end":{"date":{"year":2026,"month":11,"day":23}}}});
    let (s, r) = json_of(
        c.post(&url)
            .bearer_auth(&t.access_token)
            .json(&too_long)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
}

const STEPS_DAILY: &str = "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp";

#[tokio::test(flavor = "multi_thread")]
async fn google_rollup_ranges_are_closed_open_with_per_type_limits() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    let scopes = format!(
        "{} {}",
        fake_google::SCOPE_METRICS,
        fake_google::SCOPE_ACTIVITY
    );
    let t = g.issue_tokens("gcid", hid, &scopes);
    // 90 days [2026-01-01, 2026-04-01) is the most steps may ask for; 91 is refused.
    let (s, r) = gpost(
        &g,
        &c,
        &t.access_token,
        STEPS_DAILY,
        &civil_range((2026, 1, 1), (2026, 4, 1)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = gpost(
        &g,
        &c,
        &t.access_token,
        STEPS_DAILY,
        &civil_range((2026, 1, 1), (2026, 4, 2)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("90 days"),
        "{r}"
    );
    // 14 days for total calories, on both roll-ups.
    let calories = "/v4/users/me/dataTypes/total-calories/dataPoints:dailyRollUp";
    let (s, _) = gpost(
        &g,
        &c,
        &t.access_token,
        calories,
        &civil_range((2026, 1, 1), (2026, 1, 15)),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, r) = gpost(
        &g,
        &c,
        &t.access_token,
        calories,
        &civil_range((2026, 1, 1), (2026, 1, 16)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    let physical = |end: &str| json!({"range": {"startTime": "2026-01-01T00:00:00Z", "endTime": end}, "windowSize": "86400s"});
    let heart = "/v4/users/me/dataTypes/heart-rate/dataPoints:rollUp";
    let (s, _) = gpost(
        &g,
        &c,
        &t.access_token,
        heart,
        &physical("2026-01-15T00:00:00Z"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = gpost(
        &g,
        &c,
        &t.access_token,
        heart,
        &physical("2026-01-15T00:00:01Z"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // An empty or inverted range is refused too.
    let (s, _) = gpost(
        &g,
        &c,
        &t.access_token,
        STEPS_DAILY,
        &civil_range((2026, 1, 2), (2026, 1, 2)),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn google_intraday_rollups_omit_empty_windows_and_page() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    let minute = |m: u32| format!("2026-11-20T08:{m:02}:00Z");
    for m in [0, 1, 2, 5] {
        let steps = if m == 2 { 0 } else { 10 * (i64::from(m) + 1) };
        g.add_data_point(hid, DataPoint::steps(&minute(m), &minute(m + 1), steps));
    }
    g.add_data_point(hid, DataPoint::heart_rate("2026-11-20T08:00:10Z", 60));
    g.add_data_point(hid, DataPoint::heart_rate("2026-11-20T08:00:40Z", 71));
    let scopes = format!(
        "{} {}",
        fake_google::SCOPE_METRICS,
        fake_google::SCOPE_ACTIVITY
    );
    let t = g.issue_tokens("gcid", hid, &scopes);
    let range = json!({"startTime": "2026-11-20T08:00:00Z", "endTime": "2026-11-20T08:10:00Z"});
    let path = "/v4/users/me/dataTypes/steps/dataPoints:rollUp";
    let (s, r) = gpost(
        &g,
        &c,
        &t.access_token,
        path,
        &json!({"range": range, "windowSize": "60s"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let windows = r["rollupDataPoints"].as_array().unwrap();
    // Four windows with data, newest first; the worn minute without steps is a
    // true zero (an empty value), the minutes without data are left out.
    let starts: Vec<&str> = windows
        .iter()
        .map(|w| w["startTime"].as_str().unwrap())
        .collect();
    assert_eq!(starts, [minute(5), minute(2), minute(1), minute(0)]);
    assert_eq!(windows[0]["endTime"], minute(6));
    assert_eq!(windows[0]["steps"], json!({"countSum": "60"}));
    assert_eq!(windows[1]["steps"], json!({}));
    // Paging keeps the request; a token of another request is refused.
    let (_, first) = gpost(
        &g,
        &c,
        &t.access_token,
        path,
        &json!({"range": range, "windowSize": "60s", "pageSize": 3}),
    )
    .await;
    assert_eq!(first["rollupDataPoints"].as_array().unwrap().len(), 3);
    let token = first["nextPageToken"].as_str().unwrap();
    let (_, second) = gpost(
        &g,
        &c,
        &t.access_token,
        path,
        &json!({"range": range, "windowSize": "60s", "pageSize": 3, "pageToken": token}),
    )
    .await;
    assert_eq!(second["rollupDataPoints"][0]["startTime"], minute(0));
    assert!(second.get("nextPageToken").is_none());
    let (s, _) = gpost(
        &g,
        &c,
        &t.access_token,
        path,
        &json!({"range": range, "windowSize": "900s", "pageToken": token}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Heart rate: doubles, average over the window.
    let (_, r) = gpost(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/heart-rate/dataPoints:rollUp",
        &json!({"range": range, "windowSize": "900s"}),
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["heartRate"],
        json!({"beatsPerMinuteAvg": 65.5, "beatsPerMinuteMax": 71.0, "beatsPerMinuteMin": 60.0})
    );
    // A window under a second is refused with the documented reason.
    let (s, r) = gpost(
        &g,
        &c,
        &t.access_token,
        path,
        &json!({"range": range, "windowSize": "0.5s"}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"]["details"][0]["reason"], "INVALID_ROLLUP_WINDOW");
}

#[tokio::test(flavor = "multi_thread")]
async fn google_types_offer_only_their_operations_and_scopes() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.add_data_point(
        hid,
        DataPoint::total_calories("2026-11-20T08:00:00Z", "2026-11-20T09:00:00Z", 120.5),
    );
    g.add_data_point(
        hid,
        DataPoint::active_minutes(
            "2026-11-20T08:00:00Z",
            "2026-11-20T08:30:00Z",
            "MODERATE",
            30,
        ),
    );
    g.add_data_point(
        hid,
        DataPoint::active_minutes(
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:10:00Z",
            "VIGOROUS",
            10,
        ),
    );
    g.add_data_point(
        hid,
        DataPoint::altitude("2026-11-20T08:00:00Z", "2026-11-20T08:01:00Z", 3048),
    );
    g.add_data_point(
        hid,
        DataPoint::time_in_heart_rate_zone("2026-11-20T08:00:00Z", "2026-11-20T08:20:00Z", "PEAK"),
    );
    g.add_data_point(
        hid,
        DataPoint::calories_in_heart_rate_zone(
            "2026-11-20T08:00:00Z",
            "2026-11-20T08:20:00Z",
            "PEAK",
            180.0,
        ),
    );
    g.add_data_point(
        hid,
        DataPoint::daily_heart_rate_zones("2026-11-20", &[("PEAK", 160, 220)]),
    );
    let activity_only = g.issue_tokens("gcid", hid, fake_google::SCOPE_ACTIVITY);
    let list = |t: &str| format!("/v4/users/me/dataTypes/{t}/dataPoints");
    // total-calories is only rolled up; daily-heart-rate-zones only reconciled.
    let (s, r) = gget(&g, &c, &activity_only.access_token, &list("total-calories")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{r}");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("list"),
        "{r}"
    );
    let day = civil_range((2026, 11, 20), (2026, 11, 21));
    let rolled = |t: &str| format!("{}:dailyRollUp", list(t));
    let (_, r) = gpost(
        &g,
        &c,
        &activity_only.access_token,
        &rolled("total-calories"),
        &day,
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["totalCalories"],
        json!({"kcalSum": 120.5})
    );
    let (_, r) = gpost(
        &g,
        &c,
        &activity_only.access_token,
        &rolled("active-minutes"),
        &day,
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["activeMinutes"]["activeMinutesRollupByActivityLevel"],
        json!([{"activityLevel": "MODERATE", "activeMinutesSum": "30"}, {"activityLevel": "VIGOROUS", "activeMinutesSum": "10"}])
    );
    let (_, r) = gpost(
        &g,
        &c,
        &activity_only.access_token,
        &rolled("altitude"),
        &day,
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["altitude"],
        json!({"gainMillimetersSum": "3048"})
    );
    let (_, r) = gpost(
        &g,
        &c,
        &activity_only.access_token,
        &rolled("time-in-heart-rate-zone"),
        &day,
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["timeInHeartRateZone"],
        json!({"timeInHeartRateZones": [{"heartRateZone": "PEAK", "duration": "1200s"}]})
    );
    let (_, r) = gpost(
        &g,
        &c,
        &activity_only.access_token,
        &rolled("calories-in-heart-rate-zone"),
        &day,
    )
    .await;
    assert_eq!(
        r["rollupDataPoints"][0]["caloriesInHeartRateZone"],
        json!({"caloriesInHeartRateZones": [{"heartRateZone": "PEAK", "kcal": 180.0}]})
    );
    // Heart-rate zone thresholds need the metrics scope and are reconciled.
    let (s, _) = gget(
        &g,
        &c,
        &activity_only.access_token,
        &format!("{}:reconcile", list("daily-heart-rate-zones")),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let metrics = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let (s, _) = gget(
        &g,
        &c,
        &metrics.access_token,
        &list("daily-heart-rate-zones"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, r) = gget(
        &g,
        &c,
        &metrics.access_token,
        &format!("{}:reconcile", list("daily-heart-rate-zones")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let point = &r["dataPoints"][0];
    assert!(
        point["dataPointName"].is_string() && point.get("dataSource").is_none(),
        "{r}"
    );
    assert_eq!(
        point["dailyHeartRateZones"]["heartRateZones"][0],
        json!({"heartRateZoneType": "PEAK", "minBeatsPerMinute": "160", "maxBeatsPerMinute": "220"})
    );
}
