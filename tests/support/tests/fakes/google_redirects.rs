//! The fake Google's console and consent: redirect URIs registered only
//! under Google's rules, unregistered ones refused with Google's error page,
//! and incremental authorisation (`include_granted_scopes`); the fitbit
//! plugin refuses the same redirect URIs.

use igor_test_support::FakeGoogle;
use igor_test_support::fake_google;
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn google_registers_only_redirect_uris_its_console_accepts() {
    let g = FakeGoogle::start().await;
    for ok in [
        "https://igor.example.com/plugin/fitbit/auth2",
        "http://localhost:9333/plugin/fitbit/auth2",
        "http://127.0.0.1:9333/plugin/fitbit/auth2",
        "http://[::1]/cb",
    ] {
        assert_eq!(g.try_register_client("ok", "s", &[ok]), Ok(()), "{ok}");
    }
    for (bad, says) in [
        ("http://igor.local:9333/plugin/fitbit/auth2", "https"),
        ("http://192.168.1.20:9333/plugin/fitbit/auth2", "https"),
        ("https://192.168.1.20/cb", "raw IP"),
        ("https://igor.lan/cb", "public top-level domain"),
        ("https://igor.home/cb", "public top-level domain"),
        ("https://igor.internal/cb", "public top-level domain"),
        ("https://igor/cb", "public top-level domain"),
        ("https://a.googleusercontent.com/cb", "googleusercontent"),
        ("https://goo.gl/cb", "shortener"),
        ("https://igor.example.com/cb#top", "fragment"),
        ("https://*.example.com/cb", "wildcard"),
        ("https://user:pw@igor.example.com/cb", "userinfo"),
        ("https://igor.example.com/x/%2e%2E/cb", "path traversal"),
        ("https://igor.example.com/x\\../cb", "path traversal"),
        ("https://igor.example.com/cb%G1", "percent"),
        ("https://igor.example.com/cb%00", "null"),
        ("https://igor.example.com/c b", "non-printable"),
        (
            "https://igor.example.com/cb?to=https://evil.example/",
            "open redirect",
        ),
    ] {
        let refused = g.try_register_client("bad", "s", &[bad]).unwrap_err();
        assert!(refused.contains(says), "{bad}: {refused}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn google_refuses_an_unregistered_redirect_with_its_error_page() {
    let (g, c) = google().await;
    let mut url = url::Url::parse(&google_auth_url(&g, &[])).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .map(|(k, v)| match k.as_str() {
            "redirect_uri" => (k, "http://127.0.0.1:9/callback/".into()),
            _ => (k, v),
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    let r = c.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Access blocked: This app&#39;s request is invalid"),
        "{page}"
    );
    assert!(page.contains("Error 400: redirect_uri_mismatch"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn google_include_granted_scopes_combines_grants() {
    let (g, c) = google().await;
    let user = fake_google::DEFAULT_HEALTH_USER_ID;
    let first = google_exchange(&g, &c, &[("access_type", "offline")]).await;
    let both = format!(
        "{} {}",
        fake_google::SCOPE_METRICS,
        fake_google::SCOPE_ACTIVITY
    );
    assert_eq!(first["scope"], both);
    // Only sleep now, without include_granted_scopes: only sleep.
    let sleep_only = |extra: &[(&str, &str)]| {
        let mut u = url::Url::parse(&google_auth_url(&g, extra)).unwrap();
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .into_owned()
            .map(|(k, v)| match k.as_str() {
                "scope" => (k, fake_google::SCOPE_SLEEP.to_string()),
                _ => (k, v),
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        u.to_string()
    };
    let alone = igor_test_support::consent(&c, &sleep_only(&[]))
        .await
        .unwrap();
    assert_eq!(
        google_redeem(&g, &c, &alone).await["scope"],
        fake_google::SCOPE_SLEEP
    );
    // With it, the new token covers the union of every grant.
    let combined =
        igor_test_support::consent(&c, &sleep_only(&[("include_granted_scopes", "true")]))
            .await
            .unwrap();
    assert_eq!(
        query_of(&combined, "scope").unwrap(),
        format!("{both} {}", fake_google::SCOPE_SLEEP)
    );
    let token = google_redeem(&g, &c, &combined).await;
    assert_eq!(
        token["scope"],
        format!("{both} {}", fake_google::SCOPE_SLEEP)
    );
    assert_eq!(g.granted_scopes(user, "gcid").len(), 3);
    // Revoking ends the whole grant.
    g.revoke_grant(user, "gcid");
    assert!(g.granted_scopes(user, "gcid").is_empty());
}

/// What the fitbit plugin refuses as Google's redirect URI is what the
/// fake's console refuses.
#[tokio::test(flavor = "multi_thread")]
async fn the_plugin_and_the_fake_agree_on_googles_redirect_rules() {
    let google = FakeGoogle::start().await;
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
