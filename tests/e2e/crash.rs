//! Crash injection: the real host is killed with SIGKILL at random points
//! while it refreshes single-use (legacy Fitbit) tokens and writes, 200
//! times, and restarted on the same data each time. After every restart the
//! store is whole, every document parses, and the first request is answered
//! with data: no refresh token was lost (a lost one answers `invalid_grant`
//! for ever after).
//!
//! A kill between the token endpoint's answer and its save is recovered by
//! Fitbit's identical-request grace (the fake's is 5 s): the lease of the
//! killed refresh expires after `token_lease_seconds` (2 s here), and the
//! next refresh sends the same refresh token and gets the same answer.
//! `CRASH_SEED` replays a run; the seed is printed.

use crate::common;

use std::time::Duration;

use common::clouds::{self, Legacy};
use common::{Host, HostConfig};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::{FakeFitbit, Fault};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const KILLS: usize = 200;

/// Every document of the store parses, and SQLite finds the file whole.
fn check_store(host: &Host) {
    let db = rusqlite::Connection::open(host.data_dir().join("store.sqlite")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut query = db.prepare("SELECT path, json FROM documents").unwrap();
    let rows = query
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .unwrap();
    for row in rows {
        let (path, json) = row.unwrap();
        serde_json::from_str::<serde_json::Value>(&json)
            .unwrap_or_else(|e| panic!("{path} does not parse ({e}): {json}"));
    }
}

/// A host whose legacy user jack has a weigh-in and whose every request
/// refreshes the token (30 s tokens count as expired: the refresh margin is
/// 60 s), one after another under a `lease_seconds` lease; and the URL of
/// jack's data.
async fn refreshing_on_every_request(
    lease_seconds: &str,
) -> (FakeFitbit, Host, reqwest::Client, String) {
    let fake = FakeFitbit::start().await;
    let plugin = clouds::fitbit_plugin(&fake).setting("token_lease_seconds", lease_seconds);
    let legacy = Legacy::on(fake, HostConfig::new().plugin(plugin)).await;
    legacy.cloud.set_rate_limit_quota(1_000_000);
    legacy
        .cloud
        .set_access_token_lifetime(Duration::from_secs(30));
    legacy.configure("").await;
    legacy.authorise("jack").await;
    let Legacy {
        cloud: fake,
        host,
        client,
    } = legacy;
    fake.add_weight(
        DEFAULT_USER_ID,
        WeightLog::new("2026-11-20", "07:00:00", 80.0),
    );
    let data = format!(
        "{}/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d",
        host.url
    );
    (fake, host, client.http, data)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_kills_lose_no_token_and_corrupt_nothing() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);

    let (fake, mut host, http, data) = refreshing_on_every_request("2").await;
    let settings = format!("{}/plugin/fitbit/userSettings", host.url);

    let mut answered_during_load = 0;
    for kill in 0..KILLS {
        check_store(&host);
        let response = http.get(&data).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(
            status,
            200,
            "after kill {kill} (CRASH_SEED={seed}): {body}\n{}",
            host.log()
        );
        // Load: refreshing reads and a settings write, killed at a random
        // point while they run. Now and then the token endpoint answers
        // late, so that kills land between its answer and the save.
        if kill % 3 == 0 {
            fake.faults().inject(
                "/oauth2/token",
                Fault::SlowAnswer(Duration::from_millis(30)),
                2,
            );
        }
        let mut load = Vec::new();
        for i in 0..4 {
            let http = http.clone();
            let (data, settings) = (data.clone(), settings.clone());
            load.push(tokio::spawn(async move {
                let sent = if i == 0 {
                    let period = format!("{}d", [1, 7, 30][kill % 3]);
                    let form = [("user", "jack"), ("period", period.as_str())];
                    http.post(settings).form(&form).send().await
                } else {
                    http.get(data).send().await
                };
                sent.is_ok_and(|r| r.status().is_success())
            }));
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..80))).await;
        host.crash();
        fake.faults().clear();
        for task in load {
            answered_during_load += usize::from(task.await.unwrap_or(false));
        }
        host.restart().await;
    }
    check_store(&host);
    let response = http.get(&data).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let stored = host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(
        stored["refresh_token"].as_str(),
        fake.refresh_token_of(DEFAULT_USER_ID).as_deref(),
        "the stored refresh token is the live one"
    );
    println!(
        "{KILLS} kills; {answered_during_load} of {} requests under load finished before their kill; {} refreshes",
        KILLS * 4,
        fake.token_requests()
    );
}

/// A refresh cut off by SIGKILL leaves its lease behind. The lease names
/// the host process that took it, and the restarted host knows that process
/// has stopped: the next request takes the lease over at once instead of
/// waiting out `token_lease_seconds` (ten minutes here, far beyond the
/// request's deadline, so waiting would end in a 503).
#[tokio::test(flavor = "multi_thread")]
async fn a_lease_dies_with_the_killed_host() {
    let (fake, mut host, http, data) = refreshing_on_every_request("600").await;
    // The token endpoint never answers this refresh: it holds the lease
    // until the host is killed.
    fake.faults().inject("/oauth2/token", Fault::Hang, 1);
    let cut_off = tokio::spawn({
        let (http, data) = (http.clone(), data.clone());
        async move { http.get(data).send().await.map(|r| r.status()) }
    });
    let lease = "identities/jack/plugindata/fitbit/token_lease";
    while host.stored(lease).is_none() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    host.crash();
    assert!(cut_off.await.unwrap().is_err(), "killed before it answered");
    host.restart().await;
    let response = http.get(&data).send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", host.log());
}
