//! Whole flows of the Google Health provider against an in-memory host:
//! authorisation, token handling, data mapping, errors, incremental sync,
//! mixed installations, the setup page.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::host::{Credential, FetchRequest};
use crate::provider::google::{SCOPE_ACTIVITY, SCOPE_METRICS, SCOPE_SETTINGS, SCOPE_SLEEP};
use crate::router::handle;
use crate::testing::{MemoryHost, form, request, response};

const API: &str = "https://health.googleapis.com";
const TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
const CLIENT: &str = "1234-abc.apps.googleusercontent.com";
const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";
const SYNC_PATH: &str = "identities/jack/plugindata/fitbit/sync";
/// The host's local day of the fixed clock (2026-11-25T09:46:40Z, UTC+1)
/// in UTC: the default window of the list filters.
const DAY_START: &str = "2026-11-24T23:00:00Z";
const DAY_END: &str = "2026-11-25T23:00:00Z";

fn configured(system: Option<&str>) -> MemoryHost {
    let host = MemoryHost::default();
    let mut app = json!({"client_id": CLIENT});
    if let Some(system) = system {
        app["system"] = json!(system);
    }
    host.put("plugindata/fitbit", app);
    host.secrets
        .borrow_mut()
        .insert("client_secret".into(), "g-s3cret".into());
    host
}

fn with_token(host: &MemoryHost, expires_in: f64, scope: &str) {
    host.put(
        TOKEN_PATH,
        json!({
            "access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599,
            "expires_at": host.now.get() + expires_in, "provider": "google-health",
            "scope": scope, "token_type": "Bearer",
            "healthUserId": "4957304218837201659", "legacyUserId": "GGNJL9"
        }),
    );
}

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn path_of(url: &str) -> String {
    url::Url::parse(url).unwrap().path().to_string()
}

fn form_value(request: &FetchRequest, key: &str) -> Option<String> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn bearer(request: &FetchRequest) -> Option<String> {
    request
        .headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.clone())
}

fn civil(date: (i32, u32, u32), time: (u32, u32, u32)) -> Value {
    json!({"date": {"year": date.0, "month": date.1, "day": date.2},
           "time": {"hours": time.0, "minutes": time.1, "seconds": time.2}})
}

/// A weight point as the API renders it (civil time in UTC+1).
fn weight_point(
    id: &str,
    physical: &str,
    local: ((i32, u32, u32), (u32, u32, u32)),
    grams: f64,
) -> Value {
    json!({
        "name": format!("users/4957304218837201659/dataTypes/weight/dataPoints/{id}"),
        "dataSource": {"recordingMethod": "ACTIVELY_MEASURED", "platform": "FITBIT",
                       "device": {"formFactor": "SCALE", "manufacturer": "Fitbit", "displayName": "Aria Air"}},
        "weight": {"sampleTime": {"physicalTime": physical, "utcOffset": "3600s",
                                  "civilTime": civil(local.0, local.1)},
                   "weightGrams": grams}
    })
}

fn height_point(mm: &str) -> Value {
    json!({
        "name": "users/4957304218837201659/dataTypes/height/dataPoints/h1",
        "dataSource": {"recordingMethod": "MANUAL", "platform": "FITBIT"},
        "height": {"sampleTime": {"physicalTime": "2026-01-01T10:00:00Z", "utcOffset": "3600s"},
                   "heightMillimeters": mm}
    })
}

fn is_list(url: &str, data_type: &str) -> bool {
    path_of(url) == format!("/v4/users/me/dataTypes/{data_type}/dataPoints")
}

fn filter_of(request: &FetchRequest) -> String {
    query_of(&request.url)
        .get("filter")
        .cloned()
        .unwrap_or_default()
}

fn requests(host: &MemoryHost) -> Vec<FetchRequest> {
    host.sent.borrow().clone()
}

fn run(host: &MemoryHost, query: &[(&str, &str)]) -> crate::api::Response {
    handle(host, &request("GET", "/", query))
}

// ------------------------------------------------------------ OAuth

