//! Legacy flows where something goes wrong upstream or concurrently: rate
//! limits, egress refusals, failing methods, refresh races and the 410.
//! Whatever fails, nothing is stored.

use serde_json::json;

use crate::router::handle;
use crate::testing::fitbit::{API, TOKEN_PATH, configured, fitbit_error, weight_body, with_token};
use crate::testing::{MemoryHost, auth_header, put_into, request, response, state_of};
use igor_plugin_sdk::{FetchError, FetchRequest};

fn run(host: &MemoryHost, query: &[(&str, &str)]) -> igor_plugin_sdk::Response {
    let mut full = vec![("user", "jack")];
    full.extend_from_slice(query);
    handle(host, &request("GET", "/", &full))
}

#[test]
fn several_methods_merge_shallowly_and_lists_land_under_devices() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|r| {
        let path = r.url.strip_prefix(API).unwrap();
        match path {
            "/1/user/-/body/log/weight/date/2026-11-25/7d.json" => response(200, weight_body()),
            "/1/user/-/body/weight/date/today/7d.json" => response(
                200,
                json!({"body-weight": [{"dateTime": "2026-11-25", "value": "80.1"}], "weight": "later wins"}),
            ),
            "/1/user/-/devices.json" => response(200, json!([{"id": "1", "type": "SCALE"}])),
            other => panic!("unexpected {other}"),
        }
    });
    let r = run(
        &host,
        &[
            ("methods", "get_bodyweight, time_series ,get_devices"),
            ("resource", "body/weight"),
            ("period", "7d"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let expected = json!({
        "weight": "later wins",
        "body-weight": [{"dateTime": "2026-11-25", "value": "80.1"}],
        "devices": [{"id": "1", "type": "SCALE"}],
    });
    assert_eq!(host.get("sensors/fitbit/jack").unwrap(), expected);
    let answered: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(answered, expected);
    // No `system` configured: no Accept-Language, so Fitbit answers metric.
    assert!(
        host.sent
            .borrow()
            .iter()
            .all(|r| r.headers.iter().all(|(k, _)| k != "accept-language"))
    );
}

#[test]
fn a_failing_later_method_stores_nothing() {
    let host = configured();
    with_token(&host, 3600.0);
    host.put("sensors/fitbit/jack", json!({"weight": "old"}));
    host.respond(|r| {
        if r.url.contains("/body/log/weight/") {
            response(200, weight_body())
        } else {
            response(500, fitbit_error("system", "Internal error"))
        }
    });
    let r = run(&host, &[("methods", "get_bodyweight,get_devices")]);
    assert_eq!(r.status, 502);
    let text = r.body_text();
    assert!(
        text.starts_with("fitbit error: ") && text.contains("Internal error"),
        "{text}"
    );
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": "old"})
    );
}

#[test]
fn rate_limits_say_when_to_retry() {
    // Without either header: until the top of the hour, when Fitbit's
    // quota resets (the fixed clock is 46:40 past the hour).
    for (headers, seconds) in [
        (vec![("retry-after", "120")], "120"),
        (vec![("fitbit-rate-limit-reset", "1201")], "1201"),
        (vec![], "800"),
    ] {
        let host = configured();
        with_token(&host, 3600.0);
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        host.respond(move |_| {
            let mut r = response(429, fitbit_error("system", "Too Many Requests"))?;
            r.headers.extend(headers.clone());
            Ok(r)
        });
        let r = run(&host, &[]);
        assert_eq!(r.status, 429);
        assert_eq!(r.header("retry-after"), Some(seconds));
        let text = r.body_text();
        assert!(
            text.starts_with("fitbit error: rate limit") && text.contains(&format!("{seconds} s")),
            "{text}"
        );
        assert_eq!(host.sent.borrow().len(), 1, "no retry against a rate limit");
        assert!(host.get("sensors/fitbit/jack").is_none());
    }
}

#[test]
fn refused_or_failed_connections_name_the_cause() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|r| Err(FetchError::Denied(format!("{} is not allowed", r.url))));
    let r = run(&host, &[]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("egress policy"), "{}", r.body_text());

    // A refresh that cannot reach the token endpoint keeps the old token.
    with_token(&host, 0.0);
    let before = host.get(TOKEN_PATH);
    host.respond(|_| Err(FetchError::Timeout));
    let r = run(&host, &[]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("timed out"), "{}", r.body_text());
    assert_eq!(host.get(TOKEN_PATH), before);
}

