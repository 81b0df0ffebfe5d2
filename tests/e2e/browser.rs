//! The setup page in a real headless Chromium (driven over WebDriver by
//! chromedriver): an owner enters the app credentials, creates a user,
//! follows the authorise link through the provider's consent page and lands
//! back on a readable success page, or, on a LAN installation Google does
//! not accept as a redirect, pastes the address the browser landed on; the
//! user's chart is checked on screenshots in light and dark mode. Needs
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Host, HostConfig, clouds, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};
use igor_test_support::{FakeFitbit, FakeGoogle};

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, Client, tempfile::TempDir) {
    browser_with(&[]).await
}

/// A headless Chromium with extra command-line switches.
async fn browser_with(switches: &[&str]) -> (Driver, Client, tempfile::TempDir) {
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
async fn wait_for(client: &Client, locator: Locator<'_>) -> fantoccini::elements::Element {
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(locator)
        .await
        .unwrap()
}

/// Waits for the setup page that answers a saved settings form: only it
/// says that the secret is set (the page the form was on did not).
async fn saved(client: &Client) {
    wait_for(
        client,
        Locator::XPath("//span[contains(., 'set (leave empty to keep it)')]"),
    )
    .await;
}

/// Waits for `locator` and clicks it.
async fn click(client: &Client, locator: Locator<'_>) {
    wait_for(client, locator).await.click().await.unwrap();
}

/// On the setup page of jack: creates jack, follows the authorise link and
/// allows access on the provider's consent page.
async fn create_jack_and_allow(client: &Client) {
    click(
        client,
        Locator::XPath("//button[contains(., 'Create user jack')]"),
    )
    .await;
    click(client, Locator::Css("a[href$='auth1?user=jack']")).await;
    click(client, Locator::Css("button[value=allow]")).await;
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
    let host = Host::start(HostConfig::new().plugin(clouds::fitbit_plugin(&fake))).await;
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
    type_into(&form, "client_id", "22ABCD").await;
    type_into(&form, "client_secret", "browser-secret").await;
    if let Ok(provider) = form.find(Locator::Css("select[name=provider]")).await {
        provider.select_by_value("fitbit").await.unwrap();
    }
    form.find(Locator::Css("select[name=system]"))
        .await
        .unwrap()
        .select_by_value("en_GB")
        .await
        .unwrap();
    submit(&form).await;
    saved(&client).await;
    let html = client.source().await.unwrap();
    assert!(
        !html.contains("browser-secret"),
        "the secret is never shown"
    );

    // Create the user, then authorise it through the consent page.
    create_jack_and_allow(&client).await;
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

fn google_config(google: &FakeGoogle) -> HostConfig {
    HostConfig::new().plugin(clouds::google_plugin(google, None))
}

async fn submit(form: &fantoccini::elements::Element) {
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn type_into(form: &fantoccini::elements::Element, name: &str, text: &str) {
    form.find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lan_owner_completes_google_consent_by_pasting_the_address() {
    let google = FakeGoogle::start().await;
    // The base URL as the LAN knows it. The browser reaches it by that name
    // (mapped to the host here); at localhost on its port nothing answers,
    // as on the owner's laptop.
    let port = nothing_answers().await;
    let base = format!("http://igor.local:{port}");
    let config = google_config(&google).server(|server| server.base_url = Some(base.clone()));
    let host = Host::start(config).await;
    let loopback = format!("http://localhost:{port}/plugin/fitbit/auth2");
    google.register_client("cid.apps.googleusercontent.com", "GOCSPX-b", &[&loopback]);
    let listen = host.url.strip_prefix("http://").unwrap();
    let rule = format!("--host-resolver-rules=MAP igor.local:{port} {listen}");
    let (_driver, client, _profile) = browser_with(&[&rule]).await;
    let setup = format!("{base}/plugin/fitbit/page/setup.html");
    client.goto(&setup).await.unwrap();
    let page = text(&client).await;
    assert!(page.contains("Google will refuse this base URL"), "{page}");
    assert!(page.contains(&loopback), "{page}");

    // The settings form is posted from the address the browser uses, which
    // is not the base URL: accepted.
    let form = client
        .find(Locator::Css("form[action$='/settings']"))
        .await
        .unwrap();
    type_into(&form, "client_id", "cid.apps.googleusercontent.com").await;
    type_into(&form, "client_secret", "GOCSPX-b").await;
    submit(&form).await;
    // The form's answer, before the browser is sent anywhere else: a
    // navigation started now would cancel a submission still under way.
    saved(&client).await;
    client.goto(&format!("{setup}?user=jack")).await.unwrap();
    create_jack_and_allow(&client).await;
    // The browser is sent to the loopback address, where nothing answers.
    let mut landed = client.current_url().await.unwrap().to_string();
    for _ in 0..100 {
        if landed.starts_with(&loopback) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        landed = client.current_url().await.unwrap().to_string();
    }
    assert!(landed.starts_with(&format!("{loopback}?")), "{landed}");
    assert!(landed.contains("code=") && landed.contains("state=jack."));

    client.goto(&setup).await.unwrap();
    let form = wait_for(&client, Locator::Css("form[action$='/auth2']")).await;
    type_into(&form, "address", &landed).await;
    submit(&form).await;
    let back = wait_for(&client, Locator::LinkText("Back to the setup page")).await;
    let page = text(&client).await;
    assert!(
        page.contains("Google Health access for jack is set up"),
        "{page}"
    );
    back.click().await.unwrap();
    wait_for(
        &client,
        Locator::XPath("//p[contains(., 'jack has already given permission')]"),
    )
    .await;
    assert!(text(&client).await.contains("granted 20"));
    client.close().await.unwrap();
}

/// A loopback port that stays taken for the rest of the test and answers
/// nothing: connections are closed unanswered, as a laptop's own port
/// refuses them. (A port merely found free could be given to this test's
/// host, which would then complete the authorisation meant for pasting.)
async fn nothing_answers() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((connection, _)) = listener.accept().await {
            drop(connection);
        }
    });
    port
}

/// Pixels of `png` within `tolerance` of each of `colours`, per colour.
fn count_colours(png: &[u8], colours: &[[u8; 3]], tolerance: i32) -> Vec<usize> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buffer[..info.buffer_size()];
    colours
        .iter()
        .map(|colour| {
            pixels
                .chunks(channels)
                .filter(|p| {
                    (0..3).all(|i| (i32::from(p[i]) - i32::from(colour[i])).abs() <= tolerance)
                })
                .count()
        })
        .collect()
}

