//! Rate limits end to end, through the real binary against the fake
//! Google: the plugin keeps a user's requests within the quota itself (and
//! answers 429 with `Retry-After` instead of calling), and a scheduled
//! action answered 429 waits out the `Retry-After` instead of running at
//! its next interval.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::clouds::{self, GOOGLE_ID, GOOGLE_SECRET};
use common::{Client, Host, HostConfig};
use igor_host::config::StoreConfig;
use igor_host::store::postgres::PostgresConfig;
use igor_test_support::fake_google::InjectedError;
use igor_test_support::{FakeGoogle, postgres};

const API_CALLS: &str = "/v4/";

/// The fitbit plugin on the fake Google, allowing jack `per_minute`
/// requests (the default when `None`).
fn plugin_config(google: &FakeGoogle, per_minute: Option<&str>) -> HostConfig {
    let fitbit = clouds::google_plugin(google, None);
    let fitbit = match per_minute {
        Some(n) => fitbit.setting("google_user_requests_per_minute", n),
        None => fitbit,
    };
    HostConfig::new().plugin(fitbit)
}

/// A host on the fake Google allowing jack `per_minute`, jack authorised.
async fn authorised(google: &FakeGoogle, per_minute: Option<&str>) -> (Host, reqwest::Client) {
    authorised_on(google, plugin_config(google, per_minute)).await
}

