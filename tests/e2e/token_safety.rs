//! No token is lost, end to end through the real host: a hundred concurrent
//! requests for one user with an expired token make exactly one upstream
//! refresh (both providers), and a token answer that arrives after the
//! request's deadline is still saved.

use crate::common;

use std::convert::identity;
use std::time::{Duration, Instant};

use common::clouds::{self, Google, Legacy};
use common::{Client, Host, HostConfig};
use igor_host::config::StoreConfig;
use igor_test_support::Fault;
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;

const TOKEN: &str = "identities/jack/plugindata/fitbit/token";
const WEEK: &str = "/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d";

/// A host with jack authorised at the fake Fitbit, holding a token that
/// has expired (by the refresh margin) while new ones last 8 hours.
async fn legacy_with_expired_token(more: impl FnOnce(HostConfig) -> HostConfig) -> Legacy {
    let legacy = Legacy::start(more).await;
    let fake = &legacy.cloud;
    fake.set_access_token_lifetime(Duration::from_secs(30));
    legacy.configure("").await;
    legacy.authorise("jack").await;
    fake.set_access_token_lifetime(Duration::from_secs(28_800));
    // A second refresh with a used refresh token is refused outright.
    fake.set_grace(Duration::ZERO);
    fake.add_weight(
        DEFAULT_USER_ID,
        WeightLog::new("2026-11-20", "07:00:00", 80.0),
    );
    legacy
}

/// `count` concurrent GETs of `target`, spread over `clients`; their
/// statuses and bodies, and the longest time one took.
async fn concurrently(
    clients: &[&Client],
    target: &'static str,
    count: usize,
) -> (Vec<(u16, String)>, Duration) {
    let calls: Vec<_> = (0..count)
        .map(|i| {
            let client = clients[i % clients.len()].clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let answer = client.get(target).await;
                (answer, started.elapsed())
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut longest = Duration::ZERO;
    for call in calls {
        let (answer, took) = call.await.unwrap();
        answers.push(answer);
        longest = longest.max(took);
    }
    (answers, longest)
}

fn assert_all_ok(answers: &[(u16, String)]) {
    for (status, body) in answers {
        assert_eq!(*status, 200, "{body}");
        assert!(!body.contains("invalid_grant"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_legacy_requests_refresh_once() {
    let Legacy {
        cloud: fake,
        host,
        client,
    } = legacy_with_expired_token(identity).await;
    let before = fake.token_requests();
    // A slow token endpoint: everyone else arrives while the refresh runs.
    fake.faults().inject(
        "/oauth2/token",
        Fault::SlowAnswer(Duration::from_millis(300)),
        1,
    );
    let (answers, longest) = concurrently(&[&client], WEEK, 100).await;
    assert_all_ok(&answers);
    assert_eq!(fake.token_requests(), before + 1, "exactly one refresh");
    assert_eq!(
        host.stored(TOKEN).unwrap()["refresh_token"].as_str(),
        fake.refresh_token_of(DEFAULT_USER_ID).as_deref(),
        "the saved refresh token is the live one"
    );
    println!("100 concurrent legacy requests, one refresh: slowest took {longest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hosts_on_one_store_refresh_once() {
    let Legacy {
        cloud: fake,
        host,
        client,
    } = legacy_with_expired_token(identity).await;
    // A second host process on the same SQLite store, with the same key
    // for the secrets sealed in it.
    let shared = HostConfig::new()
        .plugin(clouds::fitbit_plugin(&fake))
        .edit(|config| {
            let path = Some(host.data_dir().join("store.sqlite"));
            config.store = StoreConfig::Sqlite { path };
            config.secrets.key_file = Some(host.data_dir().join("secret.key"));
        });
    let other = Host::start(shared).await;
    let before = fake.token_requests();
    fake.faults().inject(
        "/oauth2/token",
        Fault::SlowAnswer(Duration::from_millis(300)),
        1,
    );
    let (answers, _) = concurrently(&[&client, &Client::new(&other)], WEEK, 40).await;
    assert_all_ok(&answers);
    assert_eq!(
        fake.token_requests(),
        before + 1,
        "one refresh for both hosts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_google_requests_refresh_once() {
    let h = Google::start(identity).await;
    h.cloud.set_access_token_lifetime(Duration::from_secs(30));
    h.configure().await;
    h.authorise("jack").await;
    let Google {
        cloud: google,
        host,
        client,
    } = h;
    google.set_access_token_lifetime(Duration::from_secs(3600));
    let refresh_token = host.stored(TOKEN).unwrap()["refresh_token"].clone();
    let before = google.token_requests();
    google
        .faults()
        .inject("/token", Fault::SlowAnswer(Duration::from_millis(300)), 1);
    // One roll-up call per request keeps 100 requests within Google's
    // 300 requests per minute and user.
    let target = "/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=7d";
    let (answers, longest) = concurrently(&[&client], target, 100).await;
    assert_all_ok(&answers);
    assert_eq!(google.token_requests(), before + 1, "exactly one refresh");
    // Google does not rotate refresh tokens: the stored one stays.
    assert_eq!(host.stored(TOKEN).unwrap()["refresh_token"], refresh_token);
    assert!(!google.refresh_tokens_of(DEFAULT_HEALTH_USER_ID).is_empty());
    println!("100 concurrent Google requests, one refresh: slowest took {longest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_answer_after_the_deadline_is_still_saved() {
    // The token endpoint answers 2.5 s after it rotated the refresh token;
    // the request's deadline is 1 s.
    let one_second = |config: HostConfig| config.limits(|limits| limits.request_timeout_ms = 1000);
    let Legacy {
        cloud: fake,
        host,
        client,
    } = legacy_with_expired_token(one_second).await;
    let used = host.stored(TOKEN).unwrap()["refresh_token"].clone();
    fake.faults().inject(
        "/oauth2/token",
        Fault::SlowAnswer(Duration::from_millis(2500)),
        1,
    );
    let (status, _) = client.get(WEEK).await;
    assert_eq!(status, 504, "the request itself is past its deadline");
    assert!(
        fake.used_refresh_tokens()
            .contains(&used.as_str().unwrap().to_string())
    );
    // ... but the rotated token was saved before the request was stopped.
    let saved = host.stored(TOKEN).unwrap();
    assert_ne!(saved["refresh_token"], used);
    assert_eq!(
        saved["refresh_token"].as_str(),
        fake.refresh_token_of(DEFAULT_USER_ID).as_deref()
    );
    // The next request uses it without refreshing again.
    let refreshes = fake.token_requests();
    let (status, body) = client.get(WEEK).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.token_requests(), refreshes);
}
