//! The fitbit plugin with the Google Health provider, end to end: the real
//! igor-host binary over HTTP against the fake Google OAuth and Health API,
//! and a mixed installation migrating from the (shut down) legacy API.

mod common;

use chrono::{SecondsFormat, Utc};
use common::{Host, clouds};
use igor_test_support::fake_fitbit::WeightLog;
use igor_test_support::fake_google::{
    DEFAULT_HEALTH_USER_ID, DEFAULT_LEGACY_USER_ID, DataPoint, InjectedError, SCOPE_ACTIVITY,
    SCOPE_METRICS, SCOPE_SLEEP,
};
use igor_test_support::{FakeFitbit, FakeGoogle, consent};
use serde_json::Value;

const GOOGLE_ID: &str = "123-abc.apps.googleusercontent.com";
const GOOGLE_SECRET: &str = "GOCSPX-google-secret";
const FITBIT_ID: &str = "22ABCD";
const FITBIT_SECRET: &str = "fitbit-secret";

struct Harness {
    host: Host,
    http: reqwest::Client,
}

impl Harness {
    async fn start(config: &str) -> Self {
        Self::start_with(config, "").await
    }

    /// With extra `[server]` keys (`base_url = ...`).
    async fn start_with(config: &str, server: &str) -> Self {
        Self {
            host: Host::start_with(config, server).await,
            http: clouds::browser(),
        }
    }

    fn auth2(&self) -> String {
        format!("{}/plugin/fitbit/auth2", self.host.url)
    }

    async fn get(&self, target: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{target}", self.host.url))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn settings(&self, form: &[(&str, &str)]) {
        clouds::post_settings(&self.http, &self.host.url, form).await;
    }

