//! Google's rules, whole flows: the redirect URI a home can register
//! (loopback with paste-back), consent that grows with what a user runs,
//! and access that ends after 7 days in Testing and says so in time.

use serde_json::json;

use crate::provider::google::{SCOPE_METRICS, SCOPE_SETTINGS, SCOPE_SLEEP};
use crate::router::handle;
use crate::testing::{MemoryHost, form, form_value, query_of, request, response};
use crate::tests::google::{configured, refresh_tokens_refused, run, start_auth, with_token};
use igor_plugin_sdk::Response;

const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";
const PENDING_PATH: &str = "plugindata/fitbit/pending";
const NOTICE_PATH: &str = "status/sensors/fitbit/notice";
const DAY: f64 = 86_400.0;

/// Google's token endpoint and identity, answering every exchange.
fn google_answers(host: &MemoryHost, scope: &'static str) {
    host.respond(move |r| {
        if r.url == TOKEN_URL {
            return response(
                200,
                json!({"access_token": "ya29.N", "refresh_token": "1//N", "expires_in": 3599,
                       "scope": scope, "token_type": "Bearer"}),
            );
        }
        response(200, json!({"healthUserId": "4957304218837201659"}))
    });
}

fn paste(host: &MemoryHost, user: &str, address: &str) -> Response {
    handle(
        host,
        &form("/auth2", &[("user", user), ("address", address)]),
    )
}

#[test]
fn a_pasted_address_completes_with_the_checks_of_the_redirect() {
    let host = configured(None);
    let q = start_auth(&host, "jack");
    // Google refuses http://igor.test: the browser goes to loopback instead.
    let redirect = "http://localhost/plugin/fitbit/auth2";
    assert_eq!(q["redirect_uri"], redirect);
    let page = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    assert!(page.contains("Google will refuse this base URL"), "{page}");
    assert!(page.contains("name=\"address\""), "{page}");
    assert!(page.contains("action=\"/plugin/fitbit/auth2\""));
    google_answers(&host, SCOPE_METRICS);

    let state = &q["state"];
    let good = format!("{redirect}?state={state}&code=4/0C0DE&scope={SCOPE_METRICS}");
    let other_nonce = format!("jack.{}", "ab".repeat(32));
    for (user, address, says) in [
        ("jack", "  ".to_string(), "Paste the whole address"),
        ("jack", "no address".to_string(), "not a web address"),
        ("jill", good.clone(), "of jack, not of jill"),
        (
            "jack",
            format!("{redirect}?state={other_nonce}&code=4/0C0DE"),
            "does not match",
        ),
        (
            "jack",
            format!("http://localhost:8080/plugin/fitbit/auth2?state={state}&code=4/0C0DE"),
            "not the address the provider sent your browser to",
        ),
    ] {
        let r = paste(&host, user, &address);
        assert_eq!(r.status, 400, "{address}");
        assert!(r.body_text().contains(says), "{says}: {}", r.body_text());
        assert!(r.body_text().contains("Nothing was stored"));
        assert!(
            host.get(PENDING_PATH).unwrap().get("jack").is_some(),
            "a wrong paste uses nothing up"
        );
    }
    assert!(host.sent.borrow().is_empty() && host.get(TOKEN_PATH).is_none());

    let done = paste(&host, "jack", &good);
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(
        done.body_text()
            .contains("Google Health access for jack is set up")
    );
    let exchange = host.sent.borrow()[0].clone();
    assert_eq!(form_value(&exchange, "redirect_uri").unwrap(), redirect);
    assert_eq!(form_value(&exchange, "code").unwrap(), "4/0C0DE");
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["granted_at"], host.now.get());

    // Reused: nothing is sent again, the token stays.
    let again = paste(&host, "jack", &good);
    assert_eq!(again.status, 400);
    assert!(again.body_text().contains("already used or never started"));
    assert_eq!(host.sent.borrow().len(), 2, "exchange and identity only");

    // Expired: older than 10 minutes, nothing stored.
    let q = start_auth(&host, "jack");
    host.now.set(host.now.get() + 601.0);
    let before = crate::testing::data(&host);
    let late = paste(
        &host,
        "jack",
        &format!("{redirect}?state={}&code=4/0LATE", q["state"]),
    );
    assert!(
        late.body_text().contains("10 minutes"),
        "{}",
        late.body_text()
    );
    assert_eq!(crate::testing::data(&host), before);

    // A cross-site post is refused like every form.
    let mut cross = form("/auth2", &[("user", "jack"), ("address", &good)]);
    cross
        .headers
        .push(("origin".into(), "https://evil.example".into()));
    assert_eq!(handle(&host, &cross).status, 403);
}

fn page_at(base: &str) -> String {
    let host = MemoryHost::default();
    let mut r = request("GET", "/page/setup.html", &[]);
    r.context.base_url = base.into();
    handle(&host, &r).body_text()
}

#[test]
fn the_setup_page_says_which_redirect_google_accepts() {
    let lan = page_at("http://igor.local:9333");
    assert!(lan.contains("Google will refuse this base URL"), "{lan}");
    assert!(lan.contains("plain http on a host that is not localhost"));
    assert!(lan.contains("<code>http://localhost:9333/plugin/fitbit/auth2</code>"));
    assert!(lan.contains("server.base_url"));
    let ip = page_at("https://192.168.1.20:9333");
    assert!(ip.contains("raw IP address"), "{ip}");
    for accepted in ["https://igor.example.com", "http://127.0.0.1:9333"] {
        let page = page_at(accepted);
        assert!(!page.contains("Google will refuse"), "{accepted}");
        assert!(page.contains(&format!("<code>{accepted}/plugin/fitbit/auth2</code>")));
    }
}

