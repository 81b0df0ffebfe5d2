//! The fitbit plugin with the legacy Fitbit provider, end to end: the real
//! igor-host binary over HTTP against the fake Fitbit Web API and OAuth.

use crate::common;

use std::convert::identity;
use std::time::Duration;

use common::HostConfig;
use common::clouds::{FITBIT_ID, FITBIT_SECRET, Legacy};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use serde_json::Value;

const WEEK: &str = "/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d";
const TOKEN: &str = "identities/jack/plugindata/fitbit/token";

/// Three weigh-ins in the week up to 2026-11-22.
fn add_week_of_weights(h: &Legacy) {
    for (day, kg) in [
        ("2026-11-18", 80.4),
        ("2026-11-20", 80.1),
        ("2026-11-22", 79.9),
    ] {
        h.cloud
            .add_weight(DEFAULT_USER_ID, WeightLog::new(day, "07:12:33", kg));
    }
}

/// Jack authorised, with a week of weights fetched once.
async fn synced() -> Legacy {
    let h = Legacy::authorised(identity, "jack").await;
    add_week_of_weights(&h);
    assert_eq!(h.client.get(WEEK).await.0, 200);
    h
}

/// Jack authorised with tokens that count as expired at once (30 s, within
/// the refresh margin), so every call refreshes first; a week of weights.
async fn with_short_lived_tokens(system: &str) -> Legacy {
    let h = Legacy::start(identity).await;
    h.configure(system).await;
    h.cloud.set_access_token_lifetime(Duration::from_secs(30));
    h.authorise("jack").await;
    add_week_of_weights(&h);
    h
}