/// How the browser draws the chart's lines and points: the computed fill
/// and stroke of each series' line and of its first point.
async fn chart_paint(client: &Client) -> serde_json::Value {
    client
        .execute(
            "const paint = (s) => { const e = document.querySelector('#user-jack svg.chart ' + s); \
               const c = getComputedStyle(e); return {fill: c.fill, stroke: c.stroke}; }; \
             return {weight_line: paint('polyline.w'), weight_point: paint('circle.w'), \
                     fat_line: paint('polyline.f'), fat_point: paint('circle.f')};",
            vec![],
        )
        .await
        .unwrap()
}

/// `rgb(r, g, b)` as a computed style gives it.
fn rgb([r, g, b]: [u8; 3]) -> String {
    format!("rgb({r}, {g}, {b})")
}

/// Opens the setup page in a browser with `switches`, checks the scheme it
/// reports and that each series is drawn as a line in `colours` (weight,
/// body fat) with filled points, and returns screenshots of the page and of
/// jack's chart.
async fn screenshots(
    setup: &str,
    switches: &[&str],
    dark: bool,
    colours: [[u8; 3]; 2],
) -> (Vec<u8>, Vec<u8>) {
    let (_driver, client, _profile) = browser_with(switches).await;
    client.goto(setup).await.unwrap();
    let chart = wait_for(&client, Locator::Css("#user-jack svg.chart")).await;
    let scheme = client
        .execute(
            "return matchMedia('(prefers-color-scheme: dark)').matches",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(scheme, serde_json::json!(dark));
    let paint = chart_paint(&client).await;
    for (series, colour) in ["weight", "fat"].into_iter().zip(colours) {
        let line = &paint[format!("{series}_line")];
        assert_eq!(line["fill"], "none", "{series} line: {paint}");
        assert_eq!(line["stroke"], rgb(colour), "{series} line: {paint}");
        let point = &paint[format!("{series}_point")];
        assert_eq!(point["fill"], rgb(colour), "{series} point: {paint}");
    }
    let shots = (
        client.screenshot().await.unwrap(),
        chart.screenshot().await.unwrap(),
    );
    client.close().await.unwrap();
    shots
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_page_shows_each_users_chart_in_light_and_dark_mode() {
    let google = FakeGoogle::start().await;
    let host = Host::start(google_config(&google)).await;
    google.register_client(
        "cid.apps.googleusercontent.com",
        "GOCSPX-c",
        &[&format!("{}/plugin/fitbit/auth2", host.url)],
    );
    let http = common::Client::new(&host).http;
    let plugin = format!("{}/plugin/fitbit", host.url);
    let saved = http
        .post(format!("{plugin}/settings"))
        .form(&[
            ("client_id", "cid.apps.googleusercontent.com"),
            ("client_secret", "GOCSPX-c"),
            ("system", "en_GB"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let started = http
        .get(format!("{plugin}/auth1?user=jack"))
        .send()
        .await
        .unwrap();
    let back = igor_test_support::consent(&http, started.headers()["location"].to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(http.get(&back).send().await.unwrap().status(), 200);
    // Two months of weigh-ins, falling from 84 to 80 kg, and body fat.
    let now = chrono::Utc::now();
    for day in (0..60).step_by(3) {
        let at = (now - chrono::Duration::days(day) - chrono::Duration::hours(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let kg = 80.0 + 4.0 * day as f64 / 60.0;
        google.add_data_point(DEFAULT_HEALTH_USER_ID, DataPoint::weight(&at, kg * 1000.0));
        google.add_data_point(
            DEFAULT_HEALTH_USER_ID,
            DataPoint::body_fat(&at, 20.0 + day as f64 / 10.0),
        );
    }
    let run = http
        .get(format!(
            "{plugin}?user=jack&methods=get_bodyweight,get_bodyfat&period=3m"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), 200, "{}", run.text().await.unwrap());
    let html = common::page_text(&http, &format!("{plugin}/page/setup.html")).await;
    // In stone (en_GB): 84 kg is 13.23 st, 80 kg is 12.6 st.
    assert!(html.contains("weight from 13.2"), "{html}");
    assert!(html.contains("to 12.6 st on "), "{html}");
    assert!(html.contains("body fat from 25.7 % on "), "{html}");

    let setup = format!("{plugin}/page/setup.html");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (dark, switches, weight, fat) in [
        (false, vec![], [0x15, 0x65, 0xc0], [0xc2, 0x18, 0x5b]),
        (
            true,
            vec!["--force-dark-mode"],
            [0x64, 0xb5, 0xf6],
            [0xf4, 0x8f, 0xb1],
        ),
    ] {
        let (page, chart) = screenshots(&setup, &switches, dark, [weight, fat]).await;
        let name = if dark { "dark" } else { "light" };
        std::fs::write(out.join(format!("setup-{name}.png")), &page).unwrap();
        std::fs::write(out.join(format!("chart-{name}.png")), &chart).unwrap();
        let counts = count_colours(&chart, &[weight, fat], 40);
        assert!(
            counts[0] > 300,
            "{name}: weight line and points: {counts:?}"
        );
        assert!(
            counts[1] > 300,
            "{name}: body fat line and points: {counts:?}"
        );
        // The chart's background is the page's: white, or dark.
        let background = if dark {
            [0x16, 0x18, 0x1d]
        } else {
            [0xff, 0xff, 0xff]
        };
        let behind = count_colours(&chart, &[background], 8)[0];
        assert!(behind > 20_000, "{name}: background pixels {behind}");
    }
}
