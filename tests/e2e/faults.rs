//! Every upstream failure mode, injected at the fakes, through the real
//! host: timeouts, resets, 5xx, 429 with and without `Retry-After`, wrong
//! shapes, huge bodies and slow drips, at the data and the token endpoints
//! of both providers. Each gives a clear status, leaves what is stored as
//! it was, and the next run (as the scheduler makes it) succeeds.

use crate::common;

use std::time::Duration;

use common::clouds::{Google, Legacy};
use common::{Client, Host, HostConfig};
use igor_test_support::Fault;
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};
use serde_json::{Value, json};

const STORED: &[&str] = &[
    "sensors/fitbit/jack",
    "identities/jack/plugindata/fitbit/token",
    "identities/jack/plugindata/fitbit/sync",
];
/// A fetch timeout short enough to keep hangs and drips quick.
fn short_fetches(config: HostConfig) -> HostConfig {
    config.limits(|limits| limits.fetch_timeout_ms = 1500)
}

/// Faults of any endpoint and what the caller is told about each.
fn transport_faults() -> Vec<(Fault, &'static str)> {
    vec![
        (Fault::Hang, "timed out"),
        (Fault::SlowDrip(Duration::from_millis(200)), "timed out"),
        (Fault::Reset, "connection failed"),
        (Fault::Status(500), "500"),
        (Fault::Status(503), "503"),
        (Fault::HugeBody(5 << 20), "too large"),
    ]
}

/// Faults of a token endpoint and what the caller is told about each.
fn token_faults() -> Vec<(Fault, &'static str)> {
    let mut faults = transport_faults();
    faults.extend([
        (Fault::TooManyRequests(None), "rate limited"),
        (Fault::TooManyRequests(Some(120)), "try again in 120 s"),
        (
            Fault::WrongShape(json!({"token": "x"})),
            "without an access token",
        ),
    ]);
    faults
}

struct Run<'a> {
    host: &'a Host,
    client: &'a Client,
    target: &'a str,
}

/// What a fault of a data call or the token endpoint is answered: 429 with
/// `Retry-After` when upstream rate-limited it, 502 otherwise.
fn data_status(fault: &Fault) -> u16 {
    match fault {
        Fault::TooManyRequests(_) => 429,
        _ => 502,
    }
}

