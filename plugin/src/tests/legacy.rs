//! Whole flows against an in-memory host: authorisation, fetching with
//! proactive and reactive refresh, races, errors, settings.

use serde_json::json;

use crate::router::handle;
use crate::testing::fitbit::{API, configured, weight_body, with_token};
use crate::testing::{
    MemoryHost, auth_header, form, form_value, put_into, request, response, run_ok, state_of,
};
use igor_plugin_sdk::Credential;

#[test]
fn authorisation_round_trip_stores_the_token() {
    let host = configured();
    let started = handle(&host, &request("GET", "/auth1", &[("user", "jack")]));
    assert_eq!(started.status, 303);
    let location = url::Url::parse(started.header("location").unwrap()).unwrap();
    assert!(
        location
            .as_str()
            .starts_with("https://www.fitbit.com/oauth2/authorize?")
    );
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "22ABCD");
    assert_eq!(q["redirect_uri"], "http://igor.test/plugin/fitbit/auth2");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["scope"].split(' ').any(|s| s == "weight"));
    let state = q["state"].clone();
    assert!(state.starts_with("jack."));

    host.respond(|r| {
        assert_eq!(r.url, format!("{API}/oauth2/token"));
        response(
            200,
            json!({"access_token": "A1", "refresh_token": "R1", "expires_in": 28800,
                   "scope": "weight", "token_type": "Bearer", "user_id": "GGNJL9"}),
        )
    });
    let done = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C0DE"), ("state", &state)]),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(done.body_text().contains("page/setup.html?user=jack"));
    let exchange = host.sent.borrow()[0].clone();
    assert_eq!(
        form_value(&exchange, "grant_type").unwrap(),
        "authorization_code"
    );
    assert_eq!(form_value(&exchange, "code").unwrap(), "C0DE");
    let verifier = form_value(&exchange, "code_verifier").unwrap();
    assert_eq!(crate::oauth::pkce_challenge(&verifier), q["code_challenge"]);
    assert_eq!(
        exchange.credential,
        Some(Credential::Basic {
            user: "22ABCD".into(),
            secret: "client_secret".into()
        })
    );
    assert!(
        auth_header(&exchange).is_none(),
        "the plugin never builds the secret itself"
    );
    let token = host.get("identities/jack/plugindata/fitbit/token").unwrap();
    assert_eq!(token["refresh_token"], "R1");
    assert_eq!(token["provider"], "fitbit");
    assert_eq!(token["expires_at"], host.now.get() + 28800.0);

    // The state is single-use.
    let again = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C0DE"), ("state", &state)]),
    );
    assert_eq!(again.status, 400);
    assert_eq!(host.sent.borrow().len(), 1);
}

#[test]
fn forged_or_expired_states_are_refused() {
    let host = configured();
    let started = handle(&host, &request("GET", "/auth1", &[("user", "jack")]));
    let state = state_of(&started);
    let forged = format!("jack.{}", "0".repeat(64));
    let other_user = state.replace("jack.", "jill.");
    for bad in ["jack", forged.as_str(), other_user.as_str()] {
        let r = handle(
            &host,
            &request("GET", "/auth2", &[("code", "C"), ("state", bad)]),
        );
        assert_eq!(r.status, 400, "{bad}");
    }
    host.now.set(host.now.get() + 601.0);
    let late = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C"), ("state", &state)]),
    );
    assert_eq!(late.status, 400);
    assert!(late.body_text().contains("10 minutes"));
    assert!(host.sent.borrow().is_empty());
}

#[test]
fn fetch_stores_results_and_sends_units() {
    let host = configured();
    host.put(
        "plugindata/fitbit",
        json!({"client_id": 227123, "system": "en_GB"}),
    );
    with_token(&host, 3600.0);
    host.respond(|_| response(200, weight_body()));
    run_ok(&host, &[("user", "jack")]);
    let sent = host.sent.borrow()[0].clone();
    // The host's local date (UTC+1) of the fixed clock, 2026-11-25T09:46Z.
    assert_eq!(
        sent.url,
        format!("{API}/1/user/-/body/log/weight/date/2026-11-25.json")
    );
    assert_eq!(auth_header(&sent).unwrap(), "Bearer A1");
    assert!(
        sent.headers
            .contains(&("accept-language".into(), "en_GB".into()))
    );
    assert_eq!(host.get("sensors/fitbit/jack").unwrap(), weight_body());
}

