//! Google's errors as clear answers; transient ones retried within budget.

use super::*;

#[test]
pub(super) fn lasting_refusals_become_clear_messages_without_retries() {
    let cases = [
        (
            403,
            scope_insufficient(),
            vec![
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "re-authorise jack",
                "http://igor.test/plugin/fitbit/auth1?user=jack",
            ],
        ),
        (
            400,
            status_body(
                400,
                "FAILED_PRECONDITION",
                "ACCOUNT_NOT_LINKED",
                "The account is not linked to Google Health.",
            ),
            vec![
                "not linked to Google Health / Fitbit data",
                "auth1?user=jack",
            ],
        ),
        (
            400,
            json!({"error": {"code": 400, "message": "Invalid filter: field 'x' is not supported.", "status": "INVALID_ARGUMENT"}}),
            vec!["rejected", "Invalid filter: field 'x' is not supported."],
        ),
    ];
    for (code, body, needles) in cases {
        let host = configured(Some("en_GB"));
        with_token(&host, 3000.0, SCOPE_METRICS);
        host.put("sensors/fitbit/jack", json!({"weight": []}));
        let reply = body.clone();
        host.respond(move |_| response(code, reply.clone()));
        let r = run(&host, &[("user", "jack")]);
        assert_eq!((r.status, r.header("retry-after")), (502, None));
        let text = r.body_text();
        for needle in needles {
            assert!(text.contains(needle), "{code} {needle}: {text}");
        }
        assert_eq!(host.sent.borrow().len(), 1, "{code}: no retry");
        assert_eq!(
            host.get("sensors/fitbit/jack").unwrap(),
            json!({"weight": []})
        );
    }
}

#[test]
pub(super) fn each_refusal_is_told_apart_by_its_reason() {
    let mint = json!({"error": {"code": 403, "message": "Could not mint UberMint from GaiaMint",
                                "status": "PERMISSION_DENIED"}});
    let cases = [
        // A legacy Fitbit account consented: every call is refused, the
        // settings included; the fix is moving the account to Google.
        (
            403,
            mint,
            vec![
                "Fitbit account",
                "Move to Google",
                "Google Account",
                "auth1?user=jack",
            ],
            "consent",
        ),
        (
            403,
            status_body(
                403,
                "PERMISSION_DENIED",
                "RESOURCE_PERMISSION_DENIED",
                "The caller does not have permission",
            ),
            vec![
                "RESOURCE_PERMISSION_DENIED",
                "remove this app's access",
                "auth1?user=jack",
            ],
            "do not cover",
        ),
        // Only ACCOUNT_NOT_LINKED means an account without Google Health data.
        (
            400,
            status_body(
                400,
                "FAILED_PRECONDITION",
                "FILTER_RANGE_TOO_LONG",
                "The range is too long.",
            ),
            vec![
                "rejected",
                "FAILED_PRECONDITION/FILTER_RANGE_TOO_LONG",
                "The range is too long.",
            ],
            "not linked",
        ),
    ];
    for (code, body, needles, absent) in cases {
        // No `system`: the units come from the settings, which fail alike.
        let host = configured(None);
        with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
        host.put("sensors/fitbit/jack", json!({"weight": []}));
        let before = crate::testing::data(&host);
        let reply = body.clone();
        host.respond(move |_| response(code, reply.clone()));
        let r = run(&host, &[("user", "jack")]);
        assert_eq!(r.status, 502, "{}", r.body_text());
        let text = r.body_text();
        for needle in needles {
            assert!(text.contains(needle), "{needle}: {text}");
        }
        assert!(!text.contains(absent), "{absent}: {text}");
        // Nothing stored: no units taken as metric for the day either.
        assert_eq!(crate::testing::data(&host), before);
    }
}

#[test]
pub(super) fn a_full_pacing_window_is_answered_429_without_calling_google() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put("sensors/fitbit/jack", json!({"weight": []}));
    // Another host used jack's 300 requests of this minute 10 s ago.
    let minute = (host.now.get() / 60.0).floor();
    host.now.set(minute * 60.0 + 10.0);
    host.put(
        "plugindata/fitbit/pacing",
        json!({"minute": minute as u64, "total": 300, "users": {"jack": 300}}),
    );
    host.respond(|r| {
        Err(igor_plugin_sdk::FetchError::Connection(format!(
            "nothing may be sent: {}",
            r.url
        )))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!((r.status, r.header("retry-after")), (429, Some("50")));
    let text = r.body_text();
    assert!(
        text.contains("300 requests a minute allowed per user") && text.contains("50 s"),
        "{text}"
    );
    assert!(host.sent.borrow().is_empty());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": []})
    );
    // The next minute, the run goes ahead and is counted.
    host.now.set(minute * 60.0 + 60.0);
    host.respond(|_| response(200, json!({})));
    run(&host, &[("user", "jack")]);
    assert!(!host.sent.borrow().is_empty());
    let pacing = host.get("plugindata/fitbit/pacing").unwrap();
    let sent = host.sent.borrow().len() as u64;
    assert_eq!(pacing["users"]["jack"], json!(sent));
    assert_eq!(pacing["total"], json!(sent));
}

