//! Token refreshes as one of many concurrent requests (the refresh lease),
//! answers of the wrong shape, and the sync bookkeeping staying bound to
//! the results it describes, against an in-memory host.

use serde_json::{Value, json};

use crate::router::handle;
use crate::testing::fitbit::{TOKEN_PATH, configured, weight_body, with_token};
use crate::testing::{MemoryHost, auth_header, put_into, query_of, request, response};
use igor_plugin_sdk::FetchRequest;

const LEASE_PATH: &str = "identities/jack/plugindata/fitbit/token_lease";

fn run(host: &MemoryHost) -> igor_plugin_sdk::Response {
    handle(host, &request("GET", "/", &[("user", "jack")]))
}

fn token_calls(host: &MemoryHost) -> usize {
    host.sent_urls()
        .iter()
        .filter(|u| u.ends_with("/oauth2/token"))
        .count()
}

#[test]
fn the_refreshing_request_holds_the_lease_until_the_token_is_saved() {
    let host = configured();
    with_token(&host, 0.0);
    let documents = host.documents.clone();
    host.respond(move |r: &FetchRequest| {
        if r.url.ends_with("/oauth2/token") {
            assert!(documents.borrow().contains_key(LEASE_PATH), "lease held");
            return response(
                200,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}),
            );
        }
        assert_eq!(auth_header(r).as_deref(), Some("Bearer A2"));
        response(200, weight_body())
    });
    let r = run(&host);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.get(TOKEN_PATH).unwrap()["refresh_token"], "R2");
    assert!(host.get(LEASE_PATH).is_none(), "released");
    assert!(host.slept.borrow().is_empty(), "nobody to wait for");
}

#[test]
fn a_request_waits_for_the_lease_holder_and_uses_its_token() {
    let host = configured();
    with_token(&host, 0.0);
    let now = host.now.get();
    host.put(
        LEASE_PATH,
        json!({"holder": "hother", "expires_at": now + 30.0}),
    );
    let (documents, revision) = (host.documents.clone(), host.revision.clone());
    let mut waited = 0;
    host.on_sleep(move |_| {
        waited += 1;
        if waited == 3 {
            // The holder saves its token and releases the lease.
            put_into(
                &documents,
                &revision,
                TOKEN_PATH,
                json!({
                "access_token": "A2", "refresh_token": "R2", "expires_at": now + 28800.0,
                "provider": "fitbit"}),
            );
            documents.borrow_mut().remove(LEASE_PATH);
        }
    });
    host.respond(|r: &FetchRequest| {
        assert!(!r.url.ends_with("/oauth2/token"), "no second refresh");
        assert_eq!(auth_header(r).as_deref(), Some("Bearer A2"));
        response(200, weight_body())
    });
    let r = run(&host);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.slept.borrow().len(), 3);
    assert!(host.get(LEASE_PATH).is_none());
}

#[test]
fn a_dead_holders_lease_is_taken_over_once_it_expires() {
    let host = configured();
    with_token(&host, 0.0);
    let now = host.now.get();
    host.put(
        LEASE_PATH,
        json!({"holder": "hdead", "expires_at": now + 5.0}),
    );
    host.respond(|r: &FetchRequest| {
        if r.url.ends_with("/oauth2/token") {
            return response(
                200,
                json!({"access_token": "A2", "refresh_token": "R2", "expires_in": 28800}),
            );
        }
        response(200, weight_body())
    });
    let r = run(&host);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(token_calls(&host), 1);
    let waited: f64 = host.slept.borrow().iter().sum();
    assert!(
        (5.0..6.0).contains(&waited),
        "waited {waited} s for a 5 s lease"
    );
    assert!(host.get(LEASE_PATH).is_none());
}

#[test]
fn waiting_is_bounded_by_the_lease_time() {
    let host = configured();
    with_token(&host, 0.0);
    host.put("sensors/fitbit/jack", json!({"weight": []}));
    // Holders that keep coming and never save.
    let now = host.now.get();
    host.put(
        LEASE_PATH,
        json!({"holder": "hbusy", "expires_at": now + 30.0}),
    );
    let (documents, revision, clock) = (
        host.documents.clone(),
        host.revision.clone(),
        host.now.clone(),
    );
    host.on_sleep(move |_| {
        put_into(
            &documents,
            &revision,
            LEASE_PATH,
            json!({"holder": "hbusy", "expires_at": clock.get() + 30.0}),
        );
    });
    let mut r = request("GET", "/", &[("user", "jack")]);
    r.context
        .config
        .push(("token_lease_seconds".into(), "4".into()));
    let answer = handle(&host, &r);
    assert_eq!(answer.status, 503, "{}", answer.body_text());
    assert!(
        answer.body_text().contains("try again"),
        "{}",
        answer.body_text()
    );
    let waited: f64 = host.slept.borrow().iter().sum();
    assert!(
        (5.0..5.5).contains(&waited),
        "waited {waited} s for a 4 s lease"
    );
    assert!(host.sent.borrow().is_empty(), "no refresh, no data call");
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": []})
    );
}