fn start_auth(host: &MemoryHost, user: &str) -> HashMap<String, String> {
    let started = handle(host, &request("GET", "/auth1", &[("user", user)]));
    assert_eq!(started.status, 303, "{}", started.body_text());
    let location = started.header("location").unwrap().to_string();
    assert!(
        location.starts_with("https://accounts.google.com/o/oauth2/v2/auth?"),
        "{location}"
    );
    query_of(&location)
}

#[test]
fn a_new_installation_authorises_with_google_asking_only_needed_scopes() {
    let host = configured(None);
    let q = start_auth(&host, "jack");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT);
    assert_eq!(q["redirect_uri"], "http://igor.test/plugin/fitbit/auth2");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(q["state"].starts_with("jack."));
    // Default get_bodyweight without `system`: weight plus the settings for units.
    assert_eq!(q["scope"], format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));

    // With a unit system, no settings scope.
    let host = configured(Some("en_GB"));
    assert_eq!(start_auth(&host, "jack")["scope"], SCOPE_METRICS);

    // Steps and sleep: activity and sleep only.
    host.put(
        "identities/jill/plugindata/fitbit",
        json!({"methods": "time_series,sleep", "resource": "activities/steps"}),
    );
    assert_eq!(
        start_auth(&host, "jill")["scope"],
        format!("{SCOPE_ACTIVITY} {SCOPE_SLEEP}")
    );
    assert!(host.sent.borrow().is_empty());
}

#[test]
fn the_code_exchange_sends_the_secret_as_a_form_field_and_stores_the_identity() {
    let host = configured(None);
    host.put(
        SYNC_PATH,
        json!({"weight": {"last": "2026-01-01T00:00:00Z"}}),
    );
    let q = start_auth(&host, "jack");
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(
                200,
                json!({"access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599,
                       "scope": SCOPE_METRICS, "token_type": "Bearer"}),
            );
        }
        assert_eq!(r.url, format!("{API}/v4/users/me/identity"));
        assert_eq!(bearer(r).unwrap(), "Bearer ya29.A1");
        response(
            200,
            json!({"name": "users/4957304218837201659/identity",
                   "healthUserId": "4957304218837201659", "legacyUserId": "GGNJL9"}),
        )
    });
    let done = handle(
        &host,
        &request(
            "GET",
            "/auth2",
            &[("code", "4/0C0DE"), ("state", &q["state"])],
        ),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    assert!(done.body_text().contains("Google Health access for jack"));
    let exchange = requests(&host)[0].clone();
    assert_eq!(exchange.url, TOKEN_URL);
    assert_eq!(exchange.method, "POST");
    assert_eq!(
        form_value(&exchange, "grant_type").unwrap(),
        "authorization_code"
    );
    assert_eq!(form_value(&exchange, "code").unwrap(), "4/0C0DE");
    assert_eq!(form_value(&exchange, "client_id").unwrap(), CLIENT);
    assert_eq!(
        form_value(&exchange, "redirect_uri").unwrap(),
        "http://igor.test/plugin/fitbit/auth2"
    );
    let verifier = form_value(&exchange, "code_verifier").unwrap();
    assert_eq!(crate::oauth::pkce_challenge(&verifier), q["code_challenge"]);
    assert_eq!(form_value(&exchange, "client_secret"), None);
    assert_eq!(
        exchange.credential,
        Some(Credential::FormField {
            field: "client_secret".into(),
            secret: "client_secret".into()
        })
    );
    assert!(bearer(&exchange).is_none());
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["provider"], "google-health");
    assert_eq!(token["refresh_token"], "1//R1");
    assert_eq!(token["healthUserId"], "4957304218837201659");
    assert_eq!(token["legacyUserId"], "GGNJL9");
    assert_eq!(token["expires_at"], host.now.get() + 3599.0);
    assert!(
        host.get(SYNC_PATH).is_none(),
        "re-authorising forgets the sync state"
    );
}

