//! The setup page in a real headless Chromium (driven over WebDriver by
//! chromedriver): an owner enters the app credentials, creates a user,
//! follows the authorise link through the provider's consent page and lands
//! back on a readable success page, or, on a LAN installation Google does
//! not accept as a redirect, pastes the address the browser landed on; the
//! user's chart is checked on screenshots in light and dark mode. Needs
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them).

mod authorisation;
mod chromium;
mod through_igor;

use crate::common;

use chromium::{
    browser, browser_with, click, create_jack_and_allow, enter_credentials, landed_at,
    laptop_browser, nothing_answers, paste, saved, submit, text, type_into, wait_for,
};
use common::{Host, HostConfig, clouds};
use fantoccini::{Client, Locator};
use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID, DataPoint};
use igor_test_support::{FakeFitbit, FakeGoogle};

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

    // Deleting takes a second step, which says what it removes.
    client
        .goto(&format!("{}/plugin/fitbit/page/setup.html", host.url))
        .await
        .unwrap();
    let yes = wait_for(
        &client,
        Locator::XPath("//button[contains(., 'Yes, delete jack')]"),
    )
    .await;
    assert!(!yes.is_displayed().await.unwrap(), "hidden until asked for");
    click(
        &client,
        Locator::XPath("//summary[contains(., 'Delete jack')]"),
    )
    .await;
    assert!(yes.is_displayed().await.unwrap());
    let row = text(&client).await;
    assert!(row.contains("It cannot be undone."), "{row}");
    yes.click().await.unwrap();
    wait_for(
        &client,
        Locator::XPath("//p[@class='saved' and contains(., 'The user was deleted')]"),
    )
    .await;
    assert!(client.find(Locator::Css("#user-jack")).await.is_err());
    assert!(
        host.stored("identities/jack/plugindata/fitbit/token")
            .is_none()
    );
    client.close().await.unwrap();
}

fn google_config(google: &FakeGoogle) -> HostConfig {
    HostConfig::new().plugin(clouds::google_plugin(google, None))
}

/// A host on the LAN as its owner's laptop sees it: the base URL is
/// `http://igor.local:PORT`, a name Google refuses as a redirect, and at
/// localhost on PORT nothing answers; the Google client registered with
/// that loopback redirect; and the laptop's browser, which reaches the host
/// by its LAN name (mapped to the host here).
struct OnTheLan {
    host: Host,
    /// `{base}/plugin/fitbit/page/setup.html`.
    setup: String,
    /// `http://localhost:PORT/plugin/fitbit/auth2`.
    loopback: String,
    client: Client,
    _browser: (chromium::Driver, tempfile::TempDir),
}

impl OnTheLan {
    /// Registers `client_id` with `secret` at `google` for the loopback redirect.
    async fn start(google: &FakeGoogle, client_id: &str, secret: &str) -> Self {
        let port = nothing_answers().await;
        let base = format!("http://igor.local:{port}");
        let config = google_config(google).server(|server| server.base_url = Some(base.clone()));
        let host = Host::start(config).await;
        let loopback = format!("http://localhost:{port}/plugin/fitbit/auth2");
        google.register_client(client_id, secret, &[&loopback]);
        let listen = host.url.strip_prefix("http://").unwrap().to_string();
        let (driver, client, profile, _) = laptop_browser(port, &listen).await;
        OnTheLan {
            host,
            setup: format!("{base}/plugin/fitbit/page/setup.html"),
            loopback,
            client,
            _browser: (driver, profile),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lan_owner_completes_google_consent_by_pasting_the_address() {
    let google = FakeGoogle::start().await;
    let OnTheLan {
        host: _host,
        setup,
        loopback,
        client,
        _browser,
    } = OnTheLan::start(&google, "cid.apps.googleusercontent.com", "GOCSPX-b").await;
    client.goto(&setup).await.unwrap();
    let page = text(&client).await;
    assert!(page.contains("Google will refuse this base URL"), "{page}");
    assert!(page.contains(&loopback), "{page}");

    // The settings form is posted from the address the browser uses, which
    // is not the base URL: accepted.
    enter_credentials(&client, "cid.apps.googleusercontent.com", "GOCSPX-b").await;
    client.goto(&format!("{setup}?user=jack")).await.unwrap();
    create_jack_and_allow(&client).await;
    // The browser is sent to the loopback address, where nothing answers.
    let landed = landed_at(&client, &loopback).await;
    assert!(landed.contains("code=") && landed.contains("state=jack."));

    let page = paste(&client, &setup, &landed).await;
    assert!(
        page.contains("Google Health access for jack is set up"),
        "{page}"
    );
    click(&client, Locator::LinkText("Back to the setup page")).await;
    wait_for(
        &client,
        Locator::XPath("//p[contains(., 'jack has already given permission')]"),
    )
    .await;
    assert!(text(&client).await.contains("granted 20"));
    client.close().await.unwrap();
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
