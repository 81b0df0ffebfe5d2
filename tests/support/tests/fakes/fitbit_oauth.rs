//! The fake Fitbit's OAuth: code flow with PKCE, authorize errors, single-use
//! refresh tokens, expiry, scopes, revocation and the shutdown.

use std::time::Duration;

use igor_test_support::fake_fitbit;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::*;

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
    let (s, body) = fitbit_token(&f, &c, &code_form(&code, &"x".repeat(43))).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["errors"][0]["errorType"], "invalid_grant");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Authorization code invalid: {code}"))
    );

    let ok = code_form(&code, VERIFIER);
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
    let (s, b) = fitbit_json(&f, &c, a, "/1/user/-/activities/steps/date/today/7d.json").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(b["errors"][0]["errorType"], "insufficient_scope");
    f.expire_access_tokens();
    let (s, b) = fitbit_json(&f, &c, a, "/1/user/-/body/log/weight/date/today.json").await;
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