#[test]
fn a_failed_identity_read_does_not_fail_the_authorisation() {
    let host = configured(None);
    let q = start_auth(&host, "jack");
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(200, json!({"access_token": "ya29.A1", "refresh_token": "1//R1", "expires_in": 3599}));
        }
        response(
            400,
            json!({"error": {"code": 400, "message": "The account is not linked to Google Health.",
                   "status": "FAILED_PRECONDITION",
                   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCOUNT_NOT_LINKED"}]}}),
        )
    });
    let done = handle(
        &host,
        &request("GET", "/auth2", &[("code", "C"), ("state", &q["state"])]),
    );
    assert_eq!(done.status, 200, "{}", done.body_text());
    let token = host.get(TOKEN_PATH).unwrap();
    assert!(token.get("healthUserId").is_none());
    assert!(
        host.logs
            .borrow()
            .iter()
            .any(|l| l.contains("identity not read") && l.contains("not linked")),
        "{:?}",
        host.logs.borrow()
    );
}

#[test]
fn a_refresh_without_refresh_token_keeps_the_stored_one() {
    let host = configured(Some("en_GB"));
    with_token(&host, 30.0, SCOPE_METRICS);
    host.respond(|r| {
        if r.url == TOKEN_URL {
            assert_eq!(form_value(r, "grant_type").unwrap(), "refresh_token");
            assert_eq!(form_value(r, "refresh_token").unwrap(), "1//R1");
            assert_eq!(form_value(r, "client_id").unwrap(), CLIENT);
            assert!(matches!(r.credential, Some(Credential::FormField { .. })));
            return response(
                200,
                json!({"access_token": "ya29.A2", "expires_in": 3599, "scope": SCOPE_METRICS, "token_type": "Bearer"}),
            );
        }
        assert_eq!(bearer(r).unwrap(), "Bearer ya29.A2");
        response(200, json!({}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let token = host.get(TOKEN_PATH).unwrap();
    assert_eq!(token["access_token"], "ya29.A2");
    assert_eq!(token["refresh_token"], "1//R1");
    assert_eq!(token["provider"], "google-health");
}

#[test]
fn an_expired_refresh_token_explains_the_seven_days_of_testing_mode() {
    let host = configured(Some("en_GB"));
    with_token(&host, 0.0, SCOPE_METRICS);
    host.respond(|_| {
        response(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        )
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502);
    let text = r.body_text();
    for needle in [
        "Token has been expired or revoked.",
        "auth1?user=jack",
        "7 days",
        "Testing",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(host.sent.borrow().len(), 1);
}

#[test]
fn a_401_refreshes_once_and_retries() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        if r.url == TOKEN_URL {
            return response(200, json!({"access_token": "ya29.A2", "expires_in": 3599}));
        }
        match bearer(r).as_deref() {
            Some("Bearer ya29.A1") => response(
                401,
                json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.",
                       "status": "UNAUTHENTICATED",
                       "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_EXPIRED"}]}}),
            ),
            _ if is_list(&r.url, "height") => response(200, json!({})),
            _ => response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 80_000.0)]})),
        }
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let urls = host.sent_urls();
    assert_eq!(urls.len(), 4, "{urls:?}"); // weight 401, token, weight, height
    assert_eq!(urls[1], TOKEN_URL);
    assert_eq!(host.get(TOKEN_PATH).unwrap()["access_token"], "ya29.A2");
}

#[test]
fn deleting_a_user_revokes_the_refresh_token_without_the_secret() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(SYNC_PATH, json!({}));
    host.respond(|_| response(200, json!({})));
    let r = handle(
        &host,
        &form("/userSettings", &[("user", "jack"), ("delete", "true")]),
    );
    assert_eq!(r.status, 200);
    let revoke = requests(&host)[0].clone();
    assert_eq!(revoke.url, "https://oauth2.googleapis.com/revoke");
    assert_eq!(form_value(&revoke, "token").unwrap(), "1//R1");
    assert_eq!(revoke.credential, None);
    assert!(host.get(TOKEN_PATH).is_none());
    assert!(host.get(SYNC_PATH).is_none());
}

// ------------------------------------------------------------ data