#[test]
pub(super) fn resources_without_google_data_and_bad_windows_are_refused_before_any_call() {
    let host = configured(None);
    with_token(&host, 0.0, SCOPE_METRICS); // even an expired token is not refreshed
    for (query, needles) in [
        (
            vec![
                ("methods", "time_series"),
                ("resource", "foods/log/water"),
                ("period", "7d"),
            ],
            vec![
                "\"foods/log/water\" is not available",
                "activities/steps",
                "body/bmi",
            ],
        ),
        (
            vec![("base_date", "2026-11-20"), ("end_date", "2026-11-10")],
            vec!["before"],
        ),
        (
            vec![
                ("methods", "time_series"),
                ("resource", "activities/heart"),
                ("period", "6m"),
            ],
            vec!["at most 93 days", "184 days"],
        ),
        (
            vec![
                ("methods", "time_series"),
                ("resource", "activities/calories"),
                ("period", "max"),
            ],
            vec!["at most 366 days"],
        ),
    ] {
        let mut full = vec![("user", "jack")];
        full.extend(query);
        let r = run(&host, &full);
        assert_eq!(r.status, 400, "{}", r.body_text());
        for needle in needles {
            assert!(
                r.body_text().contains(needle),
                "{needle}: {}",
                r.body_text()
            );
        }
    }
    assert!(host.sent.borrow().is_empty());
}

/// Runs `query` against one canned answer with status 200 for every
/// request: the call fails with a 502 naming `method`, and what was stored
/// before stays.
fn refuses_shape(query: &[(&str, &str)], method: &str, answer: Value, needle: &str) {
    let host = configured(Some("en_GB"));
    with_token(
        &host,
        3000.0,
        &crate::provider::google::ALL_SCOPES.join(" "),
    );
    let sensors = host.put(
        "sensors/fitbit/jack",
        json!({"weight": [{"logId": 1, "weight": 12.0}]}),
    );
    // Settings and height read earlier today: only the method's own calls.
    host.put(
        SYNC_PATH,
        json!({"height": {"read_at": host.now.get(), "meters": 1.8},
               "settings": {"read_at": host.now.get(), "units": "st/km/cm/ml/mmol/c"},
               "sensors_revision": sensors.to_string()}),
    );
    host.respond(move |_| response(200, answer.clone()));
    let mut full = vec![("user", "jack")];
    full.extend_from_slice(query);
    let r = run(&host, &full);
    let text = r.body_text();
    assert_eq!(r.status, 502, "{method}: {text}");
    assert!(
        text.contains(&format!("Google Health error: {method}:")),
        "{text}"
    );
    assert!(text.contains(needle), "{needle}: {text}");
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": [{"logId": 1, "weight": 12.0}]})
    );
}

#[test]
pub(super) fn answers_of_the_wrong_shape_are_502_and_store_nothing() {
    let weights = [("methods", "get_bodyweight")];
    refuses_shape(
        &weights,
        "get_bodyweight",
        json!({"weight": "lots"}),
        "none of the expected fields",
    );
    refuses_shape(
        &weights,
        "get_bodyweight",
        json!({"dataPoints": [{"weight": "lots"}]}),
        "dataPoints[0].weight",
    );
    let mut text_weight = weight_point(
        "1",
        "2026-11-25T07:00:00Z",
        ((2026, 11, 25), (8, 0, 0)),
        1.0,
    );
    text_weight["weight"]["weightGrams"] = json!("80 kg");
    refuses_shape(
        &weights,
        "get_bodyweight",
        json!({"dataPoints": [text_weight]}),
        "dataPoints[0].weight.weightGrams",
    );
    refuses_shape(
        &weights,
        "get_bodyweight",
        json!({"dataPoints": [{"name": "users/1/dataTypes/weight/dataPoints/2"}]}),
        "dataPoints[0].weight is missing",
    );
    refuses_shape(&weights, "get_bodyweight", json!([1, 2]), "a list");
    refuses_shape(
        &[
            ("methods", "time_series"),
            ("resource", "activities/steps"),
            ("period", "1d"),
        ],
        "time_series",
        json!({"rollupDataPoints": [{"civilStartTime": {"date": {"year": 2026, "month": 11, "day": 25}},
               "steps": {"countSum": "many"}}]}),
        "countSum",
    );
    refuses_shape(
        &[
            ("methods", "time_series"),
            ("resource", "body/weight"),
            ("period", "1d"),
        ],
        "time_series",
        json!({"rollupDataPoints": [{"civilStartTime": {"date": {"year": 2026, "month": 13, "day": 1}},
               "weight": {"weightGramsAvg": 80000.0}}]}),
        "not a calendar date",
    );
    refuses_shape(
        &[("methods", "user_profile_get")],
        "user_profile_get",
        json!({"age": "forty"}),
        "age",
    );
    refuses_shape(
        &[("methods", "get_devices")],
        "get_devices",
        json!({"pairedDevices": [{"batteryLevel": "high"}]}),
        "batteryLevel",
    );
    refuses_shape(
        &[("methods", "sleep"), ("date", "2026-11-20")],
        "sleep",
        json!({"dataPoints": [{"sleep": {"interval": {"startTime": "last night", "endTime": "2026-11-20T06:00:00Z"}}}]}),
        "RFC 3339",
    );
}