fn weights(body: &str) -> Vec<f64> {
    let value: Value = serde_json::from_str(body).unwrap();
    value["weight"]
        .as_array()
        .unwrap_or_else(|| panic!("no weight list in {body}"))
        .iter()
        .map(|w| w["weight"].as_f64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_secret_is_never_shown_or_stored_as_a_document() {
    let h = Legacy::start(identity).await;
    h.configure("en_GB").await;
    let (status, page) = h
        .client
        .get("/plugin/fitbit/page/setup.html?user=jack")
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(FITBIT_ID) && !page.contains(FITBIT_SECRET));
    let settings = h.host.stored("plugindata/fitbit").unwrap();
    assert!(settings.get("client_secret").is_none(), "{settings}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_code_exchange_uses_pkce_and_basic_client_authentication() {
    let h = Legacy::authorised(identity, "jack").await;
    let token = h.host.stored(TOKEN).unwrap();
    assert_eq!(token["provider"], "fitbit");
    assert_eq!(token["user_id"], DEFAULT_USER_ID);
    let exchange = h
        .cloud
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth2/token")
        .unwrap();
    assert_eq!(
        exchange.basic_auth(),
        Some((FITBIT_ID.into(), FITBIT_SECRET.into()))
    );
    assert!(exchange.form_value("code_verifier").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_lived_token_is_refreshed_and_saved_before_the_data_call() {
    let h = with_short_lived_tokens("en_GB").await;
    let first_refresh_token = h.host.stored(TOKEN).unwrap()["refresh_token"].clone();

    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    // en_GB: stone.
    let stone = weights(&body);
    assert_eq!(stone.len(), 3);
    assert!((stone[1] - 80.1 / 6.35029318).abs() < 0.01, "{stone:?}");
    assert_eq!(
        h.host.stored("sensors/fitbit/jack").unwrap(),
        serde_json::from_str::<Value>(&body).unwrap()
    );
    let used = h.cloud.used_refresh_tokens();
    assert!(used.contains(&first_refresh_token.as_str().unwrap().to_string()));
    assert_ne!(
        h.host.stored(TOKEN).unwrap()["refresh_token"],
        first_refresh_token
    );
    let data_call = h
        .cloud
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/1/user/"))
        .unwrap();
    assert_eq!(data_call.header("accept-language"), Some("en_GB"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_access_token_the_provider_expires_early_is_refreshed_once() {
    let h = synced().await;
    let before = h.cloud.token_requests();
    h.cloud.expire_access_tokens();
    let (status, body) = h.client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.cloud.token_requests(), before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn units_follow_the_system_setting() {
    let h = Legacy::authorised(identity, "jack").await;
    add_week_of_weights(&h);
    for (system, factor) in [("en_US", 2.20462262), ("nl_NL", 1.0)] {
        let (status, _) = h
            .client
            .form("/plugin/fitbit/settings", &[("system", system)])
            .await;
        assert_eq!(status, 200);
        let values = weights(&h.client.get(WEEK).await.1);
        assert!(
            (values[1] - 80.1 * factor).abs() < 0.02,
            "{system}: {values:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_used_elsewhere_asks_to_authorise_again() {
    let h = synced().await;
    h.cloud.set_grace(Duration::ZERO);
    let stolen = h.cloud.refresh_token_of(DEFAULT_USER_ID).unwrap();
    let used = reqwest::Client::new()
        .post(format!("{}/oauth2/token", h.cloud.url()))
        .basic_auth(FITBIT_ID, Some(FITBIT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &stolen)])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    h.cloud.expire_access_tokens();
    h.refused_refresh_changes_nothing(WEEK, "auth1?user=jack")
        .await;

    h.authorise("jack").await;
    assert_eq!(h.client.get(WEEK).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_shutdown_is_answered_with_the_migration_message() {
    let h = synced().await;
    let sensors_before = h.host.stored("sensors/fitbit/jack");
    h.cloud.set_shut_down(true);
    let (status, body) = h.client.get("/plugin/fitbit?user=jack").await;
    assert_eq!(status, 502);
    assert!(
        body.contains("2026-11-02")
            && body.contains("google-health")
            && body.contains("auth1?user=jack"),
        "{body}"
    );
    assert_eq!(h.host.stored("sensors/fitbit/jack"), sensors_before);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_method_and_date_are_todays_weight_log() {
    let h = Legacy::authorised(identity, "jack").await;
    // The host's local date.
    let today = chrono::Local::now().date_naive().to_string();
    h.cloud
        .add_weight(DEFAULT_USER_ID, WeightLog::new(&today, "06:30:00", 81.0));
    let (status, body) = h.client.get("/plugin/fitbit?user=jack").await;
    assert_eq!(status, 200, "{body}");
    let path = format!("/1/user/-/body/log/weight/date/{today}.json");
    assert!(h.cloud.requests().iter().any(|r| r.path == path));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_time_series_has_the_readmes_shape() {
    let h = Legacy::authorised(identity, "jack").await;
    add_week_of_weights(&h);
    let (status, body) = h
        .client
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&base_date=2026-11-20&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    let series: Value = serde_json::from_str(&body).unwrap();
    assert!(series["body-weight"][0]["value"].is_string(), "{body}");
    assert!(series["body-weight"][0]["dateTime"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_before_any_upstream_call() {
    let h = synced().await;
    let calls_before = h.cloud.requests().len();
    let sensors_before = h.host.stored("sensors/fitbit/jack");
    for (target, status, needle) in [
        ("/plugin/fitbit", 400, "requires user argument"),
        (
            "/plugin/fitbit?user=jack&methods=get_weight",
            400,
            "no method 'get_weight'",
        ),
        ("/plugin/fitbit?user=jack&period=2y", 400, "'period'"),
        (
            "/plugin/fitbit?user=jack&period=7d&end_date=2026-11-20",
            400,
            "not both",
        ),
        (
            "/plugin/fitbit?user=jack&base_date=yesterday",
            400,
            "'base_date'",
        ),
        (
            "/plugin/fitbit?user=jack&methods=time_series&resource=body/weight",
            400,
            "'period' or 'end_date'",
        ),
        ("/plugin/fitbit?user=jack&colour=blue", 400, "'colour'"),
        (
            "/plugin/fitbit?user=jill",
            403,
            "requires 'token' plugindata for user 'jill'",
        ),
        ("/plugin/fitbit/nonsense", 404, "no page"),
    ] {
        let (got, body) = h.client.get(target).await;
        assert_eq!(got, status, "{target}: {body}");
        assert!(body.contains(needle), "{target}: {body}");
    }
    // Settings change only through POST.
    let (status, _) = h.client.get("/plugin/fitbit/settings?client_id=EVIL").await;
    assert_eq!(status, 405);
    assert_eq!(
        h.host.stored("plugindata/fitbit").unwrap()["client_id"],
        FITBIT_ID
    );
    assert_eq!(
        h.cloud.requests().len(),
        calls_before,
        "no upstream call for bad input"
    );
    assert_eq!(h.host.stored("sensors/fitbit/jack"), sensors_before);
    assert!(h.host.stored("sensors/fitbit/jill").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_user_revokes_the_token_at_the_provider() {
    let h = Legacy::authorised(identity, "jack").await;
    h.client.delete_user("jack").await;
    assert!(h.cloud.is_revoked(DEFAULT_USER_ID, FITBIT_ID));
    assert!(h.host.stored(TOKEN).is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_share_one_refresh() {
    let h = with_short_lived_tokens("").await;
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let client = h.client.clone();
            tokio::spawn(async move { client.get(WEEK).await })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // The stored refresh token is the live one: the next run works too.
    let stored = h.host.stored(TOKEN).unwrap();
    assert_eq!(
        stored["refresh_token"].as_str(),
        h.cloud.refresh_token_of(DEFAULT_USER_ID).as_deref()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_action_updates_status() {
    let action =
        |config: HostConfig| config.action(1, "/plugin/fitbit?user=jack", Some("sensors/fitbit"));
    let h = Legacy::start(action).await;
    // Before authorisation the action fails, and says why.
    let status = h
        .host
        .status_when("sensors/fitbit", |s| s["alive"] == false)
        .await;
    assert!(
        status["errorMessage"]
            .as_str()
            .unwrap()
            .contains("403 Fitbitplugin requires"),
        "{status}"
    );
    assert!(status.get("lastFailure").is_some());
    h.configure("").await;
    h.authorise("jack").await;
    let status = h
        .host
        .status_when("sensors/fitbit", |s| s["alive"] == true)
        .await;
    assert_eq!(status["errorMessage"], "");
    assert!(status["lastSuccess"].as_u64().unwrap() >= status["lastFailure"].as_u64().unwrap());
    assert!(h.host.stored("sensors/fitbit/jack").is_some());
}