#[test]
fn expired_tokens_are_refreshed_first_and_saved_before_use() {
    let host = configured();
    with_token(&host, 30.0); // within the refresh margin
    host.respond(|r| {
        if r.url.ends_with("/oauth2/token") {
            assert_eq!(form_value(r, "refresh_token").unwrap(), "R1");
            response(
                200,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}),
            )
        } else {
            assert_eq!(auth_header(r).unwrap(), "Bearer A2");
            response(200, weight_body())
        }
    });
    run_ok(&host, &[("user", "jack")]);
    let token = host.get("identities/jack/plugindata/fitbit/token").unwrap();
    assert_eq!(
        (
            token["access_token"].as_str(),
            token["refresh_token"].as_str()
        ),
        (Some("A2"), Some("R2"))
    );
}

#[test]
fn a_401_expired_token_refreshes_and_retries_once() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|r| {
        if r.url.ends_with("/oauth2/token") {
            return response(200, json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}));
        }
        match auth_header(r).as_deref() {
            Some("Bearer A1") => response(
                401,
                json!({"errors": [{"errorType": "expired_token", "message": "Access token expired: A1"}], "success": false}),
            ),
            _ => response(200, weight_body()),
        }
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(host.sent.borrow().len(), 3);
}

#[test]
fn a_request_that_loses_the_refresh_race_uses_the_winners_token() {
    let host = configured();
    with_token(&host, 0.0);
    let (documents, revision) = (host.documents.clone(), host.revision.clone());
    host.respond(move |r| {
        if r.url.ends_with("/oauth2/token") {
            // Another request saved its refreshed token meanwhile; Fitbit
            // answers an identical refresh with the same tokens.
            put_into(
                &documents,
                &revision,
                "identities/jack/plugindata/fitbit/token",
                json!({"access_token": "A2", "refresh_token": "R2", "expires_at": 1.0e12, "provider": "fitbit"}),
            );
            response(200, json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}))
        } else {
            assert_eq!(auth_header(r).unwrap(), "Bearer A2");
            response(200, weight_body())
        }
    });
    run_ok(&host, &[("user", "jack")]);
    let token = host.get("identities/jack/plugindata/fitbit/token").unwrap();
    assert_eq!(token["expires_at"], 1.0e12, "the winner's token stays");
}

#[test]
fn a_used_refresh_token_changes_nothing_and_says_reauthorise() {
    let host = configured();
    with_token(&host, 0.0);
    host.put("sensors/fitbit/jack", json!({"weight": []}));
    let before = crate::testing::data(&host);
    host.respond(|_| {
        response(
            400,
            json!({"errors": [{"errorType": "invalid_grant", "message": "Refresh token invalid: R1."}], "success": false}),
        )
    });
    let r = handle(&host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 502);
    let text = r.body_text();
    assert!(
        text.contains("invalid_grant") && text.contains("auth1?user=jack"),
        "{text}"
    );
    assert_eq!(crate::testing::data(&host), before);
}

#[test]
fn the_shutdown_answers_with_a_migration_message() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|_| response(410, json!({})));
    let r = handle(&host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 502);
    let text = r.body_text();
    assert!(
        text.contains("2026-11-02") && text.contains("google-health"),
        "{text}"
    );
    assert!(host.get("sensors/fitbit/jack").is_none());
}

#[test]
fn bad_requests_are_refused_before_any_call() {
    let host = configured();
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (vec![], 400, "requires user argument"),
        (
            vec![("user", "jack")],
            403,
            "requires 'token' plugindata for user 'jack'",
        ),
    ];
    for (query, status, needle) in cases {
        let r = handle(&host, &request("GET", "/", &query));
        assert_eq!(r.status, status);
        assert!(r.body_text().contains(needle), "{}", r.body_text());
    }
    with_token(&host, 3600.0);
    for (query, needle) in [
        (
            vec![("user", "jack"), ("methods", "get_weight")],
            "no method 'get_weight'",
        ),
        (vec![("user", "jack"), ("period", "2y")], "'period'"),
        (
            vec![
                ("user", "jack"),
                ("period", "7d"),
                ("end_date", "2026-11-01"),
            ],
            "not both",
        ),
    ] {
        let r = handle(&host, &request("GET", "/", &query));
        assert_eq!(r.status, 400);
        assert!(r.body_text().contains(needle), "{}", r.body_text());
    }
    assert!(host.sent.borrow().is_empty());
    host.secrets.borrow_mut().clear();
    let r = handle(&host, &request("GET", "/", &[("user", "jack")]));
    assert_eq!(r.status, 403);
    assert!(r.body_text().contains("'client_secret'"));
}

#[test]
fn user_defaults_apply_and_an_empty_methods_falls_back() {
    let host = configured();
    with_token(&host, 3600.0);
    host.put(
        "identities/jack/plugindata/fitbit",
        json!({"methods": {}, "period": "7d", "base_date": "2026-11-01"}),
    );
    host.respond(|_| response(200, weight_body()));
    run_ok(&host, &[("user", "jack"), ("period", "30d")]);
    assert_eq!(
        host.sent_urls(),
        vec![format!(
            "{API}/1/user/-/body/log/weight/date/2026-11-01/30d.json"
        )]
    );
}