#[test]
fn a_call_needing_more_consent_names_it_and_the_link_that_adds_it() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    let before = crate::testing::data(&host);
    let r = run(&host, &[("user", "jack"), ("methods", "sleep")]);
    assert_eq!(r.status, 403);
    let text = r.body_text();
    assert!(text.contains("has not allowed access to sleep"), "{text}");
    assert!(
        text.contains("http://igor.test/plugin/fitbit/auth1?user=jack&scope=sleep.readonly"),
        "{text}"
    );
    assert!(host.sent.borrow().is_empty() && crate::testing::data(&host) == before);
    let history = host
        .get("identities/jack/plugindata/fitbit/history")
        .unwrap();
    assert!(
        history["last_error"]["message"]
            .as_str()
            .unwrap()
            .contains("sleep")
    );

    // The link asks for what was granted and what is missing, incrementally.
    let started = handle(
        &host,
        &request(
            "GET",
            "/auth1",
            &[("user", "jack"), ("scope", "sleep.readonly")],
        ),
    );
    let q = query_of(started.header("location").unwrap());
    // (with the settings for the user's time zone, which the weight needs)
    assert_eq!(
        q["scope"],
        format!("{SCOPE_METRICS} {SCOPE_SLEEP} {SCOPE_SETTINGS}")
    );
    assert_eq!(q["include_granted_scopes"], "true");
    let bad = handle(
        &host,
        &request("GET", "/auth1", &[("user", "jack"), ("scope", "calendar")]),
    );
    assert_eq!(bad.status, 400);

    // A token without a recorded scope is left to Google to judge.
    host.put(
        TOKEN_PATH,
        json!({"access_token": "a", "refresh_token": "r", "provider": "google-health",
               "expires_at": host.now.get() + 3000.0}),
    );
    host.respond(|_| response(200, json!({})));
    assert_eq!(
        run(&host, &[("user", "jack"), ("methods", "sleep")]).status,
        200
    );
}

#[test]
fn testing_access_is_announced_a_day_ahead_and_after_the_end() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    let now = host.now.get();
    let mut token = host.get(TOKEN_PATH).unwrap();
    token["granted_at"] = json!(now - 6.5 * DAY);
    host.put(TOKEN_PATH, token);
    host.respond(|_| response(200, json!({})));

    // Production (or not said): nothing is known to end.
    assert_eq!(run(&host, &[("user", "jack")]).status, 200);
    assert!(host.get(NOTICE_PATH).is_none());

    let r = handle(
        &host,
        &form("/settings", &[("publishing_status", "testing")]),
    );
    assert_eq!(r.status, 200);
    assert_eq!(run(&host, &[("user", "jack")]).status, 200);
    let ends = crate::html::utc_time(now + 0.5 * DAY);
    let notice = host.get(NOTICE_PATH).unwrap()["jack"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        notice,
        format!(
            "authorise jack again before {ends}, when the access ends (Google ends the access of \
             apps in Testing 7 days after consent): http://igor.test/plugin/fitbit/auth1?user=jack"
        )
    );
    let page = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    assert!(
        page.contains(&format!("authorise jack again before {ends}")),
        "{page}"
    );

    // After the end Google refuses the refresh token: "since".
    host.now.set(now + 0.9 * DAY);
    refresh_tokens_refused(&host);
    assert_eq!(run(&host, &[("user", "jack")]).status, 502);
    let notice = host.get(NOTICE_PATH).unwrap()["jack"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        notice.starts_with(&format!("authorise jack again since {ends}")),
        "{notice}"
    );

    // Re-authorising needs nothing else and clears the notice.
    let q = start_auth(&host, "jack");
    google_answers(&host, SCOPE_METRICS);
    let done = handle(
        &host,
        &request("GET", "/auth2", &[("code", "4/0N"), ("state", &q["state"])]),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(host.get(NOTICE_PATH).is_none());
    assert_eq!(host.get(TOKEN_PATH).unwrap()["granted_at"], now + 0.9 * DAY);
}

#[test]
fn google_ending_a_grant_after_seven_days_reveals_testing() {
    let host = configured(Some("en_GB"));
    with_token(&host, -10.0, SCOPE_METRICS);
    let now = host.now.get();
    let mut token = host.get(TOKEN_PATH).unwrap();
    token["granted_at"] = json!(now - 7.0 * DAY - 3600.0);
    host.put(TOKEN_PATH, token);
    refresh_tokens_refused(&host);
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("Token has been expired or revoked."));
    assert_eq!(
        host.get("plugindata/fitbit").unwrap()["publishing_status"],
        "testing"
    );
    let ended = crate::html::utc_time(now - 3600.0);
    let notice = host.get(NOTICE_PATH).unwrap()["jack"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        notice.starts_with(&format!("authorise jack again since {ended}")),
        "{notice}"
    );
    let page = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    assert!(page.contains(&format!("<b>ended {ended}</b>")), "{page}");
    assert!(page.contains("<option value=\"testing\" selected>"));
}
