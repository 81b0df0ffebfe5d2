//! Rate limits end to end, through the real binary against the fake
//! Google: the plugin keeps a user's requests within the quota itself (and
//! answers 429 with `Retry-After` instead of calling), and a scheduled
//! action answered 429 waits out the `Retry-After` instead of running at
//! its next interval.

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{Host, clouds};
use igor_test_support::fake_google::InjectedError;
use igor_test_support::{FakeGoogle, postgres};
use serde_json::Value;

const API_CALLS: &str = "/v4/";

/// The fitbit plugin on the fake Google, with `settings` (lines of
/// `[plugin.config]`).
fn plugin_config(google: &FakeGoogle, settings: &str) -> String {
    clouds::google_config(google, None)
        .replace("[plugin.config]\n", &format!("[plugin.config]\n{settings}"))
}

/// A host on the fake Google with `settings` and jack authorised.
async fn authorised(google: &FakeGoogle, settings: &str) -> (Host, reqwest::Client) {
    authorised_on(google, &plugin_config(google, settings)).await
}

/// A host with `config` and jack authorised at the fake Google.
async fn authorised_on(google: &FakeGoogle, config: &str) -> (Host, reqwest::Client) {
    let host = Host::start(config).await;
    let http = clouds::browser();
    clouds::authorised_google(google, &host.url, &http, "jack").await;
    (host, http)
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
    let (host, http) = authorised(&google, "google_user_requests_per_minute = \"3\"\n").await;
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
    let (host, http) = authorised(&google, "google_user_requests_per_minute = \"10\"\n").await;
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
    let store = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npool_size = 4\n[secrets]\nkey_file = {:?}\n",
        key_file.display().to_string()
    );
    let google = FakeGoogle::start().await;
    let config = format!(
        "{store}{}",
        plugin_config(&google, "google_user_requests_per_minute = \"4\"\n")
    );
    let (a, http) = authorised_on(&google, &config).await;
    let b = Host::start(&config).await;
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

async fn status_when(http: &reqwest::Client, host: &Host, ready: impl Fn(&Value) -> bool) -> Value {
    let url = format!("{}/status/sensors/fitbit", host.url);
    for _ in 0..300 {
        let (code, _, body) = get(http, &url).await;
        if code == 200 {
            let status: Value = serde_json::from_str(&body).unwrap();
            if ready(&status) {
                return status;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no such status; host log:\n{}", host.log());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_action_answered_429_waits_out_the_retry_after() {
    let google = FakeGoogle::start().await;
    let (host, http) = authorised(&google, "").await;
    // An action every second (added by a reload: it runs at once).
    let action = "[scheduler]\nfirst_run_spread_seconds = 0\n[[action]]\ninterval = 1\nurl = \"/plugin/fitbit?user=jack\"\nrepresenting = \"sensors/fitbit\"\n";
    host.write_config(&format!("{}{action}", clouds::google_config(&google, None)));
    host.hangup();
    status_when(&http, &host, |s| s["alive"] == true).await;
    // It keeps its rhythm while Google answers.
    let before = google.calls(API_CALLS);
    while google.calls(API_CALLS) == before {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Google refuses one call 429 (as documented: no Retry-After), so the
    // plugin answers 429 with Retry-After: 60.
    google.inject_errors(InjectedError::RateLimited, 1);
    let status = status_when(&http, &host, |s| s["resultStatus"] == 429).await;
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
    let unchanged = status_when(&http, &host, |_| true).await;
    assert_eq!(unchanged["lastActivity"], status["lastActivity"]);
}
