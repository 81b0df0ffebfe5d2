//! An Igor owner's view, end to end: a real Igor with the forwarding plugin
//! installed as `fitbit`, igor-host keeping the data in that Igor, and the
//! fake Google provider. Credentials are set, a user authorised and Igor's
//! own scheduled action run, all through Igor's URLs; the results are read
//! back from Igor's REST API.

use crate::common;

use std::time::Duration;

use common::{Client, Host, HostConfig, clouds};
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;
use igor_test_support::real_igor;
use igor_test_support::{FakeGoogle, consent};
use real_igor::{Igor, Options};
use serde_json::Value;

const CLIENT_ID: &str = "igor-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-igor";
const FORWARD_SECRET: &str = "s-forward-secret";
const OWNER: &str = "token-of-the-owner";

/// A real Igor with its std fitbit plugin's fragment and action, the
/// plugin itself replaced by the forwarder.
async fn igor_with_forwarder() -> Igor {
    Igor::start(Options {
        capabilities: false,
        addstd: vec!["fitbit".into()],
        forwarder: true,
    })
    .await
}

/// An Igor owner's installation: a real Igor with the forwarder as
/// `fitbit`, the host keeping its data in that Igor, and the fake Google
/// (in Testing mode) sending browsers back to Igor's callback.
struct IgorOwner {
    google: FakeGoogle,
    igor: Igor,
    host: Host,
    browser: reqwest::Client,
    /// The plugin's URL at Igor.
    plugin: String,
    /// Igor's OAuth callback, which forwards to the host.
    redirect: String,
}

