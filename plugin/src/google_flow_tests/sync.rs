//! Incremental sync of scheduled weight runs.

use super::*;

#[test]
pub(super) fn scheduled_runs_list_only_what_is_new_and_merge_it() {
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
        json!({"window": ["2026-11-25", "2026-11-25"], "units": "st/km/cm", "last": "2026-11-25T06:00:00Z"})
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
pub(super) fn a_new_day_or_other_units_read_the_window_again() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    host.put(
        SYNC_PATH,
        json!({"weight": {"window": ["2026-11-24", "2026-11-24"], "units": "st/km/cm", "last": "2026-11-24T06:00:00Z"},
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
