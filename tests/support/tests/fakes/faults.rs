//! Injected faults fail on the wire as documented.

use std::time::Duration;

use igor_test_support::Fault;
use igor_test_support::fake_fitbit::{self, FakeFitbit};
use reqwest::Client;
use serde_json::json;

use crate::common::{REDIRECT, basic, json_of};

#[tokio::test]
async fn injected_faults_fail_on_the_wire_as_documented() {
    let f = FakeFitbit::start().await;
    f.register_client("22ABCD", "s", &[REDIRECT]);
    let pair = f.issue_tokens("22ABCD", fake_fitbit::DEFAULT_USER_ID, "profile weight");
    let http = Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let profile = format!("{}/1/user/-/profile.json", f.url());
    let get = || http.get(&profile).bearer_auth(&pair.access_token).send();
    let real = get().await.unwrap().text().await.unwrap();

    // A late answer is handled first: the refresh token is used up before
    // the answer leaves.
    let refresh = || {
        http.post(f.token_url())
            .header("authorization", basic("22ABCD", "s"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &pair.refresh_token),
            ])
            .send()
    };
    f.faults().inject(
        "/oauth2/token",
        Fault::SlowAnswer(Duration::from_millis(300)),
        1,
    );
    let late = tokio::spawn(refresh());
    for _ in 0..100 {
        if !f.used_refresh_tokens().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!late.is_finished(), "used up before the answer");
    assert_eq!(late.await.unwrap().unwrap().status(), 200);

    f.faults().inject("/1/user/", Fault::Reset, 1);
    let broken = match get().await {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(broken, "the connection breaks");

    f.faults().inject("/1/user/", Fault::Status(503), 1);
    let (status, body) = json_of(get().await.unwrap()).await;
    assert_eq!(status, 503);
    assert!(body["errors"][0]["message"].is_string(), "{body}");

    f.faults()
        .inject("/1/user/", Fault::TooManyRequests(Some(7)), 1);
    let limited = get().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "7");
    f.faults()
        .inject("/1/user/", Fault::TooManyRequests(None), 1);
    assert!(get().await.unwrap().headers().get("retry-after").is_none());

    f.faults()
        .inject("/1/user/", Fault::WrongShape(json!({"user": "lots"})), 1);
    assert_eq!(
        get().await.unwrap().text().await.unwrap(),
        r#"{"user":"lots"}"#
    );

    f.faults().inject("/1/user/", Fault::HugeBody(1 << 20), 1);
    assert_eq!(get().await.unwrap().bytes().await.unwrap().len(), 1 << 20);

    f.faults()
        .inject("/1/user/", Fault::SlowDrip(Duration::from_millis(1)), 1);
    assert_eq!(get().await.unwrap().text().await.unwrap(), real);

    f.faults().inject("/1/user/", Fault::Hang, 1);
    let hung = http
        .get(&profile)
        .bearer_auth(&pair.access_token)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(hung.is_err_and(|e| e.is_timeout()));
    assert_eq!(f.faults().injected().len(), 9);
    // Disarmed faults leave the fake as it was.
    f.faults().inject("/1/user/", Fault::Status(500), 5);
    f.faults().clear();
    assert_eq!(get().await.unwrap().text().await.unwrap(), real);
}
