//! What the tests of the fakes share: OAuth round trips and requests.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use igor_test_support::fake_google;
use igor_test_support::{FakeFitbit, FakeGoogle};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

pub const VERIFIER: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";

pub fn challenge() -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()))
}

/// The token request's form that redeems `code` with the PKCE `verifier`.
pub fn code_form<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

pub fn query_of(location: &str, key: &str) -> Option<String> {
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub async fn json_of(r: reqwest::Response) -> (StatusCode, Value) {
    let s = r.status();
    (s, r.json().await.unwrap_or(Value::Null))
}

pub async fn fitbit() -> (FakeFitbit, Client) {
    let f = FakeFitbit::start().await;
    f.register_client("CID", "SECRET", &[REDIRECT]);
    (f, Client::new())
}

pub fn fitbit_auth_url(f: &FakeFitbit, scope: &str) -> String {
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

pub async fn fitbit_token(
    f: &FakeFitbit,
    c: &Client,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
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

pub async fn fitbit_login(f: &FakeFitbit, c: &Client, scope: &str) -> Value {
    let loc = igor_test_support::consent(c, &fitbit_auth_url(f, scope))
        .await
        .unwrap();
    let code = query_of(&loc, "code").unwrap();
    let (s, body) = fitbit_token(f, c, &code_form(&code, VERIFIER)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

pub async fn fitbit_get(
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

/// `GET {fake}{path}` with a bearer token, in metric units: the status
/// and the JSON body.
pub async fn fitbit_json(
    f: &FakeFitbit,
    c: &Client,
    token: &str,
    path: &str,
) -> (StatusCode, Value) {
    json_of(fitbit_get(f, c, token, path, None).await).await
}

pub async fn google() -> (FakeGoogle, Client) {
    let g = FakeGoogle::start().await;
    g.register_client("gcid", "gsecret", &[REDIRECT]);
    (g, Client::new())
}

pub fn google_auth_url(g: &FakeGoogle, extra: &[(&str, &str)]) -> String {
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

pub async fn google_token(
    g: &FakeGoogle,
    c: &Client,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut f: Vec<(&str, &str)> = vec![("client_id", "gcid"), ("client_secret", "gsecret")];
    f.extend_from_slice(form);
    json_of(c.post(g.token_url()).form(&f).send().await.unwrap()).await
}

pub async fn google_exchange(g: &FakeGoogle, c: &Client, extra: &[(&str, &str)]) -> Value {
    let loc = igor_test_support::consent(c, &google_auth_url(g, extra))
        .await
        .unwrap();
    google_redeem(g, c, &loc).await
}

/// Exchanges the code of the consent's redirect `loc` for tokens.
pub async fn google_redeem(g: &FakeGoogle, c: &Client, loc: &str) -> Value {
    let code = query_of(loc, "code").unwrap();
    let (s, body) = google_token(g, c, &code_form(&code, VERIFIER)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    body
}

pub async fn gget(
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

/// `POST {fake}{path}` with a JSON body and a bearer token.
pub async fn gpost(
    g: &FakeGoogle,
    c: &Client,
    token: &str,
    path: &str,
    body: &Value,
) -> (StatusCode, Value) {
    json_of(
        c.post(format!("{}{path}", g.url()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A `dailyRollUp` range body from `start` to `end` (exclusive), civil dates.
pub fn civil_range(start: (i32, u32, u32), end: (i32, u32, u32)) -> Value {
    let date =
        |d: (i32, u32, u32)| serde_json::json!({"date": {"year": d.0, "month": d.1, "day": d.2}});
    serde_json::json!({"range": {"start": date(start), "end": date(end)}, "windowSizeDays": 1})
}
