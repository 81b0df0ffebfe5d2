//! The authorisation's ways back in the browser: a paste that comes too
//! late, and a wrong client secret corrected without a new consent.

use fantoccini::Locator;
use igor_test_support::FakeGoogle;

use super::chromium::{
    browser, click, create_jack_and_allow, enter_credentials, landed_at, paste, text, wait_for,
};
use super::{OnTheLan, google_config};
use crate::common::Host;

const CLIENT_ID: &str = "cid.apps.googleusercontent.com";

/// Ten minutes pass for `user`'s authorisation in progress: its expiry is
/// moved a minute into the past in the host's store.
fn expire_authorisation(host: &Host, user: &str) {
    let db = rusqlite::Connection::open(host.data_dir().join("store.sqlite")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    let past = chrono::Utc::now().timestamp() - 60;
    let changed = db
        .execute(
            "UPDATE documents SET json = json_set(json, '$.' || ?1 || '.expires_at', ?2) \
             WHERE plugin = 'fitbit' AND path = 'plugindata/fitbit/pending'",
            rusqlite::params![user, past],
        )
        .unwrap();
    assert_eq!(changed, 1, "no authorisation in progress for {user}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_return_shows_on_the_row_with_the_link_that_starts_again() {
    let google = FakeGoogle::start().await;
    let OnTheLan {
        host,
        setup,
        loopback,
        client,
        _browser,
    } = OnTheLan::start(&google, CLIENT_ID, "GOCSPX-l").await;
    client.goto(&setup).await.unwrap();
    enter_credentials(&client, CLIENT_ID, "GOCSPX-l").await;
    client.goto(&format!("{setup}?user=jack")).await.unwrap();
    create_jack_and_allow(&client).await;
    let late = landed_at(&client, &loopback).await;

    // The owner comes back after more than ten minutes: the row says the
    // authorisation expired, and when, instead of dropping the field.
    expire_authorisation(&host, "jack");
    client.goto(&setup).await.unwrap();
    let expired = wait_for(
        &client,
        Locator::XPath("//p[contains(., 'The authorisation of jack expired at ')]"),
    )
    .await;
    assert!(
        expired
            .text()
            .await
            .unwrap()
            .contains("must be completed within 10 minutes")
    );
    assert!(
        client
            .find(Locator::Css("form[action$='/auth2']"))
            .await
            .is_err()
    );

    // Its link starts again: consent, and the new address completes.
    click(
        &client,
        Locator::LinkText("Start the authorisation of jack again"),
    )
    .await;
    click(&client, Locator::Css("button[value=allow]")).await;
    let again = landed_at(&client, &loopback).await;
    assert_ne!(again, late);
    let page = paste(&client, &setup, &again).await;
    assert!(
        page.contains("Google Health access for jack is set up"),
        "{page}"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_client_secret_is_explained_and_corrected_without_a_new_consent() {
    let google = FakeGoogle::start().await;
    let host = Host::start(google_config(&google)).await;
    let redirect = format!("{}/plugin/fitbit/auth2", host.url);
    google.register_client(CLIENT_ID, "GOCSPX-right", &[&redirect]);
    let (_driver, client, _profile) = browser().await;
    let setup = format!("{}/plugin/fitbit/page/setup.html", host.url);
    client.goto(&format!("{setup}?user=jack")).await.unwrap();
    enter_credentials(&client, CLIENT_ID, "GOCSPX-wrong").await;
    create_jack_and_allow(&client).await;

    // Google sends the browser back; it refuses the app's credentials.
    let retry = wait_for(&client, Locator::LinkText("try this address again")).await;
    let page = text(&client).await;
    for needle in [
        "Authorisation of jack not completed",
        "invalid_client",
        "Check the client id and secret on the setup page",
        "Your consent is kept until ",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    let retry = retry.prop("href").await.unwrap().unwrap();
    assert!(retry.starts_with(&format!("{redirect}?")), "{retry}");

    // The setup page shows it as jack's last error; the secret is corrected.
    click(&client, Locator::LinkText("setup page")).await;
    let error = wait_for(
        &client,
        Locator::XPath("//section[@id='user-jack']//dd[@class='problem']"),
    )
    .await;
    assert!(error.text().await.unwrap().contains("invalid_client"));
    enter_credentials(&client, CLIENT_ID, "GOCSPX-right").await;

    // The same consent, tried again, completes.
    client.goto(&retry).await.unwrap();
    wait_for(&client, Locator::LinkText("Back to the setup page")).await;
    let page = text(&client).await;
    assert!(
        page.contains("Google Health access for jack is set up"),
        "{page}"
    );
    let codes: Vec<String> = google
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token")
        .filter_map(|r| r.form_value("code").map(str::to_string))
        .collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert_eq!(codes[0], codes[1], "one consent, one code");
    client.close().await.unwrap();
}