/// A host with `config` and jack authorised at the fake Google.
async fn authorised_on(google: &FakeGoogle, config: HostConfig) -> (Host, reqwest::Client) {
    let host = Host::start(config).await;
    let client = Client::new(&host);
    let auth2 = client.url("/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
    let form = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
    client.settings(&form).await;
    client.authorise("jack", &google.authorize_url()).await;
    (host, client.http)
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, Option<String>, String) {
    let response = http.get(url).send().await.unwrap();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (
        response.status().as_u16(),
        retry_after,
        response.text().await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pacing_keeps_a_user_within_googles_quota() {
    let google = FakeGoogle::start().await;
    // Google allows jack 5 requests a minute; the plugin is told 3. The
    // margin covers the identity read while authorising (counted by Google
    // against jack, by the plugin only in the app's total) and a request
    // counted at the end of one minute that reaches Google in the next.
    let (host, http) = authorised(&google, Some("3")).await;
    google.set_quota_per_minute(5);
    google.clear_requests();
    let url = format!("{}/plugin/fitbit?user=jack", host.url);
    let mut refused = None;
    for _ in 0..20 {
        let (status, retry_after, body) = get(&http, &url).await;
        if status == 429 {
            refused = Some((retry_after, body));
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    let (retry_after, body) = refused.expect("the plugin refuses once the window is full");
    let seconds: u64 = retry_after.expect("a Retry-After").parse().unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert!(
        body.contains("3 requests a minute allowed per user"),
        "{body}"
    );
    // Google never had to refuse: the plugin stopped first.
    assert_eq!(google.quota_refusals(), 0, "{}", host.log());
    assert!(google.calls(API_CALLS) >= 3);
}

/// Waits, if need be, until at least 20 s of the current minute remain, so
/// that what follows happens in one minute of the plugin's window (the
/// next minute's would admit more); the minute and the slots jack has
/// used in it.
async fn a_minute_ahead(host: &Host) -> (i64, u64) {
    let into_minute = chrono::Utc::now().timestamp() % 60;
    if into_minute > 40 {
        tokio::time::sleep(Duration::from_secs(61 - into_minute as u64)).await;
    }
    let minute = chrono::Utc::now().timestamp() / 60;
    let used = host
        .stored("plugindata/fitbit/pacing")
        .filter(|p| p["minute"] == minute)
        .map_or(0, |p| p["users"]["jack"].as_u64().unwrap_or(0));
    (minute, used)
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_share_the_window_without_losing_a_count() {
    let google = FakeGoogle::start().await;
    let (host, http) = authorised(&google, Some("10")).await;
    // Google's own quota out of the way: what is counted is the plugin's.
    google.set_quota_per_minute(1_000);
    let (minute, used) = a_minute_ahead(&host).await;
    google.clear_requests();
    let url = format!("{}/plugin/fitbit?user=jack", host.url);
    let answers = futures_util::future::join_all((0..32).map(|_| get(&http, &url))).await;
    assert_eq!(
        chrono::Utc::now().timestamp() / 60,
        minute,
        "still one minute"
    );
    let refused = answers.iter().filter(|(status, ..)| *status == 429).count();
    assert!(refused > 0, "32 runs cannot fit in 10 requests");
    for (status, retry_after, body) in &answers {
        assert!(*status == 200 || *status == 429, "{status}: {body}");
        assert_eq!(retry_after.is_some(), *status == 429, "{body}");
    }
    // Every slot was counted once, and exactly the window reached Google.
    let pacing = host.stored("plugindata/fitbit/pacing").unwrap();
    assert_eq!(pacing["users"]["jack"], 10, "{pacing}");
    assert_eq!(google.calls(API_CALLS) as u64, 10 - used, "{}", host.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_sharing_postgres_share_the_window() {
    let url = postgres::cluster().database("pacing");
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys");
    let key: [u8; 32] = std::array::from_fn(|_| rand::random());
    std::fs::write(&key_file, format!("{}\n", BASE64.encode(key))).unwrap();
    let store = PostgresConfig {
        url: url.clone(),
        pool_size: 4,
        timeout_ms: 5000,
    };
    let google = FakeGoogle::start().await;
    let config = plugin_config(&google, Some("4")).edit(|config| {
        config.store = StoreConfig::Postgres(store);
        config.secrets.key_file = Some(key_file);
    });
    let (a, http) = authorised_on(&google, config.clone()).await;
    let b = Host::start(config).await;
    google.set_quota_per_minute(1_000);
    let (minute, used) = a_minute_ahead(&a).await;
    google.clear_requests();
    // Runs alternate between the hosts until one of them refuses; with a
    // window of its own, each host would let 4 through.
    for host in [&a, &b].into_iter().cycle().take(20) {
        let (status, retry_after, body) =
            get(&http, &format!("{}/plugin/fitbit?user=jack", host.url)).await;
        if status == 429 {
            assert!(retry_after.is_some(), "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(
        chrono::Utc::now().timestamp() / 60,
        minute,
        "still one minute"
    );
    assert_eq!(google.calls(API_CALLS) as u64, 4 - used, "{}", b.log());
    let pacing = b.stored("plugindata/fitbit/pacing").unwrap();
    assert_eq!(pacing["users"]["jack"], 4, "{pacing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_action_answered_429_waits_out_the_retry_after() {
    let google = FakeGoogle::start().await;
    let (host, _) = authorised(&google, None).await;
    // An action every second (added by a reload: it runs at once).
    let with_action = plugin_config(&google, None)
        .edit(|config| config.scheduler.first_run_spread_seconds = Some(0))
        .action(1, "/plugin/fitbit?user=jack", Some("sensors/fitbit"));
    host.rewrite(with_action);
    host.hangup();
    host.status_when("sensors/fitbit", |s| s["alive"] == true)
        .await;
    // It keeps its rhythm while Google answers.
    let before = google.calls(API_CALLS);
    while google.calls(API_CALLS) == before {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Google refuses a call and the plugin's retries of it (at most 4) 429
    // (as documented: no Retry-After), so the plugin answers 429 with
    // Retry-After: 60.
    google.inject_errors(InjectedError::RateLimited, 5);
    let status = host
        .status_when("sensors/fitbit", |s| s["resultStatus"] == 429)
        .await;
    assert_eq!(status["alive"], false, "{status}");
    let message = status["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("429 ") && message.contains("retry in 60 s"),
        "{status}"
    );
    // Five intervals later, Google has still not been called again: the
    // next run is due a minute after the refused one.
    let after = google.calls(API_CALLS);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(google.calls(API_CALLS), after, "{}", host.log());
    let unchanged = host.status_when("sensors/fitbit", |_| true).await;
    assert_eq!(unchanged["lastActivity"], status["lastActivity"]);
}