#[test]
fn weights_come_in_the_legacy_shape_and_units() {
    for (system, expected) in [
        (None, 81.23),
        (Some("en_US"), 179.09),
        (Some("en_GB"), 12.79),
    ] {
        let host = configured(system);
        with_token(&host, 3000.0, SCOPE_METRICS);
        host.respond(|r| {
            if is_list(&r.url, "height") {
                assert_eq!(query_of(&r.url)["pageSize"], "1");
                return response(200, json!({"dataPoints": [height_point("1800")]}));
            }
            assert!(is_list(&r.url, "weight"), "{}", r.url);
            response(
                200,
                json!({"dataPoints": [
                    weight_point("7002", "2026-11-25T07:12:33Z", ((2026, 11, 25), (8, 12, 33)), 81_234.5),
                    weight_point("7001", "2026-11-24T23:30:00Z", ((2026, 11, 25), (0, 30, 0)), 81_500.0),
                ]}),
            )
        });
        let r = run(&host, &[("user", "jack")]);
        assert_eq!(r.status, 200, "{}", r.body_text());
        let sent = requests(&host)[0].clone();
        let q = query_of(&sent.url);
        assert_eq!(q["pageSize"], "10000");
        assert_eq!(
            q["filter"],
            format!(
                "weight.sample_time.physical_time >= \"{DAY_START}\" AND weight.sample_time.physical_time < \"{DAY_END}\""
            )
        );
        assert!(
            sent.url.contains("%20%3E%3D%20"),
            "spaces as %20: {}",
            sent.url
        );
        assert_eq!(bearer(&sent).unwrap(), "Bearer ya29.A1");
        let stored = host.get("sensors/fitbit/jack").unwrap();
        let weights = stored["weight"].as_array().unwrap();
        // Oldest first, civil date and time, the id as logId.
        assert_eq!(weights[0]["logId"], 7001);
        assert_eq!(weights[0]["time"], "00:30:00");
        assert_eq!(
            weights[1],
            json!({"bmi": 25.07, "date": "2026-11-25", "logId": 7002, "source": "Aria Air",
                   "time": "08:12:33", "weight": expected})
        );
    }
}

#[test]
fn pages_are_followed_past_empty_ones() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        let q = query_of(&r.url);
        match q.get("pageToken").map(String::as_str) {
            None => response(200, json!({"nextPageToken": "P1"})),
            Some("P1") => response(
                200,
                json!({"dataPoints": [weight_point("abc", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)],
                       "nextPageToken": "P2"}),
            ),
            Some("P2") => {
                // The filter stays the same across pages.
                assert!(q["filter"].starts_with("weight.sample_time"));
                response(200, json!({"nextPageToken": ""}))
            }
            other => panic!("unexpected page {other:?}"),
        }
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.sent.borrow().len(), 4);
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    assert_eq!(weights.as_array().unwrap().len(), 1);
    assert_eq!(weights[0]["weight"], 10.0);
    // A non-numeric id gives a stable numeric logId.
    let id = weights[0]["logId"].as_u64().unwrap();
    assert_eq!(
        id,
        crate::provider::google::convert::log_id(
            "users/4957304218837201659/dataTypes/weight/dataPoints/abc"
        )
    );
    assert!(weights[0].get("bmi").is_none(), "no height, no BMI");
}

#[test]
fn endless_pages_are_cut_off() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|_| response(200, json!({"nextPageToken": "again"})));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 502);
    assert!(r.body_text().contains("more pages"), "{}", r.body_text());
    assert_eq!(host.sent.borrow().len(), crate::provider::google::MAX_PAGES);
}

#[test]
fn time_series_come_from_daily_rollups() {
    let host = configured(Some("en_US"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_ACTIVITY}"));
    host.respond(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let path = path_of(&r.url);
        let day = |d: u32| json!({"date": {"year": 2026, "month": 11, "day": d}, "time": {}});
        if path.ends_with("/weight/dataPoints:dailyRollUp") {
            assert_eq!(
                body,
                json!({"range": {"start": {"date": {"year": 2026, "month": 11, "day": 19}},
                                 "end": {"date": {"year": 2026, "month": 11, "day": 26}}},
                       "windowSizeDays": 1})
            );
            return response(
                200,
                json!({"rollupDataPoints": [
                    {"civilStartTime": day(21), "civilEndTime": day(22), "weight": {"weightGramsAvg": 80_000.0}},
                    {"civilStartTime": day(20), "civilEndTime": day(21), "weight": {"weightGramsAvg": 81_000.0}},
                ]}),
            );
        }
        if path.ends_with("/distance/dataPoints:dailyRollUp") {
            return response(
                200,
                json!({"rollupDataPoints": [
                    {"civilStartTime": day(25), "civilEndTime": day(26), "distance": {"millimetersSum": "8046720"}},
                ]}),
            );
        }
        panic!("unexpected {path}");
    });
    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "body/weight"),
            ("period", "7d"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let sent = requests(&host)[0].clone();
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.url,
        format!("{API}/v4/users/me/dataTypes/weight/dataPoints:dailyRollUp")
    );
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"body-weight": [
            {"dateTime": "2026-11-20", "value": "178.57"},
            {"dateTime": "2026-11-21", "value": "176.37"},
        ]})
    );

    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "activities/distance"),
            ("base_date", "2026-11-24"),
            ("end_date", "2026-11-25"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"activities-distance": [
            {"dateTime": "2026-11-24", "value": "0"},
            {"dateTime": "2026-11-25", "value": "5"},
        ]})
    );
}