impl Run<'_> {
    async fn get(&self) -> (u16, String) {
        let (status, _, body) = self.get_with_retry_after().await;
        (status, body)
    }

    async fn get_with_retry_after(&self) -> (u16, Option<String>, String) {
        let url = self.client.url(self.target);
        let response = self.client.http.get(url).send().await.unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let status = response.status().as_u16();
        (status, retry_after, response.text().await.unwrap())
    }

    fn stored(&self) -> Vec<Option<Value>> {
        STORED.iter().map(|path| self.host.stored(path)).collect()
    }

    /// After a good run, arms a fault with `arm`, runs, and checks the
    /// answer (`expected`, and a `Retry-After` with a 429), the store, and
    /// that the next run succeeds.
    async fn check(&self, arm: impl Fn(), fault: &Fault, needle: &str, expected: u16) {
        let first = self.get().await;
        assert_eq!(first.0, 200, "before {fault:?}: {}", first.1);
        let stored = self.stored();
        arm();
        let (status, retry_after, body) = self.get_with_retry_after().await;
        assert_eq!(status, expected, "{fault:?}: {body}");
        assert_eq!(
            retry_after.is_some(),
            status == 429,
            "{fault:?}: {retry_after:?}"
        );
        assert!(body.contains(needle), "{fault:?}: {needle:?} not in {body}");
        assert!(body.len() < 2000, "{fault:?}: a bounded message");
        assert_eq!(self.stored(), stored, "{fault:?} changed what is stored");
        let (status, body) = self.get().await;
        assert_eq!(status, 200, "the run after {fault:?}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_fitbit_failures() {
    let Legacy {
        cloud: fake,
        host,
        client,
    } = Legacy::authorised(short_fetches, "jack").await;
    fake.set_rate_limit_quota(10_000);
    fake.add_weight(
        DEFAULT_USER_ID,
        WeightLog::new("2026-11-20", "07:00:00", 80.0),
    );
    let run = Run {
        host: &host,
        client: &client,
        target: "/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d",
    };
    let mut data_faults = transport_faults();
    data_faults.extend([
        (Fault::TooManyRequests(Some(1200)), "retry in 1200 s"),
        (Fault::TooManyRequests(None), "rate limit"),
        (
            Fault::WrongShape(json!({"weight": "lots"})),
            "get_bodyweight",
        ),
        (Fault::WrongShape(json!([1, 2])), "unexpected shape"),
    ]);
    for (fault, needle) in &data_faults {
        let arm = || fake.faults().inject("/1/user/", fault.clone(), 1);
        run.check(arm, fault, needle, data_status(fault)).await;
    }
    // At the token endpoint, during a reactive refresh.
    let token_faults = token_faults();
    for (fault, needle) in &token_faults {
        let arm = || {
            fake.expire_access_tokens();
            fake.faults().inject("/oauth2/token", fault.clone(), 1);
        };
        run.check(arm, fault, needle, data_status(fault)).await;
    }
    assert_eq!(
        fake.faults().injected().len(),
        data_faults.len() + token_faults.len()
    );
}

/// Google's 429, 503 and 504 are retried (`google_health.rs` shows it);
/// here retries are off, so each failure is seen as it comes.
fn without_retries(config: HostConfig) -> HostConfig {
    short_fetches(config).edit(|config| {
        for plugin in config.plugins.iter_mut().flatten() {
            plugin
                .config
                .insert("google_retry_seconds".into(), "0".into());
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn google_health_failures() {
    let Google {
        cloud: google,
        host,
        client,
    } = Google::authorised(without_retries, "jack").await;
    google.set_quota_per_minute(10_000);
    // The target asks for today's weigh-ins.
    let earlier_today = google.recent_instant(DEFAULT_HEALTH_USER_ID, chrono::Duration::hours(1));
    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        DataPoint::weight(&earlier_today, 80_000.0),
    );
    let run = Run {
        host: &host,
        client: &client,
        target: "/plugin/fitbit?user=jack",
    };
    let mut data_faults = transport_faults();
    data_faults.extend([
        (Fault::TooManyRequests(Some(60)), "quota"),
        (Fault::TooManyRequests(None), "quota"),
        (
            Fault::WrongShape(json!({"dataPoints": "lots"})),
            "get_bodyweight",
        ),
    ]);
    for (fault, needle) in &data_faults {
        let arm = || google.faults().inject("/v4/", fault.clone(), 1);
        run.check(arm, fault, needle, data_status(fault)).await;
    }
    let token_faults = token_faults();
    for (fault, needle) in &token_faults {
        let arm = || {
            google.expire_access_tokens();
            google.faults().inject("/token", fault.clone(), 1);
        };
        run.check(arm, fault, needle, data_status(fault)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scheduled_run_after_a_failure_succeeds() {
    let every_second = |config: HostConfig| {
        short_fetches(config).action(1, "/plugin/fitbit?user=jack", Some("sensors/fitbit"))
    };
    let Legacy {
        cloud: fake, host, ..
    } = Legacy::authorised(every_second, "jack").await;
    fake.set_rate_limit_quota(10_000);
    let alive = |s: &Value| s["alive"] == true;
    host.status_when("sensors/fitbit", alive).await;
    fake.faults().inject("/1/user/", Fault::Status(503), 1);
    // The failed run is recorded (the next one comes a second later) ...
    let failed = host
        .status_when("sensors/fitbit", |s| s["alive"] == false)
        .await;
    assert_eq!(failed["resultStatus"], 502, "{failed}");
    assert!(
        failed["errorMessage"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    // ... and the next scheduled run succeeds.
    let seen = host.status_when("sensors/fitbit", alive).await;
    assert_eq!(fake.faults().injected().len(), 1);
    assert!(seen["lastSuccess"].as_u64() >= failed["lastFailure"].as_u64());
}
