//! The fitbit plugin with the Google Health provider, end to end: the real
//! igor-host binary over HTTP against the fake Google OAuth and Health API,
//! and a mixed installation migrating from the (shut down) legacy API.

use crate::common;

use chrono::{SecondsFormat, Utc};
use std::convert::identity;

use common::clouds::{self, FITBIT_ID, FITBIT_SECRET, GOOGLE_ID, GOOGLE_SECRET, Google};
use common::{Client, Host, HostConfig};
use igor_test_support::fake_fitbit::WeightLog;
use igor_test_support::fake_google::{
    DEFAULT_HEALTH_USER_ID, DEFAULT_LEGACY_USER_ID, DataPoint, InjectedError, SCOPE_ACTIVITY,
    SCOPE_METRICS, SCOPE_SLEEP,
};
use igor_test_support::{FakeFitbit, FakeGoogle, consent};
use serde_json::Value;

const WEEK: &str = "/plugin/fitbit?user=jack&period=7d";
const TOKEN: &str = "identities/jack/plugindata/fitbit/token";

/// Three weigh-ins in the last three days (ids `w50`, `w26`, `w2`).
fn add_three_weights(google: &FakeGoogle) {
    for (hours, grams) in [(50, 80_400.0), (26, 80_100.0), (2, 79_900.0)] {
        google.add_data_point(
            DEFAULT_HEALTH_USER_ID,
            DataPoint::weight(&hours_ago(hours), grams).id(&format!("w{hours}")),
        );
    }
}

/// Jack authorised, with three weights fetched once.
async fn synced() -> Google {
    let h = Google::authorised(identity, "jack").await;
    add_three_weights(&h.cloud);
    assert_eq!(h.client.get(WEEK).await.0, 200);
    h
}

fn hours_ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn weights(body: &str) -> Vec<Value> {
    let value: Value = serde_json::from_str(body).unwrap();
    value["weight"]
        .as_array()
        .unwrap_or_else(|| panic!("no weight list in {body}"))
        .clone()
}