#[test]
fn long_series_are_split_into_ninety_day_requests() {
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_ACTIVITY);
    host.respond(|r| {
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        let start = body["range"]["start"]["date"].clone();
        response(
            200,
            json!({"rollupDataPoints": [
                {"civilStartTime": {"date": start}, "steps": {"countSum": "8012"}},
            ]}),
        )
    });
    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("methods", "time_series"),
            ("resource", "activities/steps"),
            ("period", "6m"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let bodies: Vec<Value> = requests(&host)
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3, "2026-05-26..2026-11-25 is 184 days");
    assert_eq!(
        bodies[0]["range"]["start"]["date"],
        json!({"year": 2026, "month": 5, "day": 26})
    );
    assert_eq!(bodies[0]["range"]["end"], bodies[1]["range"]["start"]);
    assert_eq!(
        bodies[2]["range"]["end"]["date"],
        json!({"year": 2026, "month": 11, "day": 26})
    );
    let series = host.get("sensors/fitbit/jack").unwrap()["activities-steps"].clone();
    let series = series.as_array().unwrap();
    assert_eq!(series.len(), 184);
    assert_eq!(
        series[0],
        json!({"dateTime": "2026-05-26", "value": "8012"})
    );
    assert_eq!(series[1]["value"], "0");
}

#[test]
fn heart_and_sleep_map_to_legacy_like_shapes() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SLEEP}"));
    host.respond(|r| {
        let filter = filter_of(r);
        if is_list(&r.url, "daily-resting-heart-rate") {
            assert_eq!(
                filter,
                "daily_resting_heart_rate.date >= \"2026-11-20\" AND daily_resting_heart_rate.date < \"2026-11-21\""
            );
            return response(
                200,
                json!({"dataPoints": [{"name": "users/1/dataTypes/daily-resting-heart-rate/dataPoints/9",
                       "dailyRestingHeartRate": {"date": {"year": 2026, "month": 11, "day": 20}, "beatsPerMinute": "58"}}]}),
            );
        }
        assert!(is_list(&r.url, "sleep"));
        assert_eq!(query_of(&r.url)["pageSize"], "25");
        assert_eq!(
            filter,
            "sleep.interval.civil_end_time >= \"2026-11-20T00:00:00\" AND sleep.interval.civil_end_time < \"2026-11-21T00:00:00\""
        );
        response(
            200,
            json!({"dataPoints": [{"name": "users/1/dataTypes/sleep/dataPoints/77",
                "sleep": {"interval": {"startTime": "2026-11-19T22:00:00Z", "endTime": "2026-11-20T06:00:00Z",
                                       "civilStartTime": civil((2026, 11, 19), (23, 0, 0)),
                                       "civilEndTime": civil((2026, 11, 20), (7, 0, 0))},
                          "type": "STAGES",
                          "summary": {"minutesAsleep": "450", "minutesAwake": "30", "minutesInSleepPeriod": "480"},
                          "metadata": {"mainSleep": true}}}]}),
        )
    });
    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("methods", "heart,sleep"),
            ("date", "2026-11-20"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body_text());
    let stored = host.get("sensors/fitbit/jack").unwrap();
    assert_eq!(
        stored["activities-heart"],
        json!([{"dateTime": "2026-11-20", "value": {"restingHeartRate": 58}}])
    );
    let sleep = &stored["sleep"][0];
    assert_eq!(sleep["dateOfSleep"], "2026-11-20");
    assert_eq!(sleep["startTime"], "2026-11-19T23:00:00.000");
    assert_eq!(sleep["endTime"], "2026-11-20T07:00:00.000");
    assert_eq!(sleep["duration"], 28_800_000);
    assert_eq!(sleep["minutesAsleep"], 450);
    assert_eq!(sleep["minutesAwake"], 30);
    assert_eq!(sleep["isMainSleep"], true);
    assert!(sleep.get("efficiency").is_none());
    assert_eq!(stored["summary"]["totalMinutesAsleep"], 450);
}