#[test]
fn settings_keep_the_secret_out_of_the_store_and_the_page() {
    let host = MemoryHost::default();
    let r = handle(
        &host,
        &form(
            "/settings",
            &[
                ("client_id", "22ABCD"),
                ("client_secret", "very-secret"),
                ("system", "en_US"),
                ("returnTo", "/page/setup.html"),
            ],
        ),
    );
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some("/plugin/fitbit/page/setup.html?done=settings")
    );
    assert_eq!(host.secrets.borrow()["client_secret"], "very-secret");
    let app = host.get("plugindata/fitbit").unwrap();
    assert_eq!(app, json!({"client_id": "22ABCD", "system": "en_US"}));
    let page = handle(
        &host,
        &request("GET", "/page/setup.html", &[("user", "jack")]),
    );
    assert_eq!(page.status, 200);
    let html = page.body_text();
    assert!(!html.contains("very-secret"));
    assert!(html.contains("22ABCD") && html.contains("Create user jack"));
    // An empty secret field keeps the secret; GET never changes settings.
    handle(
        &host,
        &form("/settings", &[("client_id", "NEW"), ("client_secret", "")]),
    );
    assert_eq!(host.secrets.borrow()["client_secret"], "very-secret");
    let get = handle(
        &host,
        &request("GET", "/settings", &[("client_id", "EVIL")]),
    );
    assert_eq!(get.status, 405);
    assert_eq!(host.get("plugindata/fitbit").unwrap()["client_id"], "NEW");
    // No open redirects.
    let r = handle(
        &host,
        &form("/settings", &[("returnTo", "//evil.example/")]),
    );
    assert_eq!(r.status, 200);
}

#[test]
fn creating_modifying_and_deleting_a_user() {
    let host = configured();
    let create = handle(&host, &form("/userSettings", &[("user", "jill")]));
    assert_eq!(create.status, 200);
    assert_eq!(
        host.get("identities/jill/plugindata/fitbit").unwrap(),
        json!({})
    );
    handle(
        &host,
        &form(
            "/userSettings",
            &[
                ("user", "jill"),
                ("methods", ""),
                ("_newName", "period"),
                ("_newValue", "1m"),
            ],
        ),
    );
    assert_eq!(
        host.get("identities/jill/plugindata/fitbit").unwrap(),
        json!({"period": "1m"})
    );
    let bad = handle(
        &host,
        &form("/userSettings", &[("user", "jill"), ("token", "x")]),
    );
    assert_eq!(bad.status, 400);

    host.put(
        "identities/jill/plugindata/fitbit/token",
        json!({"access_token": "A", "refresh_token": "R", "provider": "fitbit"}),
    );
    for user in ["jill", "jack"] {
        host.put(
            &format!("identities/{user}/plugindata/fitbit/history"),
            json!({}),
        );
        host.put(
            &format!("identities/{user}/plugindata/fitbit/token_lease"),
            json!({}),
        );
        host.put(&format!("sensors/fitbit/{user}"), json!({"weight": []}));
    }
    host.respond(|_| response(200, json!({})));
    let deleted = handle(
        &host,
        &form("/userSettings", &[("user", "jill"), ("delete", "true")]),
    );
    assert_eq!(deleted.status, 200);
    let revoke = host.sent.borrow()[0].clone();
    assert_eq!(revoke.url, format!("{API}/oauth2/revoke"));
    assert_eq!(form_value(&revoke, "token").unwrap(), "R");
    // Everything about jill is gone, nothing about jack.
    let left: Vec<String> = host.documents.borrow().keys().cloned().collect();
    assert!(!left.iter().any(|path| path.contains("jill")), "{left:?}");
    for path in [
        "identities/jack/plugindata/fitbit/history",
        "identities/jack/plugindata/fitbit/token_lease",
        "sensors/fitbit/jack",
    ] {
        assert!(left.iter().any(|p| p == path), "{path} kept: {left:?}");
    }
}

#[test]
fn cross_site_posts_are_refused() {
    let host = configured();
    let mut r = form("/settings", &[("client_id", "EVIL")]);
    r.headers
        .push(("origin".into(), "http://evil.example".into()));
    assert_eq!(handle(&host, &r).status, 403);
    let mut r = form("/settings", &[("client_id", "OK")]);
    r.headers.push(("origin".into(), "http://igor.test".into()));
    assert_eq!(handle(&host, &r).status, 200);
}