/// Answers every weight list with `codes` in turn (the last one again when
/// they run out), every other list with nothing.
fn weight_lists_answer(host: &MemoryHost, codes: Vec<u16>, retry_after: Option<&'static str>) {
    let mut left = codes.into_iter().collect::<std::collections::VecDeque<_>>();
    host.respond(move |r| {
        if !is_list(&r.url, "weight") {
            return response(200, json!({}));
        }
        let code = if left.len() > 1 {
            left.pop_front().unwrap()
        } else {
            left[0]
        };
        let (status, reason) = match code {
            429 => ("RESOURCE_EXHAUSTED", "RATE_LIMIT_EXCEEDED"),
            503 => ("UNAVAILABLE", "UNAVAILABLE"),
            504 => ("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED"),
            _ => return response(200, json!({})),
        };
        let mut answer = response(code, status_body(code, status, reason, "try later"))?;
        if let Some(seconds) = retry_after {
            answer.headers.push(("retry-after".into(), seconds.into()));
        }
        Ok(answer)
    });
}

fn weight_lists_sent(host: &MemoryHost) -> usize {
    host.sent_urls()
        .iter()
        .filter(|u| is_list(u, "weight"))
        .count()
}

#[test]
pub(super) fn transient_refusals_are_retried_with_growing_jittered_waits() {
    for code in [429, 503, 504] {
        let host = configured(Some("en_GB"));
        with_token(&host, 3000.0, SCOPE_METRICS);
        weight_lists_answer(&host, vec![code, code, 200], None);
        let r = run(&host, &[("user", "jack")]);
        assert_eq!(r.status, 200, "{code}: {}", r.body_text());
        assert_eq!(weight_lists_sent(&host), 3, "{code}");
        // Exponential backoff with jitter: 1-2 s, then 2-4 s.
        let slept = host.slept.borrow().clone();
        assert_eq!(slept.len(), 2, "{code}: {slept:?}");
        assert!((1.0..=2.0).contains(&slept[0]), "{slept:?}");
        assert!((2.0..=4.0).contains(&slept[1]), "{slept:?}");
        // Each retry was paced like any request.
        let pacing = host.get("plugindata/fitbit/pacing").unwrap();
        assert_eq!(pacing["users"]["jack"], json!(host.sent.borrow().len()));
    }
}

#[test]
pub(super) fn retries_stop_at_the_budget_and_answer_as_google_did() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put("sensors/fitbit/jack", json!({"weight": []}));
    let start = host.now.get();
    weight_lists_answer(&host, vec![504], None);
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502, "{}", r.body_text());
    assert!(r.body_text().contains("unavailable"), "{}", r.body_text());
    let waited: f64 = host.slept.borrow().iter().sum();
    assert!(waited <= 8.0, "within the default 8 s: {waited}");
    assert!(host.now.get() - start <= 8.0);
    assert!(weight_lists_sent(&host) >= 2, "retried at least once");
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": []})
    );

    // Google's Retry-After past the budget: no retry, its 429 passed on.
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    weight_lists_answer(&host, vec![429], Some("30"));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!((r.status, r.header("retry-after")), (429, Some("30")));
    assert!(r.body_text().contains("300 requests per minute per user"));
    assert_eq!(weight_lists_sent(&host), 1);
    assert!(host.slept.borrow().is_empty());

    // Within it, Google's wait is kept.
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    weight_lists_answer(&host, vec![429, 200], Some("5"));
    assert_eq!(run(&host, &[("user", "jack")]).status, 200);
    assert_eq!(host.slept.borrow().clone(), vec![5.0]);

    // An operator who turned retries off gets Google's answer at once.
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    weight_lists_answer(&host, vec![503, 200], None);
    let mut request = crate::testing::request("GET", "/", &[("user", "jack")]);
    request
        .context
        .config
        .push(("google_retry_seconds".into(), "0".into()));
    assert_eq!(crate::router::handle(&host, &request).status, 502);
    assert_eq!(weight_lists_sent(&host), 1);
}

#[test]
pub(super) fn a_retry_needs_a_pacing_slot_like_any_request() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    // jack has one request left this minute (and the waits stay in it).
    let minute = (host.now.get() / 60.0).floor();
    host.now.set(minute * 60.0 + 1.0);
    host.put(
        "plugindata/fitbit/pacing",
        json!({"minute": minute as u64, "total": 299, "users": {"jack": 299}}),
    );
    weight_lists_answer(&host, vec![503, 200], None);
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502, "{}", r.body_text());
    assert_eq!(weight_lists_sent(&host), 1);
    let pacing = host.get("plugindata/fitbit/pacing").unwrap();
    assert_eq!(pacing["users"]["jack"], json!(300));
}
