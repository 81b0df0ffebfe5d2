//! Tests of the fakes themselves, so end-to-end tests can trust them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use igor_test_support::fake_fitbit::{self, FakeFitbit, WeightLog};
use igor_test_support::fake_google::{self, DataPoint, FakeGoogle, InjectedError};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";

fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn query_of(location: &str, key: &str) -> Option<String> {
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

// ---------------------------------------------------------------- Fitbit

async fn fitbit() -> (FakeFitbit, Client) {
    let f = FakeFitbit::start().await;
    f.register_client("CID", "SECRET", &[REDIRECT]);
    (f, Client::new())
}

fn fitbit_auth_url(f: &FakeFitbit, scope: &str) -> String {
    let mut u = url::Url::parse(&f.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", "CID")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "st4te")
        .append_pair("code_challenge", &challenge())
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

async fn fitbit_token(f: &FakeFitbit, c: &Client, form: &[(&str, &str)]) -> (StatusCode, Value) {
    json_of(
        c.post(f.token_url())
            .header("authorization", basic("CID", "SECRET"))
            .form(form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn fitbit_login(f: &FakeFitbit, c: &Client, scope: &str) -> Value {
    let loc = igor_test_support::consent(c, &fitbit_auth_url(f, scope))
        .await
        .unwrap();
    let code = query_of(&loc, "code").unwrap();
    let (s, body) = fitbit_token(
        f,
        c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

async fn fitbit_get(
    f: &FakeFitbit,
    c: &Client,
    token: &str,
    path: &str,
    lang: Option<&str>,
) -> reqwest::Response {
    let mut r = c.get(format!("{}{path}", f.url())).bearer_auth(token);
    if let Some(l) = lang {
        r = r.header("accept-language", l);
    }
    r.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_code_flow_with_pkce() {
    let (f, c) = fitbit().await;
    let loc = igor_test_support::consent(&c, &fitbit_auth_url(&f, "weight profile"))
        .await
        .unwrap();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    assert_eq!(query_of(&loc, "state").as_deref(), Some("st4te"));
    let code = query_of(&loc, "code").unwrap();

    // Wrong verifier → invalid_grant; the code is still usable afterwards.
    let (s, body) = fitbit_token(
        &f,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["errorType"], "invalid_grant");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Authorization code invalid: {code}"))
    );

    let ok = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let (s, body) = fitbit_token(&f, &c, &ok).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 28800);
    assert_eq!(body["user_id"], fake_fitbit::DEFAULT_USER_ID);
    assert_eq!(body["scope"], "weight profile");
    // Single use.
    let (s, body) = fitbit_token(&f, &c, &ok).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["errorType"], "invalid_grant");

    // Basic auth is required.
    let (s, body) = json_of(c.post(f.token_url()).form(&ok).send().await.unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(body["errors"][0]["errorType"], "invalid_client");
    assert_eq!(body["success"], false);
    let last = f.requests().pop().unwrap();
    assert_eq!(last.form_value("code_verifier"), Some(VERIFIER));
    assert_eq!(f.token_requests(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_authorize_errors_are_pages_not_redirects() {
    let (f, c) = fitbit().await;
    let r = c
        .get(format!(
            "{}?response_type=code&client_id=NOPE&scope=weight",
            f.authorize_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("unauthorize_client - Invalid client_id")
    );
    let r = c
        .get(format!(
            "{}?response_type=code&scope=weight",
            f.authorize_url()
        ))
        .send()
        .await
        .unwrap();
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("invalid_request - Missing parameters: client_id")
    );
    let bad_redirect = format!(
        "{}?response_type=code&client_id=CID&scope=weight&redirect_uri=http://evil/",
        f.authorize_url()
    );
    assert_eq!(
        c.get(bad_redirect).send().await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // Deny.
    let loc = igor_test_support::consent_with(&c, &fitbit_auth_url(&f, "weight"), false)
        .await
        .unwrap();
    assert_eq!(query_of(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_of(&loc, "state").as_deref(), Some("st4te"));
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_refresh_is_single_use_with_grace() {
    let (f, c) = fitbit().await;
    let t = f.issue_tokens("CID", "GGNJL9", "weight");
    let r1 = t.refresh_token.as_str();
    let (s, first) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(first["refresh_token"], r1);
    // Identical request within the grace period, new tokens unused: same response.
    let (s, again) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, first);
    // Once the new access token is used, the old refresh token is dead.
    let a2 = first["access_token"].as_str().unwrap();
    assert_eq!(
        fitbit_get(
            &f,
            &c,
            a2,
            "/1/user/-/body/log/weight/date/today.json",
            None
        )
        .await
        .status(),
        StatusCode::OK
    );
    let (s, body) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", r1)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["errorType"], "invalid_grant");
    assert_eq!(
        body["errors"][0]["message"],
        format!(
            "Refresh token invalid: {r1}. Visit https://dev.fitbit.com/docs/oauth2 for more information on the Fitbit Web API authorization process."
        )
    );
    assert_eq!(f.used_refresh_tokens(), vec![r1.to_string()]);
    // The new refresh token works; replay after the grace period fails.
    let r2 = first["refresh_token"].as_str().unwrap();
    assert_eq!(f.refresh_token_of("GGNJL9").as_deref(), Some(r2));
    let (s, _) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    f.advance_clock(Duration::from_secs(6));
    let (s, _) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", r2)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // Missing parameter.
    let (s, body) = fitbit_token(&f, &c, &[("grant_type", "refresh_token")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["errorType"], "invalid_request");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Missing parameters: refresh_token")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_token_expiry_scope_and_revoke() {
    let (f, c) = fitbit().await;
    let body = fitbit_login(&f, &c, "weight").await;
    let a = body["access_token"].as_str().unwrap();
    let (s, b) = json_of(
        fitbit_get(
            &f,
            &c,
            a,
            "/1/user/-/activities/steps/date/today/7d.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["errors"][0]["errorType"], "insufficient_scope");
    f.expire_all_access_tokens();
    let (s, b) =
        json_of(fitbit_get(&f, &c, a, "/1/user/-/body/log/weight/date/today.json", None).await)
            .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["errors"][0]["errorType"], "expired_token");
    let (s, b) = json_of(
        fitbit_get(
            &f,
            &c,
            "bogus",
            "/1/user/-/body/log/weight/date/today.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(b["errors"][0]["errorType"], "invalid_token");
    // Revoke kills the refresh token too.
    let rt = body["refresh_token"].as_str().unwrap();
    let r = c
        .post(f.revoke_url())
        .header("authorization", basic("CID", "SECRET"))
        .form(&[("token", rt)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(f.is_revoked("GGNJL9", "CID"));
    let (s, _) = fitbit_token(
        &f,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", rt)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_weight_units_and_series() {
    let (f, c) = fitbit().await;
    f.add_weight(
        "GGNJL9",
        WeightLog::new("2026-11-18", "07:00:00", 80.0)
            .fat(18.5)
            .bmi(24.69),
    );
    f.add_weight("GGNJL9", WeightLog::new("2026-11-20", "07:12:33", 80.1));
    let a = f.issue_tokens("CID", "GGNJL9", "weight").access_token;
    let path = "/1/user/-/body/log/weight/date/2026-11-20.json";
    let (_, kg) = json_of(fitbit_get(&f, &c, &a, path, None).await).await;
    let w = &kg["weight"][0];
    assert_eq!(w["weight"], json!(80.1));
    assert_eq!(w["date"], "2026-11-20");
    assert_eq!(w["time"], "07:12:33");
    assert!(w["logId"].is_u64());
    assert!(w.get("fat").is_none());
    assert_eq!(w["bmi"], json!(24.72));
    let (_, lb) = json_of(fitbit_get(&f, &c, &a, path, Some("en_US")).await).await;
    assert_eq!(lb["weight"][0]["weight"], json!(176.59));
    let (_, st) = json_of(fitbit_get(&f, &c, &a, path, Some("en_GB")).await).await;
    assert_eq!(st["weight"][0]["weight"], json!(12.61));
    let (_, metric) = json_of(fitbit_get(&f, &c, &a, path, Some("en-US")).await).await;
    assert_eq!(metric["weight"][0]["weight"], json!(80.1));

    // Range + period forms.
    let (s, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/log/weight/date/2026-11-17/2026-11-20.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["weight"].as_array().unwrap().len(), 2);
    assert_eq!(r["weight"][0]["fat"], json!(18.5));
    let (s, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/log/weight/date/2026-11-20/3m.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["errors"][0]["errorType"], "validation");
    let (s, _) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/log/weight/date/2026-10-01/2026-11-20.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/log/fat/date/2026-11-20/7d.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(r["fat"][0]["fat"], json!(18.5));

    // Time series: strings, one entry per day, carry-forward, "0" before the first log.
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/weight/date/2026-11-20/7d.json",
            Some("en_US"),
        )
        .await,
    )
    .await;
    let series = r["body-weight"].as_array().unwrap();
    assert_eq!(series.len(), 7);
    assert_eq!(series[0], json!({"dateTime": "2026-11-14", "value": "0"}));
    assert_eq!(
        series[4],
        json!({"dateTime": "2026-11-18", "value": "176.37"})
    );
    assert_eq!(
        series[5],
        json!({"dateTime": "2026-11-19", "value": "176.37"})
    );
    assert_eq!(
        series[6],
        json!({"dateTime": "2026-11-20", "value": "176.59"})
    );
    let (s, r) = json_of(fitbit_get(&f, &c, &a, "/1/user/-/nope.json", None).await).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(r["success"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_activity_series_strings() {
    let (f, c) = fitbit().await;
    f.set_activity("GGNJL9", "steps", "2026-11-19", 2504.0);
    f.set_activity("GGNJL9", "distance", "2026-11-19", 1.609344);
    let a = f.issue_tokens("CID", "GGNJL9", "activity").access_token;
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/steps/date/2026-11-19/2026-11-20.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        r["activities-steps"],
        json!([{"dateTime":"2026-11-19","value":"2504"},{"dateTime":"2026-11-20","value":"0"}])
    );
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/distance/date/2026-11-19/1d.json",
            Some("en_US"),
        )
        .await,
    )
    .await;
    assert_eq!(r["activities-distance"][0]["value"], "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_rate_limit_headers_and_429() {
    let (f, c) = fitbit().await;
    let a = f.issue_tokens("CID", "GGNJL9", "weight").access_token;
    let r = fitbit_get(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/today.json",
        None,
    )
    .await;
    let h = r.headers();
    assert_eq!(h["fitbit-rate-limit-limit"], "150");
    assert_eq!(h["fitbit-rate-limit-remaining"], "149");
    let reset: i64 = h["fitbit-rate-limit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&reset));
    f.set_rate_limit_remaining("GGNJL9", 0);
    let r = fitbit_get(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/today.json",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"errors":[{"errorType":"system","fieldName":"n/a","message":"Too Many Requests"}],"success":false})
    );
    // Next hour: quota restored.
    f.advance_clock(Duration::from_secs(3600));
    let r = fitbit_get(
        &f,
        &c,
        &a,
        "/1/user/-/body/log/weight/date/today.json",
        None,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(f.calls("/1/user/-/body"), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_shut_down_is_410_everywhere() {
    let (f, c) = fitbit().await;
    let a = f.issue_tokens("CID", "GGNJL9", "weight").access_token;
    f.set_shut_down(true);
    for r in [
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/body/log/weight/date/today.json",
            None,
        )
        .await,
        c.get(f.authorize_url()).send().await.unwrap(),
        c.post(f.token_url())
            .form(&[("grant_type", "refresh_token")])
            .send()
            .await
            .unwrap(),
        c.post(f.revoke_url()).send().await.unwrap(),
    ] {
        assert_eq!(r.status(), StatusCode::GONE);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["success"], false);
    }
    f.set_shut_down(false);
    assert_eq!(
        fitbit_get(&f, &c, &a, "/1/user/-/profile.json", None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

// ---------------------------------------------------------------- Google

async fn google() -> (FakeGoogle, Client) {
    let g = FakeGoogle::start().await;
    g.register_client("gcid", "gsecret", &[REDIRECT]);
    (g, Client::new())
}

fn google_auth_url(g: &FakeGoogle, extra: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(&g.authorize_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("client_id", "gcid")
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair(
            "scope",
            &format!(
                "{} {}",
                fake_google::SCOPE_METRICS,
                fake_google::SCOPE_ACTIVITY
            ),
        )
        .append_pair("state", "s1")
        .append_pair("code_challenge", &challenge())
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        u.query_pairs_mut().append_pair(k, v);
    }
    u.to_string()
}

async fn google_token(g: &FakeGoogle, c: &Client, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let mut f: Vec<(&str, &str)> = vec![("client_id", "gcid"), ("client_secret", "gsecret")];
    f.extend_from_slice(form);
    json_of(c.post(g.token_url()).form(&f).send().await.unwrap()).await
}

async fn google_exchange(g: &FakeGoogle, c: &Client, extra: &[(&str, &str)]) -> Value {
    let loc = igor_test_support::consent(c, &google_auth_url(g, extra))
        .await
        .unwrap();
    let code = query_of(&loc, "code").unwrap();
    let (s, body) = google_token(
        g,
        c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

async fn gget(
    g: &FakeGoogle,
    c: &Client,
    token: &str,
    path_and_query: &str,
) -> (StatusCode, Value) {
    json_of(
        c.get(format!("{}{path_and_query}", g.url()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn google_oauth_offline_non_rotating() {
    let (g, c) = google().await;
    let body = google_exchange(&g, &c, &[("access_type", "offline"), ("prompt", "consent")]).await;
    let q = g.last_authorize_query().unwrap();
    assert!(q.contains(&("access_type".into(), "offline".into())));
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    // Refresh: new access token, no refresh_token field.
    let (s, r) = google_token(
        &g,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(r.get("refresh_token").is_none());
    let (s, _) = google_token(
        &g,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "refresh tokens are reusable");
    // Without prompt=consent a second consent yields no new refresh token.
    let body2 = google_exchange(&g, &c, &[("access_type", "offline")]).await;
    assert!(body2.get("refresh_token").is_none());
    // Online access: never a refresh token.
    let body3 = google_exchange(&g, &c, &[]).await;
    assert!(body3.get("refresh_token").is_none());
    // Wrong secret → 401 invalid_client.
    let (s, r) = json_of(
        c.post(g.token_url())
            .form(&[
                ("client_id", "gcid"),
                ("client_secret", "nope"),
                ("grant_type", "refresh_token"),
                ("refresh_token", &rt),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(r["error"], "invalid_client");
    // Revoke, then the refresh token is dead.
    let r = c
        .post(g.revoke_url())
        .form(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (s, r) = google_token(
        &g,
        &c,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        r,
        json!({"error":"invalid_grant","error_description":"Token has been expired or revoked."})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn google_pkce_and_testing_mode() {
    let (g, c) = google().await;
    let loc = igor_test_support::consent(&c, &google_auth_url(&g, &[("access_type", "offline")]))
        .await
        .unwrap();
    let code = query_of(&loc, "code").unwrap();
    let (s, r) = google_token(
        &g,
        &c,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"y".repeat(50)),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"], "invalid_grant");
    g.set_testing_mode("gcid", true);
    let t = g.issue_tokens(
        "gcid",
        fake_google::DEFAULT_HEALTH_USER_ID,
        fake_google::SCOPE_METRICS,
    );
    g.advance_clock(Duration::from_secs(7 * 24 * 3600 + 1));
    let (s, r) = google_token(
        &g,
        &c,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh_token),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"], "invalid_grant");
    // The access token expired long ago as well.
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/identity").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(r["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(r["error"]["details"][0]["reason"], "ACCESS_TOKEN_EXPIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn google_identity_errors_and_injection() {
    let (g, c) = google().await;
    let (s, r) = json_of(
        c.get(format!("{}/v4/users/me/identity", g.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(r["error"]["details"][0]["reason"], "CREDENTIALS_MISSING");
    let t = g.issue_tokens(
        "gcid",
        fake_google::DEFAULT_HEALTH_USER_ID,
        fake_google::SCOPE_METRICS,
    );
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/identity").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["legacyUserId"], "GGNJL9");
    assert_eq!(r["healthUserId"], fake_google::DEFAULT_HEALTH_USER_ID);
    assert_eq!(
        r["name"],
        format!("users/{}/identity", fake_google::DEFAULT_HEALTH_USER_ID)
    );
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(
        r["error"]["details"][0]["reason"],
        "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    );
    g.inject_errors(InjectedError::RateLimited, 1);
    g.inject_errors(InjectedError::AccountNotLinked, 1);
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/identity").await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("RESOURCE_EXHAUSTED"))
    );
    let (s, r) = gget(&g, &c, &t.access_token, "/v4/users/me/identity").await;
    assert_eq!(
        (s, r["error"]["details"][0]["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("ACCOUNT_NOT_LINKED"))
    );
    assert_eq!(
        gget(&g, &c, &t.access_token, "/v4/users/me/identity")
            .await
            .0,
        StatusCode::OK
    );
    // Per-user quota.
    g.set_quota_per_minute(1);
    g.advance_clock(Duration::from_secs(60));
    assert_eq!(
        gget(&g, &c, &t.access_token, "/v4/users/me/identity")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        gget(&g, &c, &t.access_token, "/v4/users/me/identity")
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn google_list_pagination_filter_and_int64() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    for d in 18..=20 {
        g.add_data_point(
            hid,
            DataPoint::weight(&format!("2026-11-{d}T07:12:33Z"), 80000.0 + f64::from(d))
                .utc_offset(3600),
        );
    }
    g.add_data_point(
        hid,
        DataPoint::steps("2026-11-20T08:00:00Z", "2026-11-20T08:01:00Z", 120),
    );
    let t = g.issue_tokens(
        "gcid",
        hid,
        &format!(
            "{} {}",
            fake_google::SCOPE_METRICS,
            fake_google::SCOPE_ACTIVITY
        ),
    );
    let base = "/v4/users/me/dataTypes/weight/dataPoints";

    g.insert_empty_pages(1);
    let (s, p0) = gget(&g, &c, &t.access_token, &format!("{base}?pageSize=2")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(p0.get("dataPoints").is_none());
    let tok0 = p0["nextPageToken"].as_str().unwrap();
    let (_, p1) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?pageSize=2&pageToken={tok0}"),
    )
    .await;
    let pts = p1["dataPoints"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(
        pts[0]["weight"]["sampleTime"]["physicalTime"],
        "2026-11-20T07:12:33Z"
    );
    assert_eq!(pts[0]["weight"]["sampleTime"]["utcOffset"], "3600s");
    assert_eq!(
        pts[0]["weight"]["sampleTime"]["civilTime"]["time"],
        json!({"hours": 8, "minutes": 12, "seconds": 33})
    );
    assert_eq!(pts[0]["weight"]["weightGrams"], json!(80020.0));
    assert!(
        pts[0]["name"]
            .as_str()
            .unwrap()
            .starts_with(&format!("users/{hid}/dataTypes/weight/dataPoints/"))
    );
    let tok1 = p1["nextPageToken"].as_str().unwrap();
    let (_, p2) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?pageSize=2&pageToken={tok1}"),
    )
    .await;
    assert_eq!(p2["dataPoints"].as_array().unwrap().len(), 1);
    assert!(p2.get("nextPageToken").is_none());

    // Filter: supported member.
    let f = url::form_urlencoded::byte_serialize(b"weight.sample_time.physical_time >= \"2026-11-19T00:00:00Z\" AND weight.sample_time.physical_time < \"2026-11-20T00:00:00Z\"").collect::<String>();
    let (s, r) = gget(&g, &c, &t.access_token, &format!("{base}?filter={f}")).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 1);
    // Unsupported member.
    let f = url::form_urlencoded::byte_serialize(
        b"steps.interval.end_time >= \"2026-11-19T00:00:00Z\"",
    )
    .collect::<String>();
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/steps/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(r["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(
        r["error"]["details"][0]["reason"],
        "INVALID_DATA_POINT_FILTER_DATA_TYPE_MEMBER"
    );
    // Malformed.
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("{base}?filter=weight.sample_time.physical_time%20%3E%3D"),
    )
    .await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
    // int64 as strings.
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/steps/dataPoints",
    )
    .await;
    assert_eq!(r["dataPoints"][0]["steps"]["count"], "120");
    assert_eq!(
        r["dataPoints"][0]["steps"]["interval"]["startTime"],
        "2026-11-20T08:00:00Z"
    );
    // Scope.
    let (s, _) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/sleep/dataPoints",
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn google_daily_rollup() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    g.add_data_point(hid, DataPoint::weight("2026-11-20T07:00:00Z", 81000.0));
    g.add_data_point(hid, DataPoint::weight("2026-11-20T19:00:00Z", 81400.0));
    g.add_data_point(hid, DataPoint::weight("2026-11-22T07:00:00Z", 80000.0));
    let t = g.issue_tokens("gcid", hid, fake_google::SCOPE_METRICS);
    let url = format!(
        "{}/v4/users/me/dataTypes/weight/dataPoints:dailyRollUp",
        g.url()
    );
    let body = json!({"range":{"start":{"date":{"year":2026,"month":11,"day":20}},"end":{"date":{"year":2026,"month":11,"day":23}}},"windowSizeDays":1});
    let (s, r) = json_of(
        c.post(&url)
            .bearer_auth(&t.access_token)
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let pts = r["rollupDataPoints"].as_array().unwrap();
    assert_eq!(pts.len(), 2);
    assert_eq!(
        pts[0]["civilStartTime"],
        json!({"date":{"year":2026,"month":11,"day":20}})
    );
    assert_eq!(
        pts[0]["civilEndTime"],
        json!({"date":{"year":2026,"month":11,"day":21}})
    );
    assert_eq!(pts[0]["weight"]["weightGramsAvg"], json!(81200.0));
    assert_eq!(pts[1]["weight"]["weightGramsAvg"], json!(80000.0));
    let too_long = json!({"range":{"start":{"date":{"year":2026,"month":1,"day":1}},"end":{"date":{"year":2026,"month":11,"day":23}}}});
    let (s, r) = json_of(
        c.post(&url)
            .bearer_auth(&t.access_token)
            .json(&too_long)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (s, r["error"]["status"].as_str()),
        (StatusCode::BAD_REQUEST, Some("INVALID_ARGUMENT"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fitbit_other_endpoints_smoke() {
    use igor_test_support::fake_fitbit::SleepLog;
    let (f, c) = fitbit().await;
    f.add_sleep(
        "GGNJL9",
        SleepLog::new("2026-11-20", "2026-11-19T23:10:00", 450, 420).stages(70, 280, 70),
    );
    f.set_intraday(
        "GGNJL9",
        "steps",
        "2026-11-20",
        &[("08:00:10", 30.0), ("08:00:50", 12.0), ("08:20:00", 5.0)],
    );
    f.set_intraday(
        "GGNJL9",
        "heart",
        "2026-11-20",
        &[("08:00:10", 70.0), ("08:00:50", 74.0)],
    );
    f.set_resting_heart_rate("GGNJL9", "2026-11-20", 58);
    f.set_profile("GGNJL9", json!({"height": 177.8, "displayName": "Jo"}));
    let a = f
        .issue_tokens(
            "CID",
            "GGNJL9",
            "activity heartrate sleep profile settings weight",
        )
        .access_token;
    let (s, r) =
        json_of(fitbit_get(&f, &c, &a, "/1.2/user/-/sleep/date/2026-11-20.json", None).await).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["sleep"][0]["minutesAsleep"], 420);
    assert_eq!(r["sleep"][0]["endTime"], "2026-11-20T06:40:00.000");
    assert_eq!(r["summary"]["totalMinutesAsleep"], 420);
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/steps/date/2026-11-20/1d/15min/time/08:00/08:29.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        r["activities-steps-intraday"]["dataset"],
        json!([{"time":"08:00:00","value":42},{"time":"08:15:00","value":5}])
    );
    assert_eq!(r["activities-steps-intraday"]["datasetInterval"], 15);
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/heart/date/2026-11-20/1d/1min.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        r["activities-heart-intraday"]["dataset"],
        json!([{"time":"08:00:00","value":72}])
    );
    assert_eq!(r["activities-heart"][0]["value"]["restingHeartRate"], 58);
    let (_, r) = json_of(
        fitbit_get(
            &f,
            &c,
            &a,
            "/1/user/-/activities/heart/date/2026-11-20/1d.json",
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        r["activities-heart"][0]["value"]["heartRateZones"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let (_, r) =
        json_of(fitbit_get(&f, &c, &a, "/1/user/-/profile.json", Some("en_US")).await).await;
    assert_eq!(r["user"]["height"], json!(70.0));
    assert_eq!(r["user"]["displayName"], "Jo");
    assert_eq!(r["user"]["encodedId"], "GGNJL9");
    let (_, r) = json_of(fitbit_get(&f, &c, &a, "/1/user/-/devices.json", None).await).await;
    assert!(r.is_array());
    for p in [
        "/1/user/-/body/date/today.json",
        "/1/user/-/activities/date/today.json",
        "/1/user/-/sleep/date/today.json",
        "/1/user/GGNJL9/body/fat/date/today/max.json",
    ] {
        assert_eq!(
            fitbit_get(&f, &c, &a, p, None).await.status(),
            StatusCode::OK,
            "{p}"
        );
    }
    assert_eq!(
        fitbit_get(&f, &c, &a, "/1/user/OTHER/profile.json", None)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn google_sleep_settings_and_daily_types() {
    let (g, c) = google().await;
    let hid = fake_google::DEFAULT_HEALTH_USER_ID;
    for d in 1..=30 {
        g.add_data_point(
            hid,
            DataPoint::sleep(
                &format!("2026-10-{d:02}T23:00:00Z"),
                &format!("2026-10-{:02}T07:00:00Z", d + 1),
                450,
            ),
        );
    }
    g.add_data_point(hid, DataPoint::daily_resting_heart_rate("2026-11-20", 58));
    g.set_settings(hid, json!({"weightUnit": "WEIGHT_UNIT_STONE"}));
    let scopes = format!(
        "{} {} {}",
        fake_google::SCOPE_SLEEP,
        fake_google::SCOPE_SETTINGS,
        fake_google::SCOPE_METRICS
    );
    let t = g.issue_tokens("gcid", hid, &scopes);
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/sleep/dataPoints?pageSize=100",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 25);
    assert!(r["nextPageToken"].is_string());
    assert_eq!(
        r["dataPoints"][0]["sleep"]["summary"]["minutesAsleep"],
        "450"
    );
    assert_eq!(r["dataPoints"][0]["sleep"]["summary"]["minutesAwake"], "30");
    let f = url::form_urlencoded::byte_serialize(b"sleep.interval.end_time < \"2026-10-03T00:00:00Z\" OR sleep.interval.end_time >= \"2026-10-31T00:00:00Z\"").collect::<String>();
    let (s, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/sleep/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["dataPoints"].as_array().unwrap().len(), 2);
    let f =
        url::form_urlencoded::byte_serialize(b"daily_resting_heart_rate.date >= \"2026-11-20\"")
            .collect::<String>();
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        &format!("/v4/users/me/dataTypes/daily-resting-heart-rate/dataPoints?filter={f}"),
    )
    .await;
    assert_eq!(
        r["dataPoints"][0]["dailyRestingHeartRate"]["beatsPerMinute"],
        "58"
    );
    assert_eq!(
        r["dataPoints"][0]["dailyRestingHeartRate"]["date"],
        json!({"year":2026,"month":11,"day":20})
    );
    let (_, r) = gget(&g, &c, &t.access_token, "/v4/users/me/settings").await;
    assert_eq!(r["weightUnit"], "WEIGHT_UNIT_STONE");
    assert_eq!(r["name"], format!("users/{hid}/settings"));
    let (_, r) = gget(
        &g,
        &c,
        &t.access_token,
        "/v4/users/me/dataTypes/height/dataPoints",
    )
    .await;
    assert_eq!(r, json!({}));
}
