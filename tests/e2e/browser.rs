//! The setup page in a real headless Chromium (driven over WebDriver by
//! chromedriver): an owner enters the app credentials, creates a user,
//! follows the authorise link through the provider's consent page and lands
//! back on a readable success page. Needs Debian's `chromium` and
//! `chromium-driver` (`.ci/run` installs them).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Host, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use igor_test_support::FakeFitbit;
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, Client, tempfile::TempDir) {
    for tool in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(tool).exists(),
            "{tool} is missing: apt-get install chromium chromium-driver (see .ci/run)"
        );
    }
    let port = free_port();
    let driver = Driver(
        Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let profile = tempfile::tempdir().unwrap();
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        // chromedriver is on loopback: plain HTTP, no TLS stack needed.
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        if let Ok(client) = ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&url)
            .await
        {
            return (driver, client, profile);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

/// Waits until the page shows `locator` (navigation after a click may still
/// be under way) and returns the element.
async fn wait_for(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(locator)
        .await
        .unwrap()
}

async fn text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_sets_up_a_user_in_the_browser() {
    let fake = FakeFitbit::start().await;
    let url = fake.url();
    let host = Host::start(&format!(
        r#"
[[plugin]]
name = "fitbit"
[plugin.config]
fitbit_api_url = "{url}"
fitbit_authorize_url = "{url}/oauth2/authorize"
[plugin.egress]
allow = ["{url}"]
secret_urls = ["{url}/oauth2/token", "{url}/oauth2/revoke"]
allow_loopback = true
"#
    ))
    .await;
    fake.register_client(
        "22ABCD",
        "browser-secret",
        &[&format!("{}/plugin/fitbit/auth2", host.url)],
    );
    let (_driver, client, _profile) = browser().await;

    client
        .goto(&format!(
            "{}/plugin/fitbit/page/setup.html?user=jack",
            host.url
        ))
        .await
        .unwrap();
    let page = text(&client).await;
    assert!(
        page.contains(&format!("{}/plugin/fitbit/auth2", host.url)),
        "{page}"
    );

    // Application settings: the legacy provider (the fake is a Fitbit).
    let form = client
        .find(Locator::Css("form[action$='/settings']"))
        .await
        .unwrap();
    form.find(Locator::Css("input[name=client_id]"))
        .await
        .unwrap()
        .send_keys("22ABCD")
        .await
        .unwrap();
    form.find(Locator::Css("input[name=client_secret]"))
        .await
        .unwrap()
        .send_keys("browser-secret")
        .await
        .unwrap();
    if let Ok(provider) = form.find(Locator::Css("select[name=provider]")).await {
        provider.select_by_value("fitbit").await.unwrap();
    }
    form.find(Locator::Css("select[name=system]"))
        .await
        .unwrap()
        .select_by_value("en_GB")
        .await
        .unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(
        &client,
        Locator::XPath("//span[contains(., 'set (leave empty to keep it)')]"),
    )
    .await;
    let html = client.source().await.unwrap();
    assert!(
        !html.contains("browser-secret"),
        "the secret is never shown"
    );

    // Create the user, then authorise it through the consent page.
    wait_for(
        &client,
        Locator::XPath("//button[contains(., 'Create user jack')]"),
    )
    .await
    .click()
    .await
    .unwrap();
    wait_for(&client, Locator::Css("a[href*='auth1?user=jack']"))
        .await
        .click()
        .await
        .unwrap();
    wait_for(&client, Locator::Css("button[value=allow]"))
        .await
        .click()
        .await
        .unwrap();
    let back = wait_for(&client, Locator::LinkText("Back to the setup page")).await;
    let page = text(&client).await;
    assert!(page.contains("access for jack is set up"), "{page}");
    back.click().await.unwrap();
    wait_for(
        &client,
        Locator::XPath("//p[contains(., 'jack has already given permission')]"),
    )
    .await;

    // The data flows.
    fake.add_weight(
        DEFAULT_USER_ID,
        WeightLog::new("2026-11-20", "07:00:00", 80.1),
    );
    client
        .goto(&format!(
            "{}/plugin/fitbit?user=jack&base_date=2026-11-20&period=1d",
            host.url
        ))
        .await
        .unwrap();
    wait_for(&client, Locator::Css("body")).await;
    let page = text(&client).await;
    assert!(page.contains("\"weight\""), "{page}");
    client.close().await.unwrap();
}
