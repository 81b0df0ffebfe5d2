//! Chromium driven over WebDriver by chromedriver, and what the tests do
//! with it: wait for what only the next page shows, fill and post forms,
//! follow the provider's consent, see where the browser landed.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};

use crate::common::free_port;

pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn browser() -> (Driver, Client, tempfile::TempDir) {
    browser_with(&[]).await
}

/// A headless Chromium with extra command-line switches.
pub async fn browser_with(switches: &[&str]) -> (Driver, Client, tempfile::TempDir) {
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
    let mut args = vec![
        "--headless=new".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1200,2400".into(),
        format!("--user-data-dir={}", profile.path().display()),
    ];
    args.extend(switches.iter().map(|s| s.to_string()));
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
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
pub async fn wait_for(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(locator)
        .await
        .unwrap()
}

/// Waits for the setup page that answers a saved settings form: only it
/// confirms the save (the page the form was on did not).
pub async fn saved(client: &Client) {
    wait_for(
        client,
        Locator::XPath(
            "//p[@class='saved' and contains(., 'The application settings were saved.')]",
        ),
    )
    .await;
}

/// On a setup page: enters the app's client id and secret, saves them and
/// waits for the confirmation.
pub async fn enter_credentials(client: &Client, client_id: &str, secret: &str) {
    let form = wait_for(client, Locator::Css("form[action$='/settings']")).await;
    type_into(&form, "client_id", client_id).await;
    type_into(&form, "client_secret", secret).await;
    submit(&form).await;
    // The form's answer, before the browser is sent anywhere else: a
    // navigation started now would cancel a submission still under way.
    saved(client).await;
}

/// Where the browser landed after consent: the address starting with
/// `prefix` it was sent to (where nothing may answer).
pub async fn landed_at(client: &Client, prefix: &str) -> String {
    let mut landed = client.current_url().await.unwrap().to_string();
    for _ in 0..200 {
        if landed.starts_with(prefix) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        landed = client.current_url().await.unwrap().to_string();
    }
    assert!(landed.starts_with(&format!("{prefix}?")), "{landed}");
    landed
}

/// On the setup page at `setup`: pastes `address` into the row's field and
/// completes; the result page's text.
pub async fn paste(client: &Client, setup: &str, address: &str) -> String {
    client.goto(setup).await.unwrap();
    let form = wait_for(client, Locator::Css("form[action$='/auth2']")).await;
    type_into(&form, "address", address).await;
    submit(&form).await;
    wait_for(client, Locator::LinkText("Back to the setup page")).await;
    text(client).await
}

/// Waits for `locator` and clicks it.
pub async fn click(client: &Client, locator: Locator<'_>) {
    wait_for(client, locator).await.click().await.unwrap();
}

/// On the setup page of jack: creates jack, follows the authorise link and
/// allows access on the provider's consent page.
pub async fn create_jack_and_allow(client: &Client) {
    click(
        client,
        Locator::XPath("//button[contains(., 'Create user jack')]"),
    )
    .await;
    click(client, Locator::Css("a[href$='auth1?user=jack']")).await;
    click(client, Locator::Css("button[value=allow]")).await;
}

pub async fn text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

pub async fn submit(form: &fantoccini::elements::Element) {
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Replaces what the form's input `name` holds by `text`, as typed.
pub async fn type_into(form: &fantoccini::elements::Element, name: &str, text: &str) {
    let input = form
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

/// A headless Chromium on a laptop that reaches `listen` (`127.0.0.1:N`)
/// by the name `igor.local` and port `port`, and that address,
/// `http://igor.local:{port}`.
pub async fn laptop_browser(
    port: u16,
    listen: &str,
) -> (Driver, Client, tempfile::TempDir, String) {
    let rule = format!("--host-resolver-rules=MAP igor.local:{port} {listen}");
    let (driver, client, profile) = browser_with(&[&rule]).await;
    (driver, client, profile, format!("http://igor.local:{port}"))
}

/// Logs in to the Igor at `site` as its admin (no password).
pub async fn log_in_to_igor(client: &Client, site: &str) {
    client.goto(&format!("{site}/login")).await.unwrap();
    let login = wait_for(client, Locator::Css("form[action='/login'][method=post]")).await;
    type_into(&login, "username", "admin").await;
    // Igor's login form has an `<input type=submit>`, not a button.
    let button = login
        .find(Locator::Css("input[type=submit]"))
        .await
        .unwrap();
    button.click().await.unwrap();
    // Igor answers a login with its home page: wait for it before leaving.
    let home = url::Url::parse(&format!("{site}/")).unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_url(&home)
        .await
        .unwrap();
}

/// Opens the setup page at `setup`; its heading.
pub async fn open_setup(client: &Client, setup: &str) -> String {
    client.goto(setup).await.unwrap();
    let heading = wait_for(client, Locator::Css("h1")).await;
    heading.text().await.unwrap()
}

/// On the setup page at `setup`, where the provider's redirect URI
/// `redirect` does not load: enters the app's client id and secret,
/// creates jack, allows access on the consent page, pastes the address the
/// browser landed on and goes back to the setup page, which then says jack
/// has given permission. `log` says what the servers did, should it fail.
pub async fn authorise_jack_by_pasting(
    client: &Client,
    setup: &str,
    redirect: &str,
    (client_id, secret): (&str, &str),
    log: impl Fn() -> String,
) {
    enter_credentials(client, client_id, secret).await;
    client.goto(&format!("{setup}?user=jack")).await.unwrap();
    create_jack_and_allow(client).await;
    let landed = landed_at(client, redirect).await;
    let done = paste(client, setup, &landed).await;
    assert!(
        done.contains("Google Health access for jack is set up"),
        "{done}\n{}",
        log()
    );
    click(client, Locator::LinkText("Back to the setup page")).await;
    wait_for(
        client,
        Locator::XPath("//p[contains(., 'jack has already given permission')]"),
    )
    .await;
}

/// A loopback port that stays taken for the rest of the test and answers
/// nothing: connections are closed unanswered, as a laptop's own port
/// refuses them. (A port merely found free could be given to this test's
/// host, which would then complete the authorisation meant for pasting.)
pub async fn nothing_answers() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
        }
    });
    port
}
