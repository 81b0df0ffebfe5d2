//! An Igor owner's view, end to end: a real Igor with the forwarding plugin
//! installed as `fitbit`, igor-host keeping the data in that Igor, and the
//! fake Google provider. Credentials are set, a user authorised and Igor's
//! own scheduled action run, all through Igor's URLs; the results are read
//! back from Igor's REST API.

mod common;
mod real_igor;

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use common::Host;
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};
use igor_test_support::{FakeGoogle, consent};
use real_igor::{Igor, Options};
use serde_json::Value;

const CLIENT_ID: &str = "igor-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-igor";
const FORWARD_SECRET: &str = "s-forward-secret";

#[tokio::test(flavor = "multi_thread")]
async fn an_igor_owner_keeps_their_urls_and_action() {
    let google = FakeGoogle::start().await;
    let mut igor = Igor::start(Options {
        capabilities: false,
        addstd: vec!["fitbit".into()],
        forwarder: true,
    })
    .await;
    let g = google.url();
    let host = Host::start_with(
        &format!(
            r#"
[store]
backend = "igor"
url = "{igor}"
username = "admin"
password = ""

[[plugin]]
name = "fitbit"
[plugin.config]
google_api_url = "{g}"
google_authorize_url = "{authorize}"
google_token_url = "{token}"
google_revoke_url = "{revoke}"
[plugin.egress]
allow = ["{g}"]
secret_urls = ["{token}"]
allow_loopback = true
"#,
            igor = igor.url,
            authorize = google.authorize_url(),
            token = google.token_url(),
            revoke = google.revoke_url(),
        ),
        &format!("igor_forward_secret = \"{FORWARD_SECRET}\""),
    )
    .await;
    igor.put_json(
        "plugindata/fitbit/host_url",
        &serde_json::json!({ "host_url": host.url }).to_string(),
    )
    .await;
    igor.put_json(
        "plugindata/fitbit/forward_secret",
        &serde_json::json!({ "forward_secret": FORWARD_SECRET }).to_string(),
    )
    .await;
    // The provider sends the browser back to Igor, which forwards to the host.
    let redirect = format!("{}/plugin/fitbit/auth2", igor.url);
    google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let plugin = format!("{}/plugin/fitbit", igor.url);

    // The setup page at its old URL, through Igor; it names Igor's callback.
    let page = browser
        .get(format!("{plugin}/page/setup.html?user=jack"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(&redirect), "{page}\n{}", igor.log());

    // App credentials through Igor's URL (a form POST, as the page sends it).
    let saved = browser
        .post(format!("{plugin}/settings"))
        .form(&[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "{}", igor.log());
    let app = igor.get_json("plugindata/fitbit").await.unwrap();
    assert_eq!(app["fitbit"]["client_id"], CLIENT_ID, "{app}");
    assert!(
        !app.to_string().contains(CLIENT_SECRET),
        "the secret stays in the host"
    );

    // Authorise jack: Igor's auth1 → Google consent → Igor's auth2.
    let start = browser
        .get(format!("{plugin}/auth1?user=jack"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "{}", igor.log());
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let back = consent(&browser, &location).await.unwrap();
    assert!(back.starts_with(&redirect), "{back}");
    let done = browser.get(&back).send().await.unwrap();
    assert_eq!(done.status(), 200, "{}", igor.log());
    let token = igor
        .get_json("identities/jack/plugindata/fitbit/token")
        .await
        .unwrap();
    assert_eq!(token["token"]["provider"], "google-health", "{token}");

    // Igor's own action (from the plugin's fragment: user jack, representing
    // sensors/fitbit) fires when Igor starts: save, restart, and wait.
    let now =
        (Utc::now() - chrono::Duration::minutes(30)).to_rfc3339_opts(SecondsFormat::Secs, true);
    google.add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::weight(&now, 80_100.0));
    let save = reqwest::Client::new()
        .get(format!("{}/internal/save", igor.url))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert!(save.status().is_success());
    igor.restart().await;
    let mut status = Value::Null;
    for _ in 0..150 {
        if let Some(s) = igor.get_json("status/sensors/fitbit").await
            && s["fitbit"]["alive"] == true
        {
            status = s;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        status["fitbit"]["alive"],
        true,
        "status: {status}\nigor: {}\nhost: {}",
        igor.log(),
        host.log()
    );
    assert!(status["fitbit"].get("lastSuccess").is_some(), "{status}");
    let sensors = igor.get_json("sensors/fitbit/jack").await.unwrap();
    let weight = &sensors["jack"]["weight"];
    // One weigh-in: Igor gives a one-element list back as the element.
    let entry = if weight.is_array() {
        &weight[0]
    } else {
        weight
    };
    assert!(
        (entry["weight"].as_f64().unwrap() - 80.1).abs() < 0.01,
        "{sensors}"
    );
}
