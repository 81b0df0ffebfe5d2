//! Any form body posted to the settings forms, with any `Origin`: a valid
//! answer, never a panic, and the installation's client secret never lands
//! in a document.
#![no_main]

use fitbit::router::handle;
use fitbit::testing::request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let p = igor_fitbit_fuzz::parts(rest, 2);
    let host = igor_fitbit_fuzz::installation(200, b"{}".to_vec());
    let path = if selector % 2 == 0 {
        "/settings"
    } else {
        "/userSettings"
    };
    let mut r = request("POST", path, &[]);
    r.body = p[0].clone().into_bytes();
    // Mostly forms as the page sends them; else no type (refused with 415).
    if selector % 4 < 3 {
        r.headers.push((
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
    }
    if !p[1].is_empty() {
        r.headers.push(("origin".into(), p[1].clone()));
    }
    let answer = handle(&host, &r);
    assert!((100..600).contains(&answer.status));
    if path == "/settings" {
        for (path, (value, _)) in host.documents.borrow().iter() {
            assert!(
                value.get("client_secret").is_none(),
                "a secret stored at {path}"
            );
        }
    }
});