#[test]
fn a_token_refused_right_after_a_refresh_is_not_refreshed_again() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|r| {
        if r.url.ends_with("/oauth2/token") {
            return response(
                200,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}),
            );
        }
        response(401, fitbit_error("expired_token", "Access token expired"))
    });
    let r = run(&host, &[]);
    assert_eq!(r.status, 502);
    let refreshes = host
        .sent
        .borrow()
        .iter()
        .filter(|r| r.url.ends_with("/oauth2/token"))
        .count();
    assert_eq!(refreshes, 1);
    assert_eq!(host.sent.borrow().len(), 3);
    // The new token was saved before it was used: R1 is gone at Fitbit.
    assert_eq!(host.get(TOKEN_PATH).unwrap()["refresh_token"], "R2");
}

#[test]
fn other_401s_are_not_refreshed() {
    let host = configured();
    with_token(&host, 3600.0);
    host.respond(|_| {
        response(
            401,
            fitbit_error("invalid_token", "Access token invalid: A1."),
        )
    });
    let r = run(&host, &[]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("Access token invalid"));
    assert_eq!(host.sent.borrow().len(), 1);
}

#[test]
fn invalid_grant_after_a_concurrent_refresh_uses_the_new_token() {
    let host = configured();
    with_token(&host, 0.0);
    let (documents, revision) = (host.documents.clone(), host.revision.clone());
    host.respond(move |r: &FetchRequest| {
        if r.url.ends_with("/oauth2/token") {
            // The other request won: it saved A2/R2, and R1 is used up.
            put_into(
                &documents,
                &revision,
                TOKEN_PATH,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_at": 1.0e12, "provider": "fitbit"}),
            );
            return response(
                400,
                fitbit_error("invalid_grant", "Refresh token invalid: R1."),
            );
        }
        assert_eq!(auth_header(r).as_deref(), Some("Bearer A2"));
        response(200, weight_body())
    });
    let r = run(&host, &[]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.get(TOKEN_PATH).unwrap()["refresh_token"], "R2");
    assert_eq!(host.get("sensors/fitbit/jack").unwrap(), weight_body());
}

#[test]
fn a_token_refreshed_by_another_request_is_used_without_refreshing() {
    let host = configured();
    with_token(&host, 3600.0);
    let (documents, revision) = (host.documents.clone(), host.revision.clone());
    host.respond(move |r: &FetchRequest| {
        assert!(!r.url.ends_with("/oauth2/token"), "no second refresh");
        if auth_header(r).as_deref() == Some("Bearer A1") {
            // Meanwhile another request refreshed and saved A2/R2.
            put_into(
                &documents,
                &revision,
                TOKEN_PATH,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_at": 1.0e12, "provider": "fitbit"}),
            );
            return response(401, fitbit_error("expired_token", "Access token expired"));
        }
        response(200, weight_body())
    });
    let r = run(&host, &[]);
    assert_eq!(r.status, 200, "{}", r.body_text());
}

#[test]
fn a_410_from_the_token_endpoint_explains_the_migration_too() {
    let host = configured();
    with_token(&host, 0.0);
    let before = crate::testing::data(&host);
    host.respond(|_| response(410, json!({})));
    let r = run(&host, &[]);
    assert_eq!(r.status, 502);
    let text = r.body_text();
    assert!(text.contains(crate::errors::LEGACY_API_SHUT_DOWN), "{text}");
    assert!(
        text.contains("http://igor.test/plugin/fitbit/page/setup.html?user=jack"),
        "{text}"
    );
    assert_eq!(crate::testing::data(&host), before);
}

#[test]
fn tokens_codes_and_secrets_never_reach_the_log() {
    let host = configured();
    let started = handle(&host, &request("GET", "/auth1", &[("user", "jack")]));
    let state = state_of(&started);
    host.respond(|r| {
        if r.url.ends_with("/oauth2/token") {
            let body = if crate::testing::form_value(r, "grant_type").as_deref()
                == Some("authorization_code")
            {
                json!({"access_token": "ACCESS-ONE", "refresh_token": "REFRESH-ONE", "expires_in": 0})
            } else {
                json!({"access_token": "ACCESS-TWO", "refresh_token": "REFRESH-TWO", "expires_in": 28800})
            };
            return response(200, body);
        }
        response(200, weight_body())
    });
    let done = handle(
        &host,
        &request("GET", "/auth2", &[("code", "CODE-XYZ"), ("state", &state)]),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    let r = run(&host, &[]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let logs = host.logs.borrow().join("\n");
    assert!(!logs.is_empty());
    let nonce = state.rsplit_once('.').unwrap().1;
    for secret in [
        "ACCESS-ONE",
        "REFRESH-ONE",
        "ACCESS-TWO",
        "REFRESH-TWO",
        "CODE-XYZ",
        "s3cret",
        nonce,
    ] {
        assert!(!logs.contains(secret), "{secret} logged: {logs}");
    }
}
