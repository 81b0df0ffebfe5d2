//! The fake Google OAuth: offline access, non-rotating refresh tokens, PKCE,
//! Testing mode, identity and injected errors.

use std::time::Duration;

use igor_test_support::fake_google::{self, InjectedError};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

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
    let (s, r) = google_token(&g, &c, &code_form(&code, &"y".repeat(50))).await;
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
    assert_eq!(r["error_description"], "Token has been expired or revoked.");
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
async fn google_codes_are_used_up_only_by_a_successful_exchange() {
    // Google authenticates the client before it looks at the grant: an
    // exchange refused for the client's secret (or a wrong PKCE verifier)
    // leaves the code for a corrected retry; a successful one uses it up.
    let (g, c) = google().await;
    let loc = igor_test_support::consent(&c, &google_auth_url(&g, &[]))
        .await
        .unwrap();
    let code = query_of(&loc, "code").unwrap();
    let exchange = |secret: &str, verifier: &str| {
        let form = [
            ("client_id", "gcid"),
            ("client_secret", secret),
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ];
        let request = c.post(g.token_url()).form(&form);
        async move { json_of(request.send().await.unwrap()).await }
    };
    let (s, r) = exchange("wrong", VERIFIER).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    let (s, r) = exchange("gsecret", &"y".repeat(50)).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, r) = exchange("gsecret", VERIFIER).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = exchange("gsecret", VERIFIER).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (s, r) = exchange("wrong", VERIFIER).await;
    assert_eq!(
        (s, r["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
}
