//! The user's time zone, not the host's: "today", the days of windows,
//! intraday ranges and labels across a daylight-saving change.

use super::*;

/// Answers the settings with the user's zone, and `rest` for the others.
fn in_zone(
    host: &MemoryHost,
    zone: &'static str,
    offset: &'static str,
    mut rest: impl FnMut(
        &FetchRequest,
    ) -> Result<igor_plugin_sdk::FetchResponse, igor_plugin_sdk::FetchError>
    + 'static,
) {
    host.respond(move |r| {
        if path_of(&r.url) == "/v4/users/me/settings" {
            return response(200, json!({"timeZone": zone, "utcOffset": offset}));
        }
        rest(r)
    });
}

fn weight_filter(host: &MemoryHost) -> String {
    let sent = requests(host);
    let list = sent.iter().find(|r| is_list(&r.url, "weight")).unwrap();
    filter_of(list)
}

#[test]
pub(super) fn today_is_the_users_day_not_the_hosts() {
    // 23:30 UTC: the 26th for the host (UTC+1), the 25th in New York.
    let host = configured(Some("en_GB"));
    with_token(
        &host,
        86_400.0,
        &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"),
    );
    host.now
        .set(crate::provider::google::convert::parse_rfc3339("2026-11-25T23:30:00Z").unwrap());
    in_zone(&host, "America/New_York", "-18000s", |_| {
        response(200, json!({}))
    });
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(
        weight_filter(&host),
        "weight.sample_time.civil_time >= \"2026-11-25\" AND \
         weight.sample_time.civil_time < \"2026-11-26\""
    );
    // The zone is kept with the units for a day: no settings call next time.
    host.sent.borrow_mut().clear();
    run_ok(&host, &[("user", "jack")]);
    assert_eq!(host.sent_urls().len(), 1, "{:?}", host.sent_urls());
    assert_eq!(
        host.get(SYNC_PATH).unwrap()["settings"]["zone"],
        "America/New_York"
    );
}

#[test]
pub(super) fn without_the_settings_scope_the_hosts_zone_is_used() {
    let host = configured(Some("en_GB"));
    with_token(&host, 86_400.0, SCOPE_METRICS);
    host.now
        .set(crate::provider::google::convert::parse_rfc3339("2026-11-25T23:30:00Z").unwrap());
    host.respond(|r| {
        assert_ne!(path_of(&r.url), "/v4/users/me/settings");
        response(200, json!({}))
    });
    assert_eq!(run(&host, &[("user", "jack")]).status, 200);
    assert!(weight_filter(&host).contains(">= \"2026-11-26\""));
}

#[test]
pub(super) fn windows_are_the_users_civil_days_across_daylight_saving() {
    // A month over the end of summer time in Amsterdam: one civil filter,
    // whatever the offsets; each weigh-in keeps its own local time.
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, &format!("{SCOPE_METRICS} {SCOPE_SETTINGS}"));
    in_zone(&host, "Europe/Amsterdam", "3600s", |r| {
        if !is_list(&r.url, "weight") {
            return response(200, json!({}));
        }
        // 00:30 on the 25th (summer time) and 23:30 on the 25th (winter).
        let summer = json!({"name": "users/1/dataTypes/weight/dataPoints/1",
            "weight": {"sampleTime": {"physicalTime": "2026-10-24T22:30:00Z", "utcOffset": "7200s"},
                       "weightGrams": 80_000.0}});
        let winter = json!({"name": "users/1/dataTypes/weight/dataPoints/2",
            "weight": {"sampleTime": {"physicalTime": "2026-10-25T22:30:00Z", "utcOffset": "3600s"},
                       "weightGrams": 79_000.0}});
        response(200, json!({"dataPoints": [winter, summer]}))
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("base_date", "2026-10-25"),
            ("end_date", "2026-10-25"),
        ],
    );
    assert_eq!(
        weight_filter(&host),
        "weight.sample_time.civil_time >= \"2026-10-25\" AND \
         weight.sample_time.civil_time < \"2026-10-26\""
    );
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    let times: Vec<_> = weights
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w["date"].as_str().unwrap(),
                w["time"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(times, vec!["2026-10-25 00:30:00", "2026-10-25 23:30:00"]);
}

#[test]
pub(super) fn intraday_covers_the_users_day_of_25_hours_with_local_labels() {
    let host = configured(None);
    with_token(&host, 3000.0, &format!("{SCOPE_ACTIVITY} {SCOPE_SETTINGS}"));
    in_zone(&host, "Europe/Amsterdam", "3600s", |r| {
        if path_of(&r.url).ends_with(":dailyRollUp") {
            return response(200, json!({}));
        }
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        // The local day 2026-10-25 runs from 22:00 UTC (summer time) to
        // 23:00 UTC the next evening (winter time): 25 hours.
        assert_eq!(
            body["range"],
            json!({"startTime": "2026-10-24T22:00:00Z", "endTime": "2026-10-25T23:00:00Z"})
        );
        response(
            200,
            json!({"rollupDataPoints": [
                {"startTime": "2026-10-25T08:00:00Z", "endTime": "2026-10-25T08:01:00Z", "steps": {"countSum": "20"}},
                {"startTime": "2026-10-25T01:30:00Z", "endTime": "2026-10-25T01:31:00Z", "steps": {"countSum": "7"}},
                {"startTime": "2026-10-25T00:30:00Z", "endTime": "2026-10-25T00:31:00Z", "steps": {"countSum": "5"}},
                {"startTime": "2026-10-24T22:10:00Z", "endTime": "2026-10-24T22:11:00Z", "steps": {"countSum": "3"}},
            ]}),
        )
    });
    run_ok(
        &host,
        &[
            ("user", "jack"),
            ("methods", "intraday_time_series"),
            ("resource", "activities/steps"),
            ("base_date", "2026-10-25"),
        ],
    );
    let dataset =
        host.get("sensors/fitbit/jack").unwrap()["activities-steps-intraday"]["dataset"].clone();
    // 02:30 comes twice that night (summer, then winter time).
    assert_eq!(
        dataset,
        json!([{"time": "00:10:00", "value": 3}, {"time": "02:30:00", "value": 5},
               {"time": "02:30:00", "value": 7}, {"time": "09:00:00", "value": 20}])
    );
}