#[test]
fn units_follow_the_users_google_settings_when_no_system_is_set() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.respond(|r| {
        if path_of(&r.url) == "/v4/users/me/settings" {
            return response(
                200,
                json!({"weightUnit": "WEIGHT_UNIT_STONE", "distanceUnit": "DISTANCE_UNIT_KILOMETERS"}),
            );
        }
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)]}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap()["weight"][0]["weight"],
        10.0
    );
    assert_eq!(host.get(SYNC_PATH).unwrap()["units"]["units"], "st/km");

    // Without the settings scope: metric, and no settings call.
    let host = configured(None);
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.respond(|r| {
        assert_ne!(path_of(&r.url), "/v4/users/me/settings");
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)]}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap()["weight"][0]["weight"],
        63.5
    );
}

// ------------------------------------------------------------ errors

fn status_body(code: u16, status: &str, reason: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status,
           "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}]}})
}

#[test]
fn google_errors_become_clear_messages_without_retries() {
    let cases = [
        (
            403,
            status_body(
                403,
                "PERMISSION_DENIED",
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "Request had insufficient authentication scopes.",
            ),
            vec![
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "re-authorise jack",
                "http://igor.test/plugin/fitbit/auth1?user=jack",
            ],
        ),
        (
            429,
            status_body(
                429,
                "RESOURCE_EXHAUSTED",
                "RATE_LIMIT_EXCEEDED",
                "Quota exceeded for quota metric 'Queries'",
            ),
            vec![
                "quota",
                "300 requests per minute per user",
                "nothing was retried",
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
        assert_eq!(r.status, 502, "{code}");
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
fn methods_without_a_google_equivalent_are_refused_before_any_call() {
    let host = configured(None);
    with_token(&host, 0.0, SCOPE_METRICS); // even an expired token is not refreshed
    for (query, needles) in [
        (
            vec![("methods", "get_bodyweight,get_devices")],
            vec![
                "get_devices is not available from Google Health",
                "alternatives",
            ],
        ),
        (
            vec![
                ("methods", "intraday_time_series"),
                ("resource", "activities/heart"),
            ],
            vec!["intraday_time_series is not available", "time_series"],
        ),
        (
            vec![("methods", "user_profile_get")],
            vec!["user_profile_get is not available"],
        ),
        (
            vec![
                ("methods", "time_series"),
                ("resource", "activities/calories"),
                ("period", "7d"),
            ],
            vec![
                "\"activities/calories\" is not available",
                "activities/steps",
                "body/weight",
            ],
        ),
        (
            vec![("base_date", "2026-11-20"), ("end_date", "2026-11-10")],
            vec!["before"],
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

// ------------------------------------------------------------ incremental sync

#[test]
fn scheduled_runs_list_only_what_is_new_and_merge_it() {
    let host = configured(Some("en_GB"));
    with_token(&host, 86_400.0, SCOPE_METRICS);
    let first = weight_point(
        "1",
        "2026-11-25T06:00:00Z",
        ((2026, 11, 25), (7, 0, 0)),
        80_000.0,
    );
    let second = weight_point(
        "2",
        "2026-11-25T09:00:00Z",
        ((2026, 11, 25), (10, 0, 0)),
        79_000.0,
    );
    let reply = first.clone();
    host.respond(move |r| {
        if is_list(&r.url, "height") {
            return response(200, json!({"dataPoints": [height_point("1800")]}));
        }
        response(200, json!({"dataPoints": [reply.clone()]}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.sent.borrow().len(), 2, "weight and the day's height");
    assert_eq!(
        host.get(SYNC_PATH).unwrap()["weight"],
        json!({"window": ["2026-11-25", "2026-11-25"], "units": "st/km", "last": "2026-11-25T06:00:00Z"})
    );

    // The next scheduled run: one call, from the last sample on.
    host.sent.borrow_mut().clear();
    host.now.set(host.now.get() + 3600.0);
    let (a, b) = (first.clone(), second.clone());
    host.respond(move |r| {
        assert!(is_list(&r.url, "weight"), "only the weight list: {}", r.url);
        // `>=` (the API has no `>`): the last sample comes again and is deduplicated.
        response(200, json!({"dataPoints": [b.clone(), a.clone()]}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    let sent = requests(&host);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        filter_of(&sent[0]),
        format!(
            "weight.sample_time.physical_time >= \"2026-11-25T06:00:00Z\" AND weight.sample_time.physical_time < \"{DAY_END}\""
        )
    );
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    let ids: Vec<u64> = weights
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["logId"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(
        weights[1]["bmi"], 24.38,
        "the cached height still gives BMI"
    );
    assert_eq!(
        host.get(SYNC_PATH).unwrap()["weight"]["last"],
        "2026-11-25T09:00:00Z"
    );

    // Nothing new: the stored logs stay.
    host.sent.borrow_mut().clear();
    host.respond(|_| response(200, json!({})));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200);
    assert_eq!(host.sent.borrow().len(), 1);
    assert_eq!(host.get("sensors/fitbit/jack").unwrap()["weight"], weights);

    // An explicit window is a full read and ends the incremental state.
    host.sent.borrow_mut().clear();
    host.respond(|r| {
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({}))
    });
    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("base_date", "2026-11-01"),
            ("period", "7d"),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(filter_of(&requests(&host)[0]).contains(">= \"2026-10-25T23:00:00Z\""));
    assert!(host.get(SYNC_PATH).unwrap().get("weight").is_none());
    // ... so the next scheduled run reads the whole day again.
    host.sent.borrow_mut().clear();
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200);
    assert!(filter_of(&requests(&host)[0]).contains(&format!(">= \"{DAY_START}\"")));
}

#[test]
fn a_new_day_or_other_units_read_the_window_again() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(
        SYNC_PATH,
        json!({"weight": {"window": ["2026-11-24", "2026-11-24"], "units": "st/km", "last": "2026-11-24T06:00:00Z"},
               "height": {"day": "2026-11-25", "meters": null}}),
    );
    host.put(
        "sensors/fitbit/jack",
        json!({"weight": [{"logId": 1, "date": "2026-11-24", "time": "07:00:00", "weight": 12.0}]}),
    );
    host.respond(|_| response(200, json!({})));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200);
    assert!(filter_of(&requests(&host)[0]).contains(&format!(">= \"{DAY_START}\"")));
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap(),
        json!({"weight": []})
    );

    // Same day, but the units changed: a full read too.
    host.put(
        "plugindata/fitbit",
        json!({"client_id": CLIENT, "system": "en_US"}),
    );
    host.sent.borrow_mut().clear();
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200);
    assert!(filter_of(&requests(&host)[0]).contains(&format!(">= \"{DAY_START}\"")));
}

// ------------------------------------------------------------ mixed installations, setup

#[test]
fn legacy_and_google_users_coexist() {
    let host = configured(Some("en_GB"));
    // jack re-authorised with Google; jill still has a legacy token (no provider field).
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(
        "identities/jill/plugindata/fitbit/token",
        json!({"access_token": "F1", "refresh_token": "FR1", "expires_at": host.now.get() + 3000.0}),
    );
    host.respond(|r| {
        if r.url.starts_with("https://api.fitbit.com") {
            return response(410, json!({"errors": [{"errorType": "gone", "message": "turned off"}]}));
        }
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)]}))
    });
    let jill = run(&host, &[("user", "jill")]);
    assert_eq!(jill.status, 502);
    assert!(
        jill.body_text().contains("2026-11-02") && jill.body_text().contains("auth1?user=jill"),
        "{}",
        jill.body_text()
    );
    assert!(host.sent_urls()[0].starts_with("https://api.fitbit.com/1/user/-/body/log/weight"));
    let jack = run(&host, &[("user", "jack")]);
    assert_eq!(jack.status, 200, "{}", jack.body_text());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap()["weight"][0]["weight"],
        10.0
    );

    // The setup page tells jill to re-authorise with Google Health.
    let page = handle(
        &host,
        &request("GET", "/page/setup.html", &[("user", "jill")]),
    );
    let html = page.body_text();
    assert!(html.contains("still has a legacy Fitbit token"), "{html}");
    assert!(html.contains("Re-authorise jill with Google Health"));
    let page = handle(
        &host,
        &request("GET", "/page/setup.html", &[("user", "jack")]),
    );
    assert!(!page.body_text().contains("legacy Fitbit token"));
}

#[test]
fn the_setup_page_offers_the_provider_and_google_instructions() {
    let host = MemoryHost::default();
    let page = handle(&host, &request("GET", "/page/setup.html", &[]));
    let html = page.body_text();
    assert!(html.contains("<select name=\"provider\">"));
    assert!(html.contains("<option value=\"google-health\" selected>"));
    for needle in [
        "Google Cloud console",
        "Google Health API",
        "External",
        "expire after 7 days",
        "100",
        "Web application",
        "Authorized redirect URI",
        "<code>http://igor.test/plugin/fitbit/auth2</code>",
        "googlehealth.health_metrics_and_measurements.readonly",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let r = handle(
        &host,
        &form(
            "/settings",
            &[("provider", "fitbit"), ("client_id", "22ABCD")],
        ),
    );
    assert_eq!(r.status, 200);
    assert_eq!(host.get("plugindata/fitbit").unwrap()["provider"], "fitbit");
    let html = handle(&host, &request("GET", "/page/setup.html", &[])).body_text();
    assert!(html.contains("<option value=\"fitbit\" selected>"));
    assert!(html.contains("dev.fitbit.com/apps/new") && html.contains("turned off on 2026-11-02"));
    let bad = handle(&host, &form("/settings", &[("provider", "garmin")]));
    assert_eq!(bad.status, 400);
}

#[test]
fn unreadable_settings_mean_metric_and_other_users_are_refused() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.respond(|r| {
        if path_of(&r.url) == "/v4/users/me/settings" {
            return response(
                403,
                status_body(403, "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "Request had insufficient authentication scopes."),
            );
        }
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({"dataPoints": [weight_point("1", "2026-11-25T07:00:00Z", ((2026, 11, 25), (8, 0, 0)), 63_502.9)]}))
    });
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap()["weight"][0]["weight"],
        63.5
    );
    assert_eq!(host.get(SYNC_PATH).unwrap()["units"]["units"], "kg/km");

    host.sent.borrow_mut().clear();
    let r = run(&host, &[("user", "jack"), ("user_id", "ABC123")]);
    assert_eq!(r.status, 400);
    assert!(
        r.body_text().contains("user_id ABC123"),
        "{}",
        r.body_text()
    );
    assert!(host.sent.borrow().is_empty());
    // The user's own legacy id is fine.
    let r = run(&host, &[("user", "jack"), ("user_id", "GGNJL9")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
}

#[test]
fn a_single_stored_log_that_lost_its_list_still_syncs_incrementally() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(
        SYNC_PATH,
        json!({"weight": {"window": ["2026-11-25", "2026-11-25"], "units": "st/km", "last": "2026-11-25T06:00:00Z"},
               "height": {"day": "2026-11-25", "meters": {}}}),
    );
    // As Igor's XML database returns a one-element list.
    host.put(
        "sensors/fitbit/jack",
        json!({"weight": {"logId": 1, "date": "2026-11-25", "time": "07:00:00", "weight": 12.6, "source": "Aria Air"}}),
    );
    host.respond(|_| response(200, json!({})));
    let r = run(&host, &[("user", "jack")]);
    assert_eq!(r.status, 200, "{}", r.body_text());
    assert_eq!(host.sent.borrow().len(), 1);
    assert!(filter_of(&requests(&host)[0]).contains(">= \"2026-11-25T06:00:00Z\""));
    assert_eq!(
        host.get("sensors/fitbit/jack").unwrap()["weight"],
        json!([{"logId": 1, "date": "2026-11-25", "time": "07:00:00", "weight": 12.6, "source": "Aria Air"}])
    );
}
