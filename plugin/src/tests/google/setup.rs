//! Installations with legacy and Google users, and the setup page.

use super::*;

#[test]
pub(super) fn legacy_and_google_users_coexist() {
    let host = configured(Some("en_GB"));
    // jack re-authorised with Google; jill still has a legacy token (no provider field).
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(
        "identities/jill/plugindata/fitbit/token",
        json!({"access_token": "F1", "refresh_token": "FR1", "expires_at": host.now.get() + 3000.0}),
    );
    host.respond(|r| {
        if r.url.starts_with("https://api.fitbit.com") {
            return response(
                410,
                json!({"errors": [{"errorType": "gone", "message": "turned off"}]}),
            );
        }
        one_weigh_in(r)
    });
    let jill = run(&host, &[("user", "jill")]);
    assert_eq!(jill.status, 502);
    assert!(
        jill.body_text().contains("2026-11-02") && jill.body_text().contains("auth1?user=jill"),
        "{}",
        jill.body_text()
    );
    assert!(host.sent_urls()[0].starts_with("https://api.fitbit.com/1/user/-/body/log/weight"));
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(jacks_weight(&host), 10.0);

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
    let html = page.body_text();
    let jack_row = &html[html.find("id=\"user-jack\"").unwrap()..];
    let jack_row = &jack_row[..jack_row.find("</section>").unwrap()];
    assert!(!jack_row.contains("legacy Fitbit token"), "{jack_row}");
}

#[test]
pub(super) fn the_setup_page_offers_the_provider_and_google_instructions() {
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
pub(super) fn unreadable_settings_mean_metric_and_other_users_are_refused() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    host.respond(|r| {
        if path_of(&r.url) == "/v4/users/me/settings" {
            return not_covered();
        }
        one_weigh_in(r)
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(jacks_weight(&host), 63.5);
    assert_eq!(
        host.get(SYNC_PATH).unwrap()["settings"]["units"],
        "kg/km/cm/ml/mmol/c"
    );

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
    run_ok(&host, &[("user", "jack"), ("user_id", "GGNJL9")]);
}

#[test]
pub(super) fn a_single_stored_log_that_lost_its_list_still_syncs_incrementally() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    // As Igor's XML database returns a one-element list.
    let sensors = host.put(
        "sensors/fitbit/jack",
        json!({"weight": {"logId": 1, "date": "2026-11-25", "time": "07:00:00", "weight": 12.6, "source": "Aria Air"}}),
    );
    // Bookkeeping of that very revision (Igor may return it as a number).
    host.put(
        SYNC_PATH,
        json!({"weight": {"window": ["2026-11-19", "2026-11-25"], "units": "st/km/cm/ml/mmol/c"},
               "height": {"read_at": host.now.get(), "meters": {}}, "sensors_revision": sensors}),
    );
    // The first weigh-in of the 18th, stored, stays; the last week is read again.
    host.respond(|_| {
        response(
            200,
            json!({"dataPoints": [weight_point("2", "2026-11-25T06:00:00Z",
            ((2026, 11, 25), (7, 0, 0)), 80_000.0)]}),
        )
    });
    run_ok(&host, &[("user", "jack"), ("period", "1w")]);
    assert_eq!(host.sent.borrow().len(), 1);
    assert!(filter_of(&requests(&host)[0]).contains(">= \"2026-11-19\""));
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    assert_eq!(weights.as_array().unwrap().len(), 1, "{weights}");
    assert_eq!(weights[0]["logId"], 2);
}