/// A request that would wait for another's refresh past the host's
/// deadline answers 503 with `Retry-After` before it, instead of being cut
/// off (504).
#[test]
fn waiting_ends_before_the_hosts_deadline_with_a_503_to_retry() {
    let host = configured();
    with_token(&host, 0.0);
    let now = host.now.get();
    host.put(
        LEASE_PATH,
        json!({"holder": "hbusy", "expires_at": now + 600.0}),
    );
    host.deadline_remaining_ms.set(5_000);
    let mut r = request("GET", "/", &[("user", "jack")]);
    r.context
        .config
        .push(("token_lease_seconds".into(), "600".into()));
    let answer = handle(&host, &r);
    assert_eq!(answer.status, 503, "{}", answer.body_text());
    assert!(answer.headers.contains(&("retry-after".into(), "5".into())));
    let waited: f64 = host.slept.borrow().iter().sum();
    assert!(waited <= 3.5, "waited {waited} s of the 5 s left");
    assert!(host.sent.borrow().is_empty());
}

/// The token endpoint's 429 is the caller's 429, with its `Retry-After`.
#[test]
fn a_rate_limited_token_endpoint_answers_429_to_retry() {
    let host = configured();
    with_token(&host, 0.0);
    host.respond(|r| {
        assert!(r.url.ends_with("/oauth2/token"), "{}", r.url);
        let mut limited = response(429, json!({"errors": [{"errorType": "system"}]}))?;
        limited.headers.push(("retry-after".into(), "120".into()));
        Ok(limited)
    });
    let answer = run(&host);
    assert_eq!(answer.status, 429, "{}", answer.body_text());
    assert!(
        answer
            .headers
            .contains(&("retry-after".into(), "120".into()))
    );
    assert!(answer.body_text().contains("rate limited"));
    assert_eq!(token_calls(&host), 1);
}

#[test]
fn wrong_shapes_from_the_legacy_api_are_502s_that_store_nothing() {
    let cases = [
        (
            "get_bodyweight",
            vec![],
            json!({"weight": "lots"}),
            "'weight' is not a list",
        ),
        (
            "get_bodyweight",
            vec![],
            json!({"weight": [{"weight": "80", "date": "2026-11-20"}]}),
            "weight",
        ),
        (
            "get_bodyweight",
            vec![],
            json!({"something": []}),
            "'weight'",
        ),
        (
            "get_bodyfat",
            vec![],
            json!({"fat": [{"date": "2026-11-20"}]}),
            "fat",
        ),
        (
            "time_series",
            vec![("resource", "body/weight"), ("period", "7d")],
            json!({"body-weight": {}}),
            "'body-weight'",
        ),
        (
            "intraday_time_series",
            vec![("resource", "activities/steps")],
            json!({"activities-steps": []}),
            "intraday",
        ),
        ("sleep", vec![], json!({"sleep": 3}), "'sleep'"),
        ("user_profile_get", vec![], json!({"user": []}), "'user'"),
        ("get_devices", vec![], json!([1, 2]), "'devices'[0]"),
    ];
    for (method, args, answer, needle) in cases {
        let host = configured();
        with_token(&host, 3600.0);
        host.put("sensors/fitbit/jack", json!({"weight": []}));
        let reply = answer.clone();
        host.respond(move |_| response(200, reply.clone()));
        let mut query = vec![("user", "jack"), ("methods", method)];
        query.extend(args);
        let r = handle(&host, &request("GET", "/", &query));
        let text = r.body_text();
        assert_eq!(r.status, 502, "{method}: {text}");
        assert!(
            text.contains(method) && text.contains(needle),
            "{method}: {text}"
        );
        assert_eq!(
            host.get("sensors/fitbit/jack").unwrap(),
            json!({"weight": []}),
            "{method}"
        );
    }
}