    /// auth1 → consent page → Allow → auth2; returns the authorize URL.
    async fn authorise(&self, user: &str, provider_prefix: &str) -> url::Url {
        clouds::authorise(&self.http, &self.host.url, user, provider_prefix)
            .await
            .0
    }
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
async fn google_health_end_to_end() {
    let google = FakeGoogle::start().await;
    let h = Harness::start(&clouds::google_config(&google, None)).await;
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&h.auth2()]);
    // A new installation uses Google Health by default.
    h.settings(&[("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)])
        .await;
    let (_, page) = h.get("/plugin/fitbit/page/setup.html?user=jack").await;
    assert!(
        page.contains("console.cloud.google.com") || page.contains("Google Cloud"),
        "{page}"
    );
    assert!(page.contains(&h.auth2()) && !page.contains(GOOGLE_SECRET));

    let authorize = h.authorise("jack", &google.authorize_url()).await;
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
    let exchange = google
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/token"))
        .unwrap();
    assert_eq!(exchange.form_value("client_secret"), Some(GOOGLE_SECRET));
    assert_eq!(exchange.form_value("client_id"), Some(GOOGLE_ID));
    assert!(exchange.form_value("code_verifier").is_some());
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(token["provider"], "google-health");
    assert_eq!(token["healthUserId"], DEFAULT_HEALTH_USER_ID);
    assert_eq!(token["legacyUserId"], DEFAULT_LEGACY_USER_ID);
    let refresh_token = token["refresh_token"].clone();

    // Weight in the legacy log shape, kilograms from grams, across pages
    // (including empty pages that still carry a token).
    for (hours, grams) in [(50, 80_400.0), (26, 80_100.0), (2, 79_900.0)] {
        google.add_data_point(
            DEFAULT_HEALTH_USER_ID,
            DataPoint::weight(&hours_ago(hours), grams),
        );
    }
    google.insert_empty_pages(2);
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 200, "{body}");
    let list = weights(&body);
    assert_eq!(list.len(), 3, "{body}");
    assert!(
        (list[2]["weight"].as_f64().unwrap() - 79.9).abs() < 0.01,
        "{body}"
    );
    for field in ["date", "time", "logId", "source"] {
        assert!(list[0].get(field).is_some(), "{field} missing: {body}");
    }
    assert_eq!(
        h.host.stored("sensors/fitbit/jack").unwrap()["weight"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Incremental: an up-to-date run lists once, from the last sample, and
    // merges the new point into the stored window.
    google.clear_requests();
    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        DataPoint::weight(&hours_ago(1), 79_800.0),
    );
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(weights(&body).len(), 4, "{body}");
    let calls = list_calls(&google, "weight");
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(calls[0].contains(">="), "{calls:?}");

    // Daily roll-ups in the legacy time-series shape, values as strings.
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    let series: Value = serde_json::from_str(&body).unwrap();
    let days = series["body-weight"].as_array().unwrap();
    assert!(
        !days.is_empty() && days.iter().all(|d| d["value"].is_string()),
        "{body}"
    );

    // A resource Google cannot serve: 400 naming the available ones, nothing sent.
    google.clear_requests();
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=foods/log/water&period=7d")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("foods/log/water") && body.contains("body/bmi"),
        "{body}"
    );
    assert!(google.requests().is_empty());

    // 401 → refresh once (Google does not rotate refresh tokens) → retry.
    google.expire_access_tokens();
    let before = google.token_requests();
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(google.token_requests(), before + 1);
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(token["refresh_token"], refresh_token);

    // Errors are explained, without retry storms.
    for (error, needle) in [
        (InjectedError::RateLimited, "300"),
        (InjectedError::ScopeInsufficient, "auth1?user=jack"),
        (InjectedError::AccountNotLinked, "not linked"),
    ] {
        google.clear_requests();
        google.inject_errors(error, 1);
        let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
        let expected = if error == InjectedError::RateLimited {
            429
        } else {
            502
        };
        assert_eq!(status, expected, "{body}");
        assert!(body.contains(needle), "{needle}: {body}");
        assert!(list_calls(&google, "weight").len() <= 1, "retried");
    }

    // A dead refresh token: a clear message, nothing stored changed.
    google.expire_refresh_tokens();
    google.expire_access_tokens();
    let token_before = h.host.stored("identities/jack/plugindata/fitbit/token");
    let sensors_before = h.host.stored("sensors/fitbit/jack");
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("invalid_grant") && body.contains("7 days"),
        "{body}"
    );
    assert_eq!(
        h.host.stored("identities/jack/plugindata/fitbit/token"),
        token_before
    );
    assert_eq!(h.host.stored("sensors/fitbit/jack"), sensors_before);

    // Deleting the user revokes the token.
    let response = h
        .http
        .post(format!("{}/plugin/fitbit/userSettings", h.host.url))
        .form(&[("user", "jack"), ("delete", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(google.calls("/revoke"), 1);
    assert!(
        h.host
            .stored("identities/jack/plugindata/fitbit/token")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_installation_migrates_from_the_legacy_api() {
    let google = FakeGoogle::start().await;
    let fitbit = FakeFitbit::start().await;
    let h = Harness::start(&clouds::google_config(&google, Some(&fitbit))).await;
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&h.auth2()]);
    fitbit.register_client(FITBIT_ID, FITBIT_SECRET, &[&h.auth2()]);

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
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("2026-11-02") && body.contains("google-health"),
        "{body}"
    );
    let (_, page) = h.get("/plugin/fitbit/page/setup.html?user=jack").await;
    assert!(page.contains("Google Health"), "{page}");

    // Re-authorising replaces the legacy token; Jack's data flows again.
    h.authorise("jack", &google.authorize_url()).await;
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(token["provider"], "google-health");
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 200, "{body}");
}

/// The host's status of `representing`, once `ready` holds (actions run in
/// the background).
async fn status_when(h: &Harness, representing: &str, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let (code, body) = h.get(&format!("/status/{representing}")).await;
        if code == 200 {
            let status: Value = serde_json::from_str(&body).unwrap();
            if ready(&status) {
                return status;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no such status of {representing}; host log:\n{}",
        h.host.log()
    );
}

#[test]
fn the_plugin_and_the_fake_agree_on_googles_redirect_rules() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let google = rt.block_on(FakeGoogle::start());
    for uri in [
        "https://igor.example.com/plugin/fitbit/auth2",
        "https://home.example.org:8443/tenants/smiths/plugin/fitbit/auth2",
        "http://localhost:9333/plugin/fitbit/auth2",
        "http://127.0.0.1:9333/plugin/fitbit/auth2",
        "http://127.1.2.3/plugin/fitbit/auth2",
        "http://[::1]:9333/plugin/fitbit/auth2",
        "http://igor.local:9333/plugin/fitbit/auth2",
        "http://192.168.1.20:9333/plugin/fitbit/auth2",
        "https://192.168.1.20:9333/plugin/fitbit/auth2",
        "https://[fd00::20]/plugin/fitbit/auth2",
        "https://igor.local/plugin/fitbit/auth2",
        "https://igor.lan/plugin/fitbit/auth2",
        "https://igor.home/plugin/fitbit/auth2",
        "https://igor.internal/plugin/fitbit/auth2",
        "https://igor.home.arpa/plugin/fitbit/auth2",
        "https://igor/plugin/fitbit/auth2",
        "https://x.googleusercontent.com/plugin/fitbit/auth2",
        "https://igor.example.com/plugin/fitbit/auth2#x",
        "https://*.example.com/plugin/fitbit/auth2",
        "https://me@igor.example.com/plugin/fitbit/auth2",
        "https://igor.example.com/plugin/../fitbit/auth2",
        "https://igor.example.com/plugin/%2e%2e/fitbit/auth2",
        "https://igor.example.com/plugin/fitbit/auth2%",
        "https://igor.example.com/plugin/fitbit/auth2%00",
        "https://igor.example.com/plugin/fitbit/auth2?next=https://evil.example/",
        "ftp://igor.example.com/plugin/fitbit/auth2",
    ] {
        let plugin = fitbit::redirect::google_refusal(uri);
        let console = google.try_register_client("cid", "s", &[uri]);
        assert_eq!(
            plugin.is_none(),
            console.is_ok(),
            "{uri}: plugin {plugin:?}, console {console:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lan_installation_registers_loopback_and_completes_by_pasting() {
    let google = FakeGoogle::start().await;
    // Igor (or the host) as the LAN knows it; nothing listens on localhost
    // at that port here, as on the owner's laptop.
    let port = common::free_port();
    let base = format!("http://igor.local:{port}");
    let h = Harness::start_with(
        &clouds::google_config(&google, None),
        &format!("base_url = \"{base}\""),
    )
    .await;
    let refused = google
        .try_register_client(
            GOOGLE_ID,
            GOOGLE_SECRET,
            &[&format!("{base}/plugin/fitbit/auth2")],
        )
        .unwrap_err();
    assert!(refused.contains("https"), "{refused}");
    h.settings(&[("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)])
        .await;
    let loopback = format!("http://localhost:{port}/plugin/fitbit/auth2");
    let (_, page) = h.get("/plugin/fitbit/page/setup.html").await;
    assert!(page.contains("Google will refuse this base URL"), "{page}");
    assert!(page.contains(&format!("<code>{loopback}</code>")), "{page}");

    // Registered with another URI only: Google's error page.
    google.register_client(
        GOOGLE_ID,
        GOOGLE_SECRET,
        &["https://igor.example.com/plugin/fitbit/auth2"],
    );
    let (_, started) = h.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let blocked = consent(&h.http, &authorize).await.unwrap_err().to_string();
    assert!(
        blocked.contains("Error 400: redirect_uri_mismatch"),
        "{blocked}"
    );

    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&loopback]);
    let (_, started) = h.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let landed = consent(&h.http, &authorize).await.unwrap();
    assert!(landed.starts_with(&format!("{loopback}?")), "{landed}");
    assert!(
        h.http.get(&landed).send().await.is_err(),
        "nothing answers at the loopback address"
    );
    let paste = |address: String| {
        h.http
            .post(format!("{}/plugin/fitbit/auth2", h.host.url))
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
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert!(token["granted_at"].as_f64().is_some(), "{token}");
    let again = paste(landed).await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already used"));

    google.add_data_point(
        DEFAULT_HEALTH_USER_ID,
        DataPoint::weight(&hours_ago(2), 80_000.0),
    );
    let (status, body) = h.get("/plugin/fitbit?user=jack&period=7d").await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_base_url_behind_a_proxy_keeps_the_direct_redirect() {
    let google = FakeGoogle::start().await;
    let base = "https://igor.example.com";
    let h = Harness::start_with(
        &clouds::google_config(&google, None),
        &format!("base_url = \"{base}\""),
    )
    .await;
    let redirect = format!("{base}/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&redirect]);
    h.settings(&[("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)])
        .await;
    let (_, page) = h.get("/plugin/fitbit/page/setup.html").await;
    assert!(!page.contains("Google will refuse"), "{page}");
    assert!(page.contains(&format!("<code>{redirect}</code>")));
    let (_, started) = h.get("/plugin/fitbit/auth1?user=jack").await;
    let authorize = started.trim().strip_prefix("See ").unwrap().to_string();
    let back = consent(&h.http, &authorize).await.unwrap();
    // The proxy passes https://igor.example.com/... on to the host.
    let path_and_query = back.strip_prefix(base).unwrap();
    let (status, page) = h.get(path_and_query).await;
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
    let google = FakeGoogle::start().await;
    let h = Harness::start(&clouds::google_config(&google, None)).await;
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&h.auth2()]);
    google.set_testing_mode(GOOGLE_ID, true);
    h.settings(&[("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)])
        .await;
    h.authorise("jack", &google.authorize_url()).await;

    // Sleep was not part of jack's consent: 403 with the link that adds it.
    google.clear_requests();
    let (status, body) = h.get("/plugin/fitbit?user=jack&methods=sleep").await;
    assert_eq!(status, 403, "{body}");
    let link = format!(
        "{}/plugin/fitbit/auth1?user=jack&scope=sleep.readonly",
        h.host.url
    );
    assert!(body.contains(&link), "{body}");
    assert!(google.requests().is_empty());
    let started = h.http.get(&link).send().await.unwrap();
    let location = started.headers()["location"].to_str().unwrap().to_string();
    let back = consent(&h.http, &location).await.unwrap();
    assert_eq!(h.http.get(&back).send().await.unwrap().status(), 200);
    let query = google.last_authorize_query().unwrap();
    assert!(query.contains(&("include_granted_scopes".into(), "true".into())));
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    let scopes = token["scope"].as_str().unwrap();
    assert!(
        scopes.contains(SCOPE_METRICS) && scopes.contains(SCOPE_SLEEP),
        "the new token keeps what was granted: {scopes}"
    );
    let (status, body) = h.get("/plugin/fitbit?user=jack&methods=sleep").await;
    assert_eq!(status, 200, "{body}");

    // Seven days later Google ends the Testing grant, in its own words; the
    // scheduled action's status tells the owner what to do. (An action
    // added by a reload runs at once with no spread, then every second.)
    google.advance_clock(std::time::Duration::from_secs(7 * 24 * 3600 + 60));
    let action = "[scheduler]\nfirst_run_spread_seconds = 0\n[[action]]\ninterval = 1\nurl = \"/plugin/fitbit?user=jack\"\nrepresenting = \"sensors/fitbit\"\n";
    h.host
        .write_config(&format!("{}{action}", clouds::google_config(&google, None)));
    h.host.hangup();
    let status = status_when(&h, "sensors/fitbit", |s| s.get("notice").is_some()).await;
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
    let (_, page) = h.get("/plugin/fitbit/page/setup.html").await;
    assert!(page.contains("authorise jack again since "), "{page}");

    // One click renews access; the next run clears the notice.
    h.authorise("jack", &google.authorize_url()).await;
    let status = status_when(&h, "sensors/fitbit", |s| {
        s["alive"] == true && s.get("notice").is_none()
    })
    .await;
    assert_eq!(status["errorMessage"], "");
}
