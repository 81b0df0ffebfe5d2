//! Any upstream answer (status and body) to every method of both
//! providers: never a panic, and `sensors/N/U` is only ever replaced by the
//! answer a 200 gave, never by half of one.
#![no_main]

use fitbit::router::handle;
use fitbit::testing::request;
use libfuzzer_sys::fuzz_target;

const LEGACY: &[&str] = &[
    "get_bodyweight",
    "get_bodyfat",
    "time_series&resource=body/weight&period=7d",
    "intraday_time_series&resource=activities/steps",
    "body",
    "activities",
    "sleep",
    "heart",
    "user_profile_get",
    "get_devices",
];
const GOOGLE: &[&str] = &[
    "get_bodyweight",
    "get_bodyfat",
    "time_series&resource=activities/steps&period=7d",
    "heart",
    "sleep",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let statuses = [200, 200, 200, 401, 403, 404, 410, 429, 500];
    let status = statuses[usize::from(selector >> 4) % statuses.len()];
    let (user, methods) = if selector & 1 == 0 {
        ("jack", LEGACY)
    } else {
        ("jill", GOOGLE)
    };
    let method = methods[usize::from(selector >> 1) % methods.len()];
    let host = igor_fitbit_fuzz::installation(status, body.to_vec());
    let query = format!("user={user}&methods={method}");
    let mut r = request("GET", "/", &[]);
    r.query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let answer = handle(&host, &r);
    let stored = host.get(&format!("sensors/fitbit/{user}"));
    if answer.status == 200 {
        let answered: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(stored, Some(answered));
    } else {
        assert_eq!(
            stored, None,
            "a failed run stored something: {}",
            answer.status
        );
    }
});