#[test]
fn error_texts_echo_caller_input_bounded() {
    let host = configured();
    with_token(&host, 3600.0);
    let huge = "x".repeat(20_000);
    for query in [
        vec![("user", huge.as_str())],
        vec![("user", "jack"), ("methods", huge.as_str())],
        vec![("user", "jack"), ("period", huge.as_str())],
        vec![("user", "jack"), (huge.as_str(), "1")],
    ] {
        let r = handle(&host, &request("GET", "/", &query));
        assert_eq!(r.status, 400);
        assert!(r.body.len() < 1000, "{} bytes echoed", r.body.len());
    }
    let r = handle(&host, &request("GET", &format!("/{huge}"), &[]));
    assert_eq!(r.status, 404);
    assert!(r.body.len() < 1000);
    assert!(host.sent.borrow().is_empty());
}

// ------------------------------------------------------------ sync bookkeeping

fn google_host() -> MemoryHost {
    let host = MemoryHost::default();
    host.put(
        "plugindata/fitbit",
        json!({"client_id": "c.apps.googleusercontent.com", "system": "METRIC"}),
    );
    host.secrets
        .borrow_mut()
        .insert("client_secret".into(), "s".into());
    host.put(TOKEN_PATH, json!({
        "access_token": "ya29.A1", "refresh_token": "1//R1", "expires_at": host.now.get() + 3600.0,
        "provider": "google-health", "healthUserId": "1",
        "scope": "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly"}));
    host
}

/// Weigh-ins at 06:00 UTC on days of November 2026 (the host's clock is
/// 2026-11-25 09:46:40 UTC).
fn points(days: &[u32]) -> Value {
    let list: Vec<Value> = days
        .iter()
        .map(|d| json!({"name": format!("users/1/dataTypes/weight/dataPoints/p{d}"),
            "weight": {"sampleTime": {"physicalTime": format!("2026-11-{d:02}T06:00:00Z"), "utcOffset": "0s"},
                       "weightGrams": 80_000.0 + f64::from(*d)}}))
        .collect();
    json!({"dataPoints": list})
}

fn weight_ids(host: &MemoryHost) -> usize {
    host.get("sensors/fitbit/jack").unwrap()["weight"]
        .as_array()
        .unwrap()
        .len()
}

/// The first day a weight list's civil filter asks for.
fn listed_from(url: &str) -> String {
    query_of(url)["filter"]
        .split('"')
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn sync_bookkeeping_never_runs_ahead_of_the_results() {
    let host = google_host();
    let month = |host: &MemoryHost| {
        handle(
            host,
            &request("GET", "/", &[("user", "jack"), ("period", "30d")]),
        )
    };
    let upstream = std::rc::Rc::new(std::cell::RefCell::new(points(&[1, 10, 20])));
    let reply = upstream.clone();
    host.respond(move |r: &FetchRequest| {
        if r.url.contains("/dataTypes/height/") {
            return response(200, json!({}));
        }
        // What the civil filter asks for: from its first day on.
        let from = listed_from(&r.url);
        let all = reply.borrow().clone();
        let kept: Vec<Value> = all["dataPoints"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["weight"]["sampleTime"]["physicalTime"].as_str().unwrap()[..10] >= *from)
            .cloned()
            .collect();
        response(200, json!({"dataPoints": kept}))
    });
    assert_eq!(month(&host).status, 200);
    assert_eq!(weight_ids(&host), 3);
    // A run that trusts its bookkeeping reads the last week only.
    host.sent.borrow_mut().clear();
    assert_eq!(month(&host).status, 200);
    assert_eq!(listed_from(&host.sent_urls()[0]), "2026-11-19");
    assert_eq!(weight_ids(&host), 3);
    // A concurrent run that read before the 10th was logged stores its
    // older result last; its bookkeeping never lands.
    host.put(
        "sensors/fitbit/jack",
        json!({"weight": [
        {"logId": 1, "date": "2026-11-01", "time": "06:00:00", "weight": 80.001},
        {"logId": 20, "date": "2026-11-20", "time": "06:00:00", "weight": 80.02}]}),
    );
    // The bookkeeping no longer describes `sensors`: the next run reads
    // the whole window, and the 10th is not lost.
    host.sent.borrow_mut().clear();
    assert_eq!(month(&host).status, 200);
    assert_eq!(listed_from(&host.sent_urls()[0]), "2026-10-27");
    assert_eq!(weight_ids(&host), 3);
    // ... after which incremental runs resume.
    host.sent.borrow_mut().clear();
    assert_eq!(month(&host).status, 200);
    assert_eq!(listed_from(&host.sent_urls()[0]), "2026-11-19");
    assert_eq!(weight_ids(&host), 3);
}
