//! The fitbit plugin with the legacy Fitbit provider, end to end: the real
//! igor-host binary over HTTP against the fake Fitbit Web API and OAuth.

mod common;

use std::time::Duration;

use common::{Host, clouds};
use igor_test_support::FakeFitbit;
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use serde_json::Value;

const CLIENT_ID: &str = "22ABCD";
const CLIENT_SECRET: &str = "fitbit-client-secret";

struct Harness {
    fake: FakeFitbit,
    host: Host,
    http: reqwest::Client,
}

impl Harness {
    async fn start(extra: &str) -> Self {
        let fake = FakeFitbit::start().await;
        let host = Host::start(&clouds::fitbit_config(&fake, extra)).await;
        fake.register_client(
            CLIENT_ID,
            CLIENT_SECRET,
            &[&format!("{}/plugin/fitbit/auth2", host.url)],
        );
        let http = clouds::browser();
        Self { fake, host, http }
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

    async fn post(&self, target: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{target}", self.host.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn configure(&self, system: &str) {
        let response = self
            .post(
                "/plugin/fitbit/settings",
                &[
                    ("client_id", CLIENT_ID),
                    ("client_secret", CLIENT_SECRET),
                    ("system", system),
                    ("provider", "fitbit"),
                ],
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// auth1 → the fake's consent page → Allow → auth2.
    async fn authorise(&self, user: &str) {
        let authorize = self.fake.authorize_url();
        clouds::authorise(&self.http, &self.host.url, user, &authorize).await;
    }

    fn add_week_of_weights(&self) {
        for (day, kg) in [
            ("2026-11-18", 80.4),
            ("2026-11-20", 80.1),
            ("2026-11-22", 79.9),
        ] {
            self.fake
                .add_weight(DEFAULT_USER_ID, WeightLog::new(day, "07:12:33", kg));
        }
    }
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
async fn authorise_fetch_refresh_and_fail_clearly() {
    let h = Harness::start("").await;
    h.configure("en_GB").await;
    // The setup page never shows the secret.
    let (status, page) = h.get("/plugin/fitbit/page/setup.html?user=jack").await;
    assert_eq!(status, 200);
    assert!(page.contains(CLIENT_ID) && !page.contains(CLIENT_SECRET));
    assert!(
        h.host
            .stored("plugindata/fitbit")
            .unwrap()
            .get("client_secret")
            .is_none()
    );

    // Short-lived tokens: every call below refreshes proactively.
    h.fake.set_access_token_lifetime(Duration::from_secs(30));
    h.authorise("jack").await;
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(token["provider"], "fitbit");
    assert_eq!(token["user_id"], DEFAULT_USER_ID);
    let first_refresh_token = token["refresh_token"].as_str().unwrap().to_string();
    // The code exchange used PKCE and HTTP Basic client authentication.
    let exchange = h
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/oauth2/token")
        .unwrap();
    assert_eq!(
        exchange.basic_auth(),
        Some((CLIENT_ID.into(), CLIENT_SECRET.into()))
    );
    assert!(exchange.form_value("code_verifier").is_some());

    h.add_week_of_weights();
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    // en_GB: stone.
    let stone = weights(&body);
    assert_eq!(stone.len(), 3);
    assert!((stone[1] - 80.1 / 6.35029318).abs() < 0.01, "{stone:?}");
    assert_eq!(
        h.host.stored("sensors/fitbit/jack").unwrap(),
        serde_json::from_str::<Value>(&body).unwrap()
    );
    // Proactive refresh: the first refresh token was exchanged and the new
    // one saved before the data call.
    assert!(h.fake.used_refresh_tokens().contains(&first_refresh_token));
    let token = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_ne!(token["refresh_token"], first_refresh_token.as_str());
    let data_call = h
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.path.starts_with("/1/user/"))
        .unwrap();
    assert_eq!(data_call.header("accept-language"), Some("en_GB"));

    // Reactive refresh: the provider expires the access token early.
    h.fake.set_access_token_lifetime(Duration::from_secs(28800));
    let (status, _) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
        .await;
    assert_eq!(status, 200);
    let before = h.fake.token_requests();
    h.fake.expire_all_access_tokens();
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.fake.token_requests(), before + 1);

    // Units follow `system`.
    for (system, factor) in [("en_US", 2.20462262), ("nl_NL", 1.0)] {
        let response = h
            .post("/plugin/fitbit/settings", &[("system", system)])
            .await;
        assert_eq!(response.status(), 200);
        let (_, body) = h
            .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
            .await;
        let values = weights(&body);
        assert!(
            (values[1] - 80.1 * factor).abs() < 0.02,
            "{system}: {values:?}"
        );
    }

    // A refresh token used elsewhere: a clear re-authorise error, nothing changed.
    h.fake.set_grace(Duration::ZERO);
    let stolen = h.fake.refresh_token_of(DEFAULT_USER_ID).unwrap();
    let used = reqwest::Client::new()
        .post(format!("{}/oauth2/token", h.fake.url()))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &stolen)])
        .send()
        .await
        .unwrap();
    assert_eq!(used.status(), 200);
    h.fake.expire_all_access_tokens();
    let token_before = h.host.stored("identities/jack/plugindata/fitbit/token");
    let sensors_before = h.host.stored("sensors/fitbit/jack");
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
        .await;
    assert_eq!(status, 502, "{body}");
    assert!(
        body.contains("invalid_grant") && body.contains("auth1?user=jack"),
        "{body}"
    );
    assert_eq!(
        h.host.stored("identities/jack/plugindata/fitbit/token"),
        token_before
    );
    assert_eq!(h.host.stored("sensors/fitbit/jack"), sensors_before);

    // Re-authorising recovers.
    h.authorise("jack").await;
    let (status, _) = h
        .get("/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d")
        .await;
    assert_eq!(status, 200);

    // The shutdown: a 410 everywhere, answered with the migration message.
    let sensors_before = h.host.stored("sensors/fitbit/jack");
    h.fake.set_shut_down(true);
    let (status, body) = h.get("/plugin/fitbit?user=jack").await;
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
async fn defaults_and_every_bad_input() {
    let h = Harness::start("").await;
    h.configure("").await;
    h.authorise("jack").await;
    // Default method and date: today's weight log, in the host's local date.
    let today = chrono::Local::now().date_naive().to_string();
    h.fake
        .add_weight(DEFAULT_USER_ID, WeightLog::new(&today, "06:30:00", 81.0));
    let (status, body) = h.get("/plugin/fitbit?user=jack").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        h.fake
            .requests()
            .iter()
            .any(|r| r.path == format!("/1/user/-/body/log/weight/date/{today}.json"))
    );
    // The readme's time series: body-weight with string values.
    let (status, body) = h
        .get("/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&base_date=2026-11-20&period=7d")
        .await;
    assert_eq!(status, 200, "{body}");
    let series: Value = serde_json::from_str(&body).unwrap();
    assert!(series["body-weight"][0]["value"].is_string(), "{body}");
    assert!(series["body-weight"][0]["dateTime"].is_string(), "{body}");

    let calls_before = h.fake.requests().len();
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
        let (got, body) = h.get(target).await;
        assert_eq!(got, status, "{target}: {body}");
        assert!(body.contains(needle), "{target}: {body}");
    }
    // Settings change only through POST.
    let (status, _) = h.get("/plugin/fitbit/settings?client_id=EVIL").await;
    assert_eq!(status, 405);
    assert_eq!(
        h.host.stored("plugindata/fitbit").unwrap()["client_id"],
        CLIENT_ID
    );
    assert_eq!(
        h.fake.requests().len(),
        calls_before,
        "no upstream call for bad input"
    );
    assert_eq!(h.host.stored("sensors/fitbit/jack"), sensors_before);
    assert!(h.host.stored("sensors/fitbit/jill").is_none());

    // Deleting a user revokes the token at the provider.
    let response = h
        .post(
            "/plugin/fitbit/userSettings",
            &[("user", "jack"), ("delete", "true")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(h.fake.is_revoked(DEFAULT_USER_ID, CLIENT_ID));
    assert!(
        h.host
            .stored("identities/jack/plugindata/fitbit/token")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_share_one_refresh() {
    let h = Harness::start("").await;
    h.configure("").await;
    h.fake.set_access_token_lifetime(Duration::from_secs(30));
    h.authorise("jack").await;
    h.add_week_of_weights();
    let target = format!(
        "{}/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d",
        h.host.url
    );
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (http, target) = (h.http.clone(), target.clone());
            tokio::spawn(async move {
                let r = http.get(target).send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for call in calls {
        let (status, body) = call.await.unwrap();
        assert_eq!(status, 200, "{body}");
    }
    // The stored refresh token is the live one: the next run works too.
    let stored = h
        .host
        .stored("identities/jack/plugindata/fitbit/token")
        .unwrap();
    assert_eq!(
        stored["refresh_token"].as_str(),
        h.fake.refresh_token_of(DEFAULT_USER_ID).as_deref()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_action_updates_status() {
    let h = Harness::start(
        "[[action]]\ninterval = 1\nurl = \"/plugin/fitbit?user=jack\"\nrepresenting = \"sensors/fitbit\"\n",
    )
    .await;
    // Before authorisation the action fails, and says why.
    let status = wait_for_status(&h, |s| s["alive"] == false).await;
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
    let status = wait_for_status(&h, |s| s["alive"] == true).await;
    assert_eq!(status["errorMessage"], "");
    assert!(status["lastSuccess"].as_u64().unwrap() >= status["lastFailure"].as_u64().unwrap());
    assert!(h.host.stored("sensors/fitbit/jack").is_some());
}

async fn wait_for_status(h: &Harness, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let (code, body) = h.get("/status/sensors/fitbit").await;
        if code == 200 {
            let status: Value = serde_json::from_str(&body).unwrap();
            if done(&status) {
                return status;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "status never reached the expected state; log:\n{}",
        h.host.log()
    );
}
