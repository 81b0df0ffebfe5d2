//! Any method, path and query through the plugin's router: an answer with
//! a valid status, never a panic.
#![no_main]

use fitbit::router::handle;
use fitbit::testing::request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = igor_fitbit_fuzz::parts(data, 3);
    let host = igor_fitbit_fuzz::installation(200, b"{}".to_vec());
    let mut r = request(&p[0], &p[1], &[]);
    // Decoded exactly as the host decodes a query string.
    r.query = url::form_urlencoded::parse(p[2].as_bytes())
        .into_owned()
        .collect();
    let answer = handle(&host, &r);
    assert!((100..600).contains(&answer.status), "{}", answer.status);
});