fn list_calls(google: &FakeGoogle, data_type: &str) -> Vec<String> {
    let path = format!("/v4/users/me/dataTypes/{data_type}/dataPoints");
    google
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .map(|r| r.query_value("filter").unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_installation_uses_google_health_and_shows_its_redirect() {
    let h = Google::start(identity).await;
    h.configure().await;
    let (_, page) = h
        .client
        .get("/plugin/fitbit/page/setup.html?user=jack")
        .await;
    assert!(
        page.contains("console.cloud.google.com") || page.contains("Google Cloud"),
        "{page}"
    );
    let auth2 = h.client.url("/plugin/fitbit/auth2");
    assert!(page.contains(&auth2) && !page.contains(GOOGLE_SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn authorising_asks_offline_access_with_pkce_for_the_metrics_scope_only() {
    let h = Google::start(identity).await;
    h.configure().await;
    let authorize = h.authorise("jack").await;
    let query: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["access_type"], "offline");
    assert_eq!(query["prompt"], "consent");
    assert_eq!(query["code_challenge_method"], "S256");
    let scopes: Vec<&str> = query["scope"].split(' ').collect();
    assert!(scopes.contains(&SCOPE_METRICS), "{scopes:?}");
    assert!(
        !scopes.contains(&SCOPE_ACTIVITY) && !scopes.contains(&SCOPE_SLEEP),
        "{scopes:?}"
    );
    // The secret travelled in the form body, added by the host.
    let exchange = h
        .cloud
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert_eq!(exchange.form_value("client_secret"), Some(GOOGLE_SECRET));
    assert_eq!(exchange.form_value("client_id"), Some(GOOGLE_ID));
    assert!(exchange.form_value("code_verifier").is_some());
    let token = h.host.stored(TOKEN).unwrap();
    assert_eq!(token["provider"], "google-health");
    assert_eq!(token["healthUserId"], DEFAULT_HEALTH_USER_ID);
    assert_eq!(token["legacyUserId"], DEFAULT_LEGACY_USER_ID);
}

#[tokio::test(flavor = "multi_thread")]
async fn weights_come_in_the_legacy_log_shape_across_pages() {
    let h = Google::authorised(identity, "jack").await;
    add_three_weights(&h.cloud);
    // Empty pages that still carry a page token, then one weigh-in a page.
    h.cloud.insert_empty_pages(2);
    h.cloud.set_max_page_size(1);
    h.cloud.clear_requests();
    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    let list = weights(&body);
    assert_eq!(list.len(), 3, "{body}");
    assert_eq!(list_calls(&h.cloud, "weight").len(), 5);
    // Kilograms from grams.
    assert!(
        (list[2]["weight"].as_f64().unwrap() - 79.9).abs() < 0.01,
        "{body}"
    );
    for field in ["date", "time", "logId", "source"] {
        assert!(list[0].get(field).is_some(), "{field} missing: {body}");
    }
    let stored = h.host.stored("sensors/fitbit/jack").unwrap();
    assert_eq!(stored["weight"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_up_to_date_run_lists_the_last_week_once_and_sees_late_and_deleted_weights() {
    let h = synced().await;
    h.cloud.clear_requests();
    let user = DEFAULT_HEALTH_USER_ID;
    // A new weigh-in, one logged late for yesterday, one deleted.
    h.cloud
        .add_data_point(user, DataPoint::weight(&hours_ago(1), 79_800.0));
    h.cloud
        .add_data_point(user, DataPoint::weight(&hours_ago(30), 80_200.0));
    h.cloud.delete_data_point(user, "w26");
    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    let grams: Vec<f64> = weights(&body)
        .iter()
        .map(|w| w["weight"].as_f64().unwrap())
        .collect();
    assert_eq!(grams, vec![80.4, 80.2, 79.9, 79.8], "{body}");
    // One call, as before: the settings and height are kept for the day.
    let calls: Vec<String> = h.cloud.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        calls,
        vec!["/v4/users/me/dataTypes/weight/dataPoints"],
        "{calls:?}"
    );
    assert!(list_calls(&h.cloud, "weight")[0].contains("civil_time >="));
}

#[tokio::test(flavor = "multi_thread")]
async fn daily_roll_ups_come_in_the_legacy_time_series_shape() {
    let h = Google::authorised(identity, "jack").await;
    add_three_weights(&h.cloud);
    let (status, body) = h
        .client
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    let series: Value = serde_json::from_str(&body).unwrap();
    let days = series["body-weight"].as_array().unwrap();
    assert!(
        !days.is_empty() && days.iter().all(|d| d["value"].is_string()),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resource_google_cannot_serve_is_refused_without_a_call() {
    let h = Google::authorised(identity, "jack").await;
    h.cloud.clear_requests();
    let (status, body) = h
        .client
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=foods/log/water&period=7d")
        .await;
    assert_eq!(status, 400, "{body}");
    // The answer names the resources there are.
    assert!(
        body.contains("foods/log/water") && body.contains("body/bmi"),
        "{body}"
    );
    assert!(h.cloud.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_refreshed_once_keeping_the_refresh_token() {
    let h = Google::authorised(identity, "jack").await;
    let refresh_token = h.host.stored(TOKEN).unwrap()["refresh_token"].clone();
    add_three_weights(&h.cloud);
    h.cloud.expire_access_tokens();
    let before = h.cloud.token_requests();
    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.cloud.token_requests(), before + 1);
    // Google does not rotate refresh tokens.
    assert_eq!(
        h.host.stored(TOKEN).unwrap()["refresh_token"],
        refresh_token
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn lasting_upstream_errors_are_explained_without_retries() {
    let h = synced().await;
    for (error, needle) in [
        (InjectedError::ScopeInsufficient, "auth1?user=jack"),
        (InjectedError::AccountNotLinked, "not linked"),
        (InjectedError::LegacyFitbitAccount, "Move to Google"),
    ] {
        h.cloud.clear_requests();
        h.cloud.inject_errors(error, 1);
        let (status, body) = h.client.get(WEEK).await;
        assert_eq!(status, 502, "{body}");
        assert!(body.contains(needle), "{needle}: {body}");
        assert_eq!(list_calls(&h.cloud, "weight").len(), 1, "not retried");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn transient_upstream_errors_are_retried_once_they_pass() {
    let h = synced().await;
    for error in [
        InjectedError::RateLimited,
        InjectedError::Unavailable,
        InjectedError::DeadlineExceeded,
    ] {
        h.cloud.clear_requests();
        h.cloud.inject_errors(error, 1);
        let (status, body) = h.client.get(WEEK).await;
        assert_eq!(status, 200, "{error:?}: {body}");
        assert_eq!(weights(&body).len(), 3, "{body}");
        assert_eq!(list_calls(&h.cloud, "weight").len(), 2, "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_refresh_token_is_explained_and_changes_nothing_stored() {
    let h = synced().await;
    h.cloud.expire_refresh_tokens();
    h.cloud.expire_access_tokens();
    h.refused_refresh_changes_nothing(WEEK, "7 days").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_user_revokes_the_token() {
    let h = Google::authorised(identity, "jack").await;
    h.client.delete_user("jack").await;
    assert_eq!(h.cloud.calls("/revoke"), 1);
    assert!(h.host.stored(TOKEN).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_installation_migrates_from_the_legacy_api() {
    let google = FakeGoogle::start().await;
    let fitbit = FakeFitbit::start().await;
    let plugin = clouds::google_plugin(&google, Some(&fitbit));
    let host = Host::start(HostConfig::new().plugin(plugin)).await;
    let h = Client::new(&host);
    let auth2 = h.url("/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
    fitbit.register_client(FITBIT_ID, FITBIT_SECRET, &[&auth2]);

    // Jack was set up with the legacy API before the shutdown...
    h.settings(&[
        ("client_id", FITBIT_ID),
        ("client_secret", FITBIT_SECRET),
        ("provider", "fitbit"),
    ])
    .await;
    h.authorise("jack", &fitbit.authorize_url()).await;
    fitbit.add_weight(
        igor_test_support::fake_fitbit::DEFAULT_USER_ID,
        WeightLog::new("2026-10-20", "07:00:00", 81.0),
    );
    let (status, _) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-10-20&period=1d")
        .await;
    assert_eq!(status, 200);

    // ...then the owner moved the installation to Google Health and Jill
    // joined, while the legacy API went away.
    h.settings(&[
        ("client_id", GOOGLE_ID),
        ("client_secret", GOOGLE_SECRET),
        ("provider", "google-health"),
    ])
    .await;
    h.authorise("jill", &google.authorize_url()).await;
    fitbit.set_shut_down(true);
    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        DataPoint::weight(&hours_ago(3), 62_000.0),
    );

    let (status, body) = h.get("/plugin/fitbit?user=jill&period=7d").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = h.get(WEEK).await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("2026-11-02") && body.contains("google-health"),
        "{body}"
    );
    let (_, page) = h.get("/plugin/fitbit/page/setup.html?user=jack").await;
    assert!(page.contains("Google Health"), "{page}");

    // Re-authorising replaces the legacy token; Jack's data flows again.
    h.authorise("jack", &google.authorize_url()).await;
    let token = host.stored(TOKEN).unwrap();
    assert_eq!(token["provider"], "google-health");
    let (status, body) = h.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lan_installation_registers_loopback_and_completes_by_pasting() {
    // Igor (or the host) as the LAN knows it; nothing listens on localhost
    // at that port here, as on the owner's laptop.
    let port = common::free_port();
    let base = format!("http://igor.local:{port}");
    let h =
        Google::start(|config| config.server(|server| server.base_url = Some(base.clone()))).await;
    let google = &h.cloud;
    let refused = google
        .try_register_client(
            GOOGLE_ID,
            GOOGLE_SECRET,
            &[&format!("{base}/plugin/fitbit/auth2")],
        )
        .unwrap_err();
    assert!(refused.contains("https"), "{refused}");
    h.configure().await;
    let loopback = format!("http://localhost:{port}/plugin/fitbit/auth2");
    let (_, page) = h.client.get("/plugin/fitbit/page/setup.html").await;
    assert!(page.contains("Google will refuse this base URL"), "{page}");
    assert!(page.contains(&format!("<code>{loopback}</code>")), "{page}");

    // Registered with another URI only: Google's error page.
    google.register_client(
        GOOGLE_ID,
        GOOGLE_SECRET,
        &["https://igor.example.com/plugin/fitbit/auth2"],
    );
    let (_, started) = h.client.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let blocked = consent(&h.client.http, &authorize)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        blocked.contains("Error 400: redirect_uri_mismatch"),
        "{blocked}"
    );

    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&loopback]);
    let (_, started) = h.client.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let landed = consent(&h.client.http, &authorize).await.unwrap();
    assert!(landed.starts_with(&format!("{loopback}?")), "{landed}");
    assert!(
        h.client.http.get(&landed).send().await.is_err(),
        "nothing answers at the loopback address"
    );
    let paste = |address: String| {
        h.client
            .http
            .post(h.client.url("/plugin/fitbit/auth2"))
            .form(&[("user", "jack".to_string()), ("address", address)])
            .send()
    };
    let done = paste(landed.clone()).await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("access for jack is set up")
    );
    let exchange = google
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    assert_eq!(exchange.form_value("redirect_uri"), Some(loopback.as_str()));
    let token = h.host.stored(TOKEN).unwrap();
    assert!(token["granted_at"].as_f64().is_some(), "{token}");
    let again = paste(landed).await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        DataPoint::weight(&hours_ago(2), 80_000.0),
    );
    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_base_url_behind_a_proxy_keeps_the_direct_redirect() {
    let base = "https://igor.example.com";
    let h =
        Google::start(|config| config.server(|server| server.base_url = Some(base.into()))).await;
    let google = &h.cloud;
    let redirect = format!("{base}/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&redirect]);
    h.configure().await;
    let (_, page) = h.client.get("/plugin/fitbit/page/setup.html").await;
    assert!(!page.contains("Google will refuse"), "{page}");
    assert!(page.contains(&format!("<code>{redirect}</code>")));
    let (_, started) = h.client.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let back = consent(&h.client.http, &authorize).await.unwrap();
    // The proxy passes https://igor.example.com/... on to the host.
    let path_and_query = back.strip_prefix(base).unwrap();
    let (status, page) = h.client.get(path_and_query).await;
    assert_eq!(status, 200, "{page}");
    let exchange = google
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .unwrap();
    assert_eq!(exchange.form_value("redirect_uri"), Some(redirect.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_grows_with_what_runs_and_testing_access_ends_with_a_notice() {
    let h = Google::start(identity).await;
    let google = &h.cloud;
    google.set_testing_mode(GOOGLE_ID, true);
    h.configure().await;
    h.authorise("jack").await;

    // Sleep was not part of jack's consent: 403 with the link that adds it.
    google.clear_requests();
    let (status, body) = h.client.get("/plugin/fitbit?user=jack&methods=sleep").await;
    assert_eq!(status, 403, "{body}");
    let link = h
        .client
        .url("/plugin/fitbit/auth1?user=jack&scope=sleep.readonly");
    assert!(body.contains(&link), "{body}");
    assert!(google.requests().is_empty());
    let started = h.client.http.get(&link).send().await.unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let back = consent(&h.client.http, &location).await.unwrap();
    assert_eq!(h.client.http.get(&back).send().await.unwrap().status(), 200);
    let query = google.last_authorize_query().unwrap();
    assert!(query.contains(&("include_granted_scopes".into(), "true".into())));
    let token = h.host.stored(TOKEN).unwrap();
    let scopes = token["scope"].as_str().unwrap();
    assert!(
        scopes.contains(SCOPE_METRICS) && scopes.contains(SCOPE_SLEEP),
        "the new token keeps what was granted: {scopes}"
    );
    let (status, body) = h.client.get("/plugin/fitbit?user=jack&methods=sleep").await;
    assert_eq!(status, 200, "{body}");

    // Seven days later Google ends the Testing grant, in its own words; the
    // scheduled action's status tells the owner what to do. (An action
    // added by a reload runs at once with no spread, then every second.)
    google.advance_clock(std::time::Duration::from_secs(7 * 24 * 3600 + 60));
    let with_action = HostConfig::new()
        .plugin(clouds::google_plugin(google, None))
        .edit(|config| config.scheduler.first_run_spread_seconds = Some(0))
        .action(1, "/plugin/fitbit?user=jack", Some("sensors/fitbit"));
    h.host.rewrite(with_action);
    h.host.hangup();
    let status = h
        .host
        .status_when("sensors/fitbit", |s| s.get("notice").is_some())
        .await;
    let message = status["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("Token has been expired or revoked."),
        "{status}"
    );
    let notice = status["notice"]["jack"].as_str().unwrap();
    assert!(
        notice.starts_with("authorise jack again since "),
        "{notice}"
    );
    assert!(notice.ends_with(&format!("{}/plugin/fitbit/auth1?user=jack", h.host.url)));
    let (_, page) = h.client.get("/plugin/fitbit/page/setup.html").await;
    assert!(page.contains("authorise jack again since "), "{page}");

    // One click renews access; the next run clears the notice.
    h.authorise("jack").await;
    let status = h
        .host
        .status_when("sensors/fitbit", |s| {
            s["alive"] == true && s.get("notice").is_none()
        })
        .await;
    assert_eq!(status["errorMessage"], "");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_page_is_read_where_one_point_is_wanted() {
    let h = Google::authorised(identity, "jack").await;
    // Forty weigh-ins and heights one morning: forty pages of one.
    let day = (Utc::now() - chrono::Duration::days(2)).date_naive();
    let morning = day.and_hms_opt(8, 0, 0).unwrap().and_utc();
    for minutes in 1..=40 {
        let at = (morning + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        h.cloud
            .add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::weight(&at, 80_000.0));
        h.cloud
            .add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::height(&at, 1_800));
    }
    h.cloud.clear_requests();
    let target = format!("/plugin/fitbit?user=jack&methods=body&date={day}");
    let (status, body) = h.client.get(&target).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["body"]["weight"], 80.0, "{body}");
    assert_eq!(list_calls(&h.cloud, "weight").len(), 1);
    assert_eq!(list_calls(&h.cloud, "height").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_reads_what_the_consent_covers_and_says_what_it_left_out() {
    // Consent for the default method only: weight (and the settings).
    let h = Google::authorised(identity, "jack").await;
    add_three_weights(&h.cloud);
    h.cloud.clear_requests();
    let (status, body) = h
        .client
        .get("/plugin/fitbit?user=jack&methods=user_profile_get")
        .await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["user"]["weight"], 79.9, "{body}");
    assert_eq!(answer["user"]["encodedId"], DEFAULT_LEGACY_USER_ID);
    let note = answer["partialConsent"]["user_profile_get"]
        .as_str()
        .unwrap_or_else(|| panic!("no note: {body}"));
    assert!(note.contains("scope=profile.readonly"), "{note}");
    assert_eq!(h.cloud.calls("/v4/users/me/profile"), 0);
}

/// A host in `host_zone` whose user jack lives in `user_zone`, authorised
/// for weights and intraday steps.
async fn zoned(host_zone: &'static str, user_zone: &str) -> Google {
    let h = Google::start(|c| c.time_zone(host_zone)).await;
    h.cloud.set_time_zone(DEFAULT_HEALTH_USER_ID, user_zone);
    h.configure().await;
    let (status, body) = h
        .client
        .form(
            "/plugin/fitbit/userSettings",
            &[
                ("user", "jack"),
                ("methods", "get_bodyweight,intraday_time_series"),
                ("resource", "activities/steps"),
            ],
        )
        .await;
    assert!(status < 400, "{body}");
    h.authorise("jack").await;
    h
}

#[tokio::test(flavor = "multi_thread")]
async fn days_and_intraday_labels_are_the_users_across_daylight_saving() {
    for host_zone in ["UTC", "America/New_York"] {
        let h = zoned(host_zone, "Europe/Amsterdam").await;
        let user = DEFAULT_HEALTH_USER_ID;
        // Amsterdam left summer time on 2026-10-25 at 01:00 UTC.
        for (at, grams) in [
            ("2026-10-24T22:30:00Z", 80_000.0), // 00:30 on the 25th (summer time)
            ("2026-10-25T22:30:00Z", 79_000.0), // 23:30 on the 25th (winter time)
            ("2026-10-25T23:30:00Z", 78_000.0), // 00:30 on the 26th
        ] {
            h.cloud.add_data_point(user, DataPoint::weight(at, grams));
        }
        for (start, count) in [
            ("2026-10-24T21:50:00Z", 1),  // 23:50 on the 24th
            ("2026-10-24T22:10:00Z", 3),  // 00:10
            ("2026-10-25T00:30:00Z", 5),  // 02:30 summer time
            ("2026-10-25T01:30:00Z", 7),  // 02:30 winter time
            ("2026-10-25T08:00:00Z", 20), // 09:00
            ("2026-10-25T23:10:00Z", 9),  // 00:10 on the 26th
        ] {
            let end = start.replace(":00Z", ":30Z");
            h.cloud
                .add_data_point(user, DataPoint::steps(start, &end, count));
        }
        let (status, body) = h
            .client
            .get("/plugin/fitbit?user=jack&base_date=2026-10-25&end_date=2026-10-25")
            .await;
        assert_eq!(status, 200, "{host_zone}: {body}");
        let times: Vec<String> = weights(&body)
            .iter()
            .map(|w| {
                format!(
                    "{} {}",
                    w["date"].as_str().unwrap(),
                    w["time"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(
            times,
            vec!["2026-10-25 00:30:00", "2026-10-25 23:30:00"],
            "{host_zone}"
        );
        // The settings were read once, then kept; one weight list.
        assert_eq!(h.cloud.calls("/v4/users/me/settings"), 1, "{host_zone}");
        assert_eq!(list_calls(&h.cloud, "weight").len(), 1, "{host_zone}");
        h.cloud.clear_requests();
        let (status, body) = h
            .client
            .get("/plugin/fitbit?user=jack&methods=intraday_time_series&base_date=2026-10-25")
            .await;
        assert_eq!(status, 200, "{host_zone}: {body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            answer["activities-steps"],
            serde_json::json!([{"dateTime": "2026-10-25", "value": "35"}]),
            "{host_zone}"
        );
        let labels: Vec<(String, i64)> = answer["activities-steps-intraday"]["dataset"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                (
                    w["time"].as_str().unwrap().to_string(),
                    w["value"].as_i64().unwrap(),
                )
            })
            .collect();
        let expected = [
            ("00:10:00", 3),
            ("02:30:00", 5),
            ("02:30:00", 7),
            ("09:00:00", 20),
        ];
        let expected: Vec<(String, i64)> =
            expected.iter().map(|(t, v)| (t.to_string(), *v)).collect();
        assert_eq!(labels, expected, "{host_zone}");
        // One roll-up of the 25 hours and one daily roll-up, nothing else.
        let paths: Vec<String> = h.cloud.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            vec![
                "/v4/users/me/dataTypes/steps/dataPoints:rollUp",
                "/v4/users/me/dataTypes/steps/dataPoints:dailyRollUp"
            ],
            "{host_zone}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn today_is_the_users_even_a_day_ahead_of_the_host() {
    // The host twelve hours behind UTC, the user fourteen ahead: the
    // user's date is always one or two days after the host's.
    let h = zoned("Etc/GMT+12", "Pacific/Kiritimati").await;
    let now = Utc::now();
    let user_now = now + chrono::Duration::hours(14);
    let user_today = user_now.date_naive();
    // One minute after the user's day began (ten hours earlier in UTC).
    let began = user_today.and_hms_opt(0, 1, 0).unwrap().and_utc() - chrono::Duration::hours(14);
    let at = began.to_rfc3339_opts(SecondsFormat::Secs, true);
    h.cloud
        .add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::weight(&at, 70_000.0));
    let (status, body) = h.client.get("/plugin/fitbit?user=jack").await;
    assert_eq!(status, 200, "{body}");
    let list = weights(&body);
    assert_eq!(list.len(), 1, "{body}");
    assert_eq!(list[0]["date"], user_today.to_string());
    assert_eq!(list[0]["time"], "00:01:00");
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_started_authorisations_leave_the_tenants_store_bounded() {
    // `auth1` with made-up users, as a cross-site <img> could send them,
    // against a tenant whose quota is 200 documents.
    const TENANT_TOKEN: &str = "token-of-the-smiths";
    const ADMIN: &str = "admin-of-the-host";
    let google = FakeGoogle::start().await;
    let smiths = common::config::tenant("smiths", TENANT_TOKEN)
        .plugin(clouds::google_plugin(&google, None))
        .quota(|quota| quota.max_keys = 200);
    let host = Host::start(HostConfig::new().admin_token(ADMIN).tenant(smiths)).await;
    let client = Client::new(&host).with_bearer(TENANT_TOKEN);
    let plugin = "/tenants/smiths/plugin/fitbit";
    let settings = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
    let (status, body) = client.form(&format!("{plugin}/settings"), &settings).await;
    assert_eq!(status, 200, "{body}");
    let admin = Client::new(&host).with_bearer(ADMIN);
    let documents = async || {
        let (_, metrics) = admin.get("/metrics").await;
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(r#"igor_host_store_documents{tenant="smiths"} "#))
            .map(|v| v.parse::<u64>().unwrap())
            .unwrap_or_else(|| panic!("{metrics}"))
    };
    let before = documents().await;

    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..300 {
        let (status, body) = client.get(&format!("{plugin}/auth1?user=u{i}")).await;
        *answers.entry(status).or_default() += 1;
        if status == 429 {
            assert!(body.contains("authorisations are in progress"), "{body}");
        }
    }
    assert_eq!(answers.get(&303), Some(&32), "{answers:?}\n{}", host.log());
    assert_eq!(answers.get(&429), Some(&268), "{answers:?}");
    assert!(documents().await <= before + 1, "one document holds them");
    let (status, page) = client.get(&format!("{plugin}/page/setup.html")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Authorisations in progress"), "{page}");
    assert!(page.len() < 500_000, "{} bytes", page.len());
}