impl IgorOwner {
    async fn start() -> Self {
        let google = FakeGoogle::start().await;
        let igor = igor_with_forwarder().await;
        let plugin = clouds::google_plugin(&google, None);
        let config = HostConfig::new().plugin(plugin);
        let host = Host::start(config.behind_igor(&igor.url, FORWARD_SECRET)).await;
        common::forward_to(&igor, &host, FORWARD_SECRET).await;
        let redirect = format!("{}/plugin/fitbit/auth2", igor.url);
        google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);
        google.set_testing_mode(CLIENT_ID, true);
        Self {
            browser: Client::at(&igor.url).http,
            plugin: format!("{}/plugin/fitbit", igor.url),
            google,
            igor,
            host,
            redirect,
        }
    }

    /// The secret set the original plugin's way, in Igor's database, and
    /// the client id through Igor's URL, a form posted from the address the
    /// browser used (localhost, while Igor calls itself 127.0.0.1): Igor's
    /// forwarder passes that host on.
    async fn set_credentials(&self) {
        self.igor
            .put_json(
                "plugindata/fitbit/client_secret",
                &serde_json::json!({ "client_secret": CLIENT_SECRET }).to_string(),
            )
            .await;
        let localhost = format!("http://localhost:{}", self.igor.port);
        let saved = self
            .browser
            .post(format!("{localhost}/plugin/fitbit/settings"))
            .header("origin", &localhost)
            .form(&[("client_id", CLIENT_ID)])
            .send()
            .await
            .unwrap();
        assert_eq!(saved.status(), 200, "{}", self.igor.log());
    }

    /// Igor's auth1 → Google consent → Igor's auth2 for jack.
    async fn authorise_jack(&self) {
        let start = self
            .browser
            .get(format!("{}/auth1?user=jack", self.plugin))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), 303, "{}", self.igor.log());
        let location = start.headers()["location"].to_str().unwrap().to_string();
        let back = consent(&self.browser, &location).await.unwrap();
        assert!(back.starts_with(&self.redirect), "{back}");
        let done = self.browser.get(&back).send().await.unwrap();
        assert_eq!(done.status(), 200, "{}", self.igor.log());
    }

    /// Credentials set and jack authorised.
    async fn with_jack() -> Self {
        let owner = Self::start().await;
        owner.set_credentials().await;
        owner.authorise_jack().await;
        owner
    }

    /// Igor's own status of sensors/fitbit once `ready` holds (Igor runs
    /// the plugin's action when it starts).
    async fn igor_status(&self, ready: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..150 {
            if let Some(status) = self.igor.get_json("status/sensors/fitbit").await
                && ready(&status["fitbit"])
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!(
            "no such status\nigor: {}\nhost: {}",
            self.igor.log(),
            self.host.log()
        );
    }

    /// Igor saved and started again, which runs its action.
    async fn save_and_restart_igor(&mut self) {
        let save = reqwest::Client::new()
            .get(format!("{}/internal/save", self.igor.url))
            .basic_auth("admin", Some(""))
            .send()
            .await
            .unwrap();
        assert!(save.status().is_success());
        self.igor.restart().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_setup_page_keeps_its_url_and_names_igors_callback() {
    let owner = IgorOwner::start().await;
    let url = format!("{}/page/setup.html?user=jack", owner.plugin);
    let page = common::page_text(&owner.browser, &url).await;
    assert!(
        page.contains(&owner.redirect),
        "{page}\n{}",
        owner.igor.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_set_the_original_way_move_out_of_igors_database() {
    let owner = IgorOwner::start().await;
    owner.set_credentials().await;
    let cross_site = owner
        .browser
        .post(format!("{}/settings", owner.plugin))
        .header("origin", "http://evil.example")
        .form(&[("client_id", "other")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    // On first use the secret moves into the host and out of Igor.
    let url = format!("{}/page/setup.html", owner.plugin);
    let page = common::page_text(&owner.browser, &url).await;
    assert!(page.contains("set (leave empty to keep it)"), "{page}");
    let app = owner.igor.get_json("plugindata/fitbit").await.unwrap();
    assert_eq!(app["fitbit"]["client_id"], CLIENT_ID, "{app}");
    assert!(
        !app.to_string().contains(CLIENT_SECRET),
        "the secret left Igor's database: {app}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn authorising_through_igors_urls_keeps_the_token_in_igor() {
    let owner = IgorOwner::with_jack().await;
    let token = owner
        .igor
        .get_json("identities/jack/plugindata/fitbit/token")
        .await
        .unwrap();
    assert_eq!(token["token"]["provider"], "google-health", "{token}");
}

#[tokio::test(flavor = "multi_thread")]
async fn igors_own_action_fetches_into_igor() {
    let mut owner = IgorOwner::with_jack().await;
    // The action from the plugin's fragment (user jack, representing
    // sensors/fitbit) fires when Igor starts.
    owner
        .google
        .add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);
    owner.save_and_restart_igor().await;
    let status = owner.igor_status(|s| s["alive"] == true).await;
    assert!(status["fitbit"].get("lastSuccess").is_some(), "{status}");
    let sensors = owner.igor.get_json("sensors/fitbit/jack").await.unwrap();
    let weight = real_igor::first_weight(&sensors["jack"]["weight"]);
    assert!((weight - 80.1).abs() < 0.01, "{sensors}");
}

#[tokio::test(flavor = "multi_thread")]
async fn modify_as_the_page_renders_it_keeps_the_sync_and_the_token() {
    let owner = IgorOwner::with_jack().await;
    let (browser, plugin) = (&owner.browser, &owner.plugin);
    let run = common::page_text(browser, &format!("{plugin}?user=jack")).await;
    assert!(run.contains("weight"), "{run}");
    // Igor reads jack's settings back with the sync bookkeeping inside; the
    // page leaves it out.
    let stored = owner
        .igor
        .get_json("identities/jack/plugindata/fitbit")
        .await
        .unwrap();
    assert!(stored["fitbit"].get("sync").is_some(), "{stored}");
    let page = common::page_text(browser, &format!("{plugin}/page/setup.html?user=jack")).await;
    let form = &page[page.find("<h2>Settings of jack</h2>").expect("the form")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(
        !form.contains("name=\"sync\"") && !form.contains("name=\"token\""),
        "{form}"
    );
    let mut fields = input_fields(form);
    fields.retain(|(name, _)| name != "_newName" && name != "_newValue");
    fields.push(("_newName".into(), "period".into()));
    fields.push(("_newValue".into(), "7d".into()));
    let modified = browser
        .post(format!("{plugin}/userSettings"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(modified.status(), 303, "{}", owner.igor.log());
    let stored = owner
        .igor
        .get_json("identities/jack/plugindata/fitbit")
        .await
        .unwrap();
    assert_eq!(stored["fitbit"]["period"], "7d", "{stored}");
    assert!(
        stored["fitbit"]["token"].get("refresh_token").is_some(),
        "{stored}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_end_of_testing_access_shows_in_igors_status() {
    let mut owner = IgorOwner::with_jack().await;
    // A week later Google ends the Testing grant: Igor's own status of
    // sensors/fitbit carries the notice next to Igor's error message.
    owner
        .google
        .advance_clock(Duration::from_secs(7 * 24 * 3600 + 60));
    owner.save_and_restart_igor().await;
    let status = owner
        .igor_status(|s| {
            s["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("Token has been expired or revoked"))
                && s.get("notice").is_some()
        })
        .await;
    let notice = status["fitbit"]["notice"]["jack"]
        .as_str()
        .unwrap_or_default();
    assert!(
        notice.starts_with("authorise jack again since "),
        "{status}"
    );
    let again = format!("{}/auth1?user=jack", owner.plugin);
    assert!(notice.ends_with(&again), "{notice}");
    assert_ne!(status["fitbit"]["alive"], true, "{status}");
}

/// The `name`/`value` pairs of a form's inputs, as a browser would post them.
fn input_fields(form: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + tag[start..].find('"')?;
        Some(
            tag[start..end]
                .replace("&amp;", "&")
                .replace("&quot;", "\""),
        )
    };
    form.match_indices("<input")
        .filter_map(|(i, _)| {
            let tag = &form[i..i + form[i..].find('>')?];
            Some((
                attribute(tag, "name")?,
                attribute(tag, "value").unwrap_or_default(),
            ))
        })
        .collect()
}

/// A TCP proxy in front of Igor that holds back every chunk of Igor's
/// answers for `delay`: a slow Igor.
async fn slow_proxy(upstream: u16, delay: Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let (mut from_client, mut to_client) = inbound.into_split();
                let (mut from_igor, mut to_igor) = outbound.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_igor).await;
                });
                let mut buffer = vec![0u8; 64 << 10];
                while let Ok(n) = from_igor.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    if to_client.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn refreshes_survive_a_slow_igor_and_concurrent_runs() {
    use igor_test_support::FakeFitbit;
    use igor_test_support::fake_fitbit::{DEFAULT_USER_ID, WeightLog};

    let fitbit = FakeFitbit::start().await;
    let igor = igor_with_forwarder().await;
    let proxy = slow_proxy(igor.port, Duration::from_millis(150)).await;
    let config = HostConfig::new()
        .plugin(clouds::fitbit_plugin(&fitbit))
        .owner_token(OWNER);
    let proxy = format!("http://127.0.0.1:{proxy}");
    let host = Host::start(config.behind_igor(&proxy, FORWARD_SECRET)).await;
    common::forward_to(&igor, &host, FORWARD_SECRET).await;
    let redirect = format!("{}/plugin/fitbit/auth2", igor.url);
    fitbit.register_client("22ABCD", "legacy-secret", &[&redirect]);
    let browser = Client::at(&igor.url).http;
    let plugin = format!("{}/plugin/fitbit", igor.url);
    let loaded = browser
        .get(format!("{plugin}/page/setup.html"))
        .send()
        .await
        .unwrap();
    assert_eq!(loaded.status(), 200, "{}", igor.log());
    let saved = browser
        .post(format!("{plugin}/settings"))
        .form(&[
            ("client_id", "22ABCD"),
            ("client_secret", "legacy-secret"),
            ("provider", "fitbit"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200, "{}", igor.log());
    // Every call refreshes: single-use refresh tokens, saved through a slow Igor.
    fitbit.set_access_token_lifetime(Duration::from_secs(30));
    let start = browser
        .get(format!("{plugin}/auth1?user=jack"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303, "{}", igor.log());
    let back = consent(&browser, start.headers()["location"].to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(browser.get(&back).send().await.unwrap().status(), 200);
    for day in ["2026-11-18", "2026-11-20"] {
        fitbit.add_weight(DEFAULT_USER_ID, WeightLog::new(day, "07:00:00", 80.0));
    }
    let query = "/plugin/fitbit?user=jack&base_date=2026-11-22&period=7d";

    // A refresh while Igor answers slowly: the new token is saved first.
    // Calls to the host itself need the owner's token: it takes only
    // Igor's forwarded requests otherwise.
    let direct = format!("{}{query}", host.url);
    assert_eq!(browser.get(&direct).send().await.unwrap().status(), 401);
    let as_owner = |url: &str| browser.get(url).bearer_auth(OWNER);
    let response = as_owner(&direct).send().await.unwrap();
    assert_eq!(response.status(), 200, "{}", host.log());

    // The same user from Igor and from the host at once: every run succeeds
    // and the stored refresh token is the one Fitbit considers live.
    let through_igor = format!("{}{query}", igor.url);
    let runs: Vec<_> = [&direct, &through_igor, &direct, &through_igor]
        .into_iter()
        .map(|url| {
            let request = if url == &direct {
                as_owner(url)
            } else {
                browser.get(url)
            };
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            })
        })
        .collect();
    for run in runs {
        let (status, body) = run.await.unwrap();
        assert_eq!(status, 200, "{body}\nhost: {}", host.log());
    }
    let token = igor
        .get_json("identities/jack/plugindata/fitbit/token")
        .await
        .unwrap();
    assert_eq!(
        token["token"]["refresh_token"].as_str(),
        fitbit.refresh_token_of(DEFAULT_USER_ID).as_deref(),
        "{token}"
    );
    let response = as_owner(&direct).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
