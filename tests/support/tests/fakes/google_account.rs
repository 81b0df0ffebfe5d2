//! The fake Google Health account: profile (strides only with the activity
//! scope) and paired devices (paged, default 5, at most 100).

use igor_test_support::fake_google;
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn google_profile_needs_its_scope_and_shows_strides_with_activity() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.set_profile(
        hid,
        json!({"age": 41, "userConfiguredWalkingStrideLengthMm": 700}),
    );
    let metrics = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let (s, r) = gget(&g, &c, &metrics.access_token, "/v4/users/me/profile").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    let profile_only = g.issue_tokens("gcid", hid, fake_google::SCOPE_PROFILE);
    let (s, r) = gget(&g, &c, &profile_only.access_token, "/v4/users/me/profile").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        r,
        json!({"name": format!("users/{hid}/profile"), "age": 41,
               "membershipStartDate": {"year": 2016, "month": 1, "day": 1}})
    );
    let scopes = format!(
        "{} {}",
        fake_google::SCOPE_PROFILE,
        fake_google::SCOPE_ACTIVITY
    );
    let both = g.issue_tokens("gcid", hid, &scopes);
    let (_, r) = gget(&g, &c, &both.access_token, "/v4/users/me/profile").await;
    assert_eq!(r["userConfiguredWalkingStrideLengthMm"], 700);
    assert_eq!(r["autoWalkingStrideLengthMm"], 716);
}

#[tokio::test(flavor = "multi_thread")]
async fn google_paired_devices_are_paged_five_by_default() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    for i in 0..7 {
        g.add_paired_device(
            hid,
            &format!("{i}"),
            json!({"deviceVersion": format!("Charge {i}"),
            "batteryLevel": 50 + i, "batteryStatus": "Medium", "deviceType": "TRACKER",
            "lastSyncTime": "2026-11-20T07:12:40Z", "features": ["STEPS"]}),
        );
    }
    let metrics = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let (s, _) = gget(&g, &c, &metrics.access_token, "/v4/users/me/pairedDevices").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "settings scope");
    let t = g.issue_tokens("gcid", hid, fake_google::SCOPE_SETTINGS);
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/pairedDevices").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let first = r["pairedDevices"].as_array().unwrap();
    assert_eq!(first.len(), 5);
    assert_eq!(first[0]["name"], format!("users/{hid}/pairedDevices/0"));
    assert_eq!(first[0]["batteryLevel"], 50);
    let token = r["nextPageToken"].as_str().unwrap();
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/pairedDevices?pageToken={token}"),
    )
    .await;
    assert_eq!(r["pairedDevices"].as_array().unwrap().len(), 2);
    assert!(r.get("nextPageToken").is_none());
    // At most 100 per page: more is coerced.
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/pairedDevices?pageSize=1000",
    )
    .await;
    assert_eq!(r["pairedDevices"].as_array().unwrap().len(), 7);
    let (_, r) = gget(&g, &c, &t.access_token, "/v4/users/me/pairedDevices/6").await;
    assert_eq!(r["deviceVersion"], "Charge 6");
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/pairedDevices/99").await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_fitbit_account_and_a_deadline_are_refused_as_google_does() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    let t = g.issue_tokens("gcid", hid, fake_google::SCOPE_SETTINGS);
    g.inject_errors(fake_google::InjectedError::DeadlineExceeded, 1);
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(s, StatusCode::GATEWAY_TIMEOUT, "{r}");
    assert_eq!(r["error"]["status"], "DEADLINE_EXCEEDED");
    g.set_legacy_fitbit_account(hid, true);
    for path in ["/v4/users/me/settings", "/v4/users/me/pairedDevices"] {
        let (s, r) = gget(&g, &c, &t.access_token, path).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
        assert_eq!(
            r["error"],
            json!({"code": 403, "message": "Could not mint UberMint from GaiaMint",
                   "status": "PERMISSION_DENIED"})
        );
    }
    g.set_legacy_fitbit_account(hid, false);
    let (s, _) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(s, StatusCode::OK);
}
