//! An Igor owner on a laptop: a real Igor 0.99.1 (with access control,
//! the forwarder as its `fitbit` plugin) on the server, igor-host keeping
//! its data in that Igor, and the browser on a laptop that reaches Igor as
//! `igor.local`. Igor's own URL is its loopback address, which does not load
//! on the laptop; the owner logs in, enters the credentials, authorises by
//! pasting, and the data arrives, all through Igor's URLs.

use std::time::Duration;

use fantoccini::Locator;
use igor_test_support::FakeGoogle;
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;
use igor_test_support::real_igor::{self, Igor, Options};

use super::chromium::{
    authorise_jack_by_pasting, laptop_browser, log_in_to_igor, nothing_answers, open_setup, text,
    wait_for,
};
use crate::common::{Host, HostConfig, clouds, forward_to};

const CLIENT_ID: &str = "laptop.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-laptop";
const FORWARD_SECRET: &str = "s-laptop-forward";

#[tokio::test(flavor = "multi_thread")]
async fn an_igor_owner_on_a_laptop_authorises_through_igor_by_pasting() {
    let google = FakeGoogle::start().await;
    let igor = Igor::start(Options {
        capabilities: true,
        addstd: vec!["fitbit".into()],
        forwarder: true,
    })
    .await;
    // Igor's own URL as it gives it on the server: a loopback address. On
    // the laptop nothing answers there.
    let elsewhere = nothing_answers().await;
    let igor_url = format!("http://127.0.0.1:{elsewhere}");
    igor.put_json(
        "services/igor/url",
        &serde_json::json!({ "url": format!("{igor_url}/data") }).to_string(),
    )
    .await;
    let config = HostConfig::new()
        .plugin(clouds::google_plugin(&google, None))
        .behind_igor(&igor.url, FORWARD_SECRET)
        // The name the laptop reaches Igor by, as `igor-host igor install` writes it.
        .server(|server| server.allowed_hosts = vec!["igor.local".into()]);
    let host = Host::start(config).await;
    forward_to(&igor, &host, FORWARD_SECRET).await;
    // The redirect URI the setup page shows: Igor's own.
    let redirect = format!("{igor_url}/plugin/fitbit/auth2");
    google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);

    let listen = format!("127.0.0.1:{}", igor.port);
    let (_driver, client, _profile, site) = laptop_browser(igor.port, &listen).await;
    log_in_to_igor(&client, &site).await;
    let setup = format!("{site}/plugin/fitbit/page/setup.html");
    assert_eq!(open_setup(&client, &setup).await, "Fitbit for Igor: setup");
    let page = text(&client).await;
    assert!(
        page.contains(&format!(
            "This page is viewed at igor.local:{}, but the redirect URI is on this machine's \
             loopback",
            igor.port
        )),
        "{page}\n{}",
        host.log()
    );
    assert!(page.contains(&redirect), "{page}");
    // The logged-in Igor user is not offered a user of their own.
    assert!(
        !page.contains("Settings of admin") && !page.contains("Create user admin"),
        "{page}"
    );

    authorise_jack_by_pasting(
        &client,
        &setup,
        &redirect,
        (CLIENT_ID, CLIENT_SECRET),
        || igor.log(),
    )
    .await;

    // Data, through Igor's URL, into Igor's database.
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);
    client
        .goto(&format!("{site}/plugin/fitbit?user=jack"))
        .await
        .unwrap();
    let body = wait_for(&client, Locator::Css("body")).await;
    assert!(body.text().await.unwrap().contains("\"weight\""));
    let mut sensors = None;
    for _ in 0..50 {
        sensors = igor.get_json("sensors/fitbit/jack").await;
        if sensors.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sensors = sensors.expect("jack's data in Igor");
    let weight = real_igor::first_weight(&sensors["jack"]["weight"]);
    assert!((weight - 80.1).abs() < 0.01, "{sensors}");
    client.close().await.unwrap();
}
