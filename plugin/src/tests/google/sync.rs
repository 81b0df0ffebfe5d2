//! Incremental sync of scheduled weight runs: the last week listed again,
//! merged into the stored logs.

use super::*;

/// A weigh-in on a day of November 2026 (day 0: 27 October) at 07:00
/// local (UTC+1).
fn weighed(id: &str, day: u32, grams: f64) -> Value {
    let (month, day) = if day == 0 { (10, 27) } else { (11, day) };
    weight_point(
        id,
        &format!("2026-{month:02}-{day:02}T06:00:00Z"),
        ((2026, month, day), (7, 0, 0)),
        grams,
    )
}

fn ids(host: &MemoryHost) -> Vec<u64> {
    host.get("sensors/fitbit/jack").unwrap()["weight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["logId"].as_u64().unwrap())
        .collect()
}

const MONTH: &[(&str, &str)] = &[("user", "jack"), ("period", "30d")];

#[test]
pub(super) fn scheduled_runs_read_the_last_week_again_and_see_late_and_deleted_samples() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3.0 * 86_400.0, SCOPE_METRICS);
    let month = vec![
        weighed("1", 0, 80_000.0),
        weighed("10", 10, 79_800.0),
        weighed("20", 20, 79_500.0),
        weighed("22", 22, 79_400.0),
    ];
    let reply = month.clone();
    host.respond(move |r| {
        if is_list(&r.url, "height") {
            return response(200, json!({"dataPoints": [height_point("1800")]}));
        }
        response(200, json!({"dataPoints": reply}))
    });
    run_ok(&host, MONTH);
    assert_eq!(
        filter_of(&requests(&host)[0]),
        "weight.sample_time.civil_time >= \"2026-10-27\" AND \
         weight.sample_time.civil_time < \"2026-11-26\""
    );
    assert_eq!(ids(&host), vec![1, 10, 20, 22]);
    assert_eq!(
        host.get(SYNC_PATH).unwrap()["weight"],
        json!({"window": ["2026-10-27", "2026-11-25"], "units": "st/km/cm/ml/mmol/c"})
    );

    // An hour later: a weigh-in of the 21st logged late, the one of the
    // 22nd deleted. One list call, of the last seven days.
    host.sent.borrow_mut().clear();
    host.now.set(host.now.get() + 3600.0);
    host.respond(move |r| {
        assert!(is_list(&r.url, "weight"), "only the weight list: {}", r.url);
        response(
            200,
            json!({"dataPoints": [weighed("21", 21, 79_450.0), weighed("20", 20, 79_500.0)]}),
        )
    });
    run_ok(&host, MONTH);
    let sent = requests(&host);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        filter_of(&sent[0]),
        "weight.sample_time.civil_time >= \"2026-11-19\" AND \
         weight.sample_time.civil_time < \"2026-11-26\""
    );
    // Older days kept as stored; the last week as Google has it now.
    assert_eq!(ids(&host), vec![1, 10, 20, 21]);
    let weights = host.get("sensors/fitbit/jack").unwrap()["weight"].clone();
    assert_eq!(weights[3]["bmi"], 24.52, "the kept height still gives BMI");

    // The next day the window moves: 27 October leaves it, still one call.
    host.sent.borrow_mut().clear();
    host.now.set(host.now.get() + 86_400.0);
    host.respond(|r| {
        if is_list(&r.url, "height") {
            return response(200, json!({}));
        }
        response(200, json!({"dataPoints": [weighed("21", 21, 79_450.0)]}))
    });
    run_ok(&host, MONTH);
    let weight_lists: Vec<_> = requests(&host)
        .into_iter()
        .filter(|r| is_list(&r.url, "weight"))
        .collect();
    assert_eq!(weight_lists.len(), 1);
    assert!(filter_of(&weight_lists[0]).contains(">= \"2026-11-20\""));
    // The 20th now falls in the week read again, and Google no longer has it.
    assert_eq!(ids(&host), vec![10, 21]);
}

#[test]
pub(super) fn other_units_a_gap_or_explicit_dates_read_the_whole_window() {
    let host = configured(Some("en_GB"));
    with_token(&host, 3000.0, SCOPE_METRICS);
    let stored =
        json!({"weight": [{"logId": 3, "date": "2026-11-03", "time": "07:00:00", "weight": 12.0}]});
    let full = "weight.sample_time.civil_time >= \"2026-10-27\"";
    host.respond(|_| response(200, json!({})));
    for (record, why) in [
        (
            json!({"window": ["2026-10-27", "2026-11-25"], "units": "lb/mi/in/floz/mgdl/f"}),
            "other units",
        ),
        (
            json!({"window": ["2026-10-20", "2026-11-15"], "units": "st/km/cm/ml/mmol/c"}),
            "not read for more than a week",
        ),
        (
            json!({"window": ["2026-11-01", "2026-11-25"], "units": "st/km/cm/ml/mmol/c"}),
            "a shorter window before",
        ),
    ] {
        let sensors = host.put("sensors/fitbit/jack", stored.clone());
        host.put(
            SYNC_PATH,
            json!({"weight": record, "sensors_revision": sensors.to_string()}),
        );
        host.sent.borrow_mut().clear();
        let r = run(&host, MONTH);
        assert_eq!(r.status, 200, "{why}: {}", r.body_text());
        assert!(filter_of(&requests(&host)[0]).starts_with(full), "{why}");
        assert_eq!(
            host.get("sensors/fitbit/jack").unwrap(),
            json!({"weight": []}),
            "{why}"
        );
    }

    // Explicit dates: a full read of them, and no incremental state after.
    host.sent.borrow_mut().clear();
    let r = run(
        &host,
        &[
            ("user", "jack"),
            ("base_date", "2026-11-01"),
            ("period", "7d"),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(filter_of(&requests(&host)[0]).contains(">= \"2026-10-26\""));
    assert!(host.get(SYNC_PATH).unwrap().get("weight").is_none());
}
