//! A real Igor 0.99.1 with access control in front of the real host, as an
//! Igor owner runs them: the attacks of a hostile Igor user who may only
//! open the plugin's pages (`guest`), the name the owner's browser used,
//! and Igor's own URL as the redirect base, followed while the host runs.

use crate::common;

use std::time::{Duration, Instant};

use common::{Host, HostConfig, clouds};
use igor_test_support::FakeGoogle;
use igor_test_support::real_igor::{Igor, Options};
use serde_json::{Value, json};

const CLIENT_ID: &str = "igor-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-igor";
const FORWARD_SECRET: &str = "s-forward-secret";

/// Igor with the forwarder as `fitbit`, access control and a `guest` who
/// may call the plugin's pages and write only its own identity; the host
/// keeping its data in that Igor, Google faked.
struct Installation {
    _google: FakeGoogle,
    igor: Igor,
    host: Host,
}

impl Installation {
    async fn start() -> Self {
        let google = FakeGoogle::start().await;
        let mut igor = Igor::start(Options {
            capabilities: true,
            addstd: vec![],
            forwarder: true,
        })
        .await;
        igor.add_guest().await;
        let config = HostConfig::new()
            .plugin(clouds::google_plugin(&google, None))
            .behind_igor(&igor.url, FORWARD_SECRET)
            .server(|server| server.allowed_hosts = vec!["igor.local".into()]);
        let host = Host::start(config).await;
        common::forward_to(&igor, &host, FORWARD_SECRET).await;
        let redirect = format!("{}/plugin/fitbit/auth2", igor.url);
        google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);
        let installation = Self {
            _google: google,
            igor,
            host,
        };
        // The admin sets the app up and creates jack, from Igor's page
        // (which also loads the forwarder and with it the POST route).
        let page = installation.get("admin", "/page/setup.html").await;
        assert_eq!(page.0, 200, "{}", installation.igor.log());
        let settings = [("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        let saved = installation.form("admin", "/settings", &settings).await;
        assert_eq!(saved.0, 200, "{saved:?}");
        let jack = installation
            .form("admin", "/userSettings", &[("user", "jack")])
            .await;
        assert_eq!(jack.0, 200, "{jack:?}");
        assert!(installation.jack_exists().await);
        installation
    }

    fn browser() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// `GET /plugin/fitbit{below}` at Igor as `user` (Basic credentials).
    async fn get(&self, user: &str, below: &str) -> (u16, String) {
        let request = Self::browser()
            .get(format!("{}/plugin/fitbit{below}", self.igor.url))
            .basic_auth(user, Some(""));
        answer(request).await
    }

    /// A form of Igor's setup page posted by `user`.
    async fn form(&self, user: &str, below: &str, form: &[(&str, &str)]) -> (u16, String) {
        self.post(
            user,
            below,
            "application/x-www-form-urlencoded",
            encode(form),
        )
        .await
    }

    /// A POST from Igor's own page by `user` with any body.
    async fn post(
        &self,
        user: &str,
        below: &str,
        content_type: &str,
        body: String,
    ) -> (u16, String) {
        let request = Self::browser()
            .post(format!("{}/plugin/fitbit{below}", self.igor.url))
            .basic_auth(user, Some(""))
            .header("origin", &self.igor.url)
            .header("content-type", content_type)
            .body(body);
        answer(request).await
    }

    async fn client_id(&self) -> Value {
        self.igor.get_json("plugindata/fitbit").await.unwrap()["fitbit"]["client_id"].clone()
    }

    async fn jack_exists(&self) -> bool {
        self.igor
            .get_json("identities/jack/plugindata/fitbit")
            .await
            .is_some()
    }
}

fn encode(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_change_the_apps_settings() {
    let o = Installation::start().await;
    // The form names the guest, whose own settings the guest may write;
    // the settings route changes the app's.
    let evil = [
        ("user", "guest"),
        ("client_id", "EVIL"),
        ("client_secret", "X"),
    ];
    let (status, text) = o.form("guest", "/settings", &evil).await;
    assert_eq!(status, 403, "{text}");
    assert_eq!(o.client_id().await, CLIENT_ID);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_delete_another_user_by_smuggling_a_form() {
    let o = Installation::start().await;
    // Flask reads a multipart form naming the guest; its raw bytes, read
    // as a urlencoded form, name jack.
    let multipart = "--B\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nguest\r\n--B--\r\n\
         &user=jack&delete=true";
    let (status, text) = o
        .post(
            "guest",
            "/userSettings",
            "multipart/form-data; boundary=B",
            multipart.into(),
        )
        .await;
    assert_eq!(status, 415, "{text}");
    assert!(o.jack_exists().await, "jack was deleted");

    // The guest's own settings stay the guest's to change.
    let (status, text) = o.form("guest", "/userSettings", &[("user", "guest")]).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_cannot_authorise_another_user() {
    let o = Installation::start().await;
    let (status, text) = o.get("guest", "/auth1?user=jack").await;
    assert_eq!(status, 403, "{text}");
    let paste = [
        ("user", "jack"),
        ("address", "http://localhost:1/x?state=s&code=c"),
    ];
    assert_eq!(o.form("guest", "/auth2", &paste).await.0, 403);
    // Its own, and the admin's of jack, start at Google.
    assert_eq!(o.get("guest", "/auth1?user=guest").await.0, 303);
    assert_eq!(o.get("admin", "/auth1?user=jack").await.0, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_counts_as_igors_own_only_under_a_name_the_owner_trusts() {
    let o = Installation::start().await;
    let port = o.igor.port;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // The laptop's browser reaches Igor by its LAN name; Igor's forwarder
    // tells the host which name that was.
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .resolve("igor.local", local)
        .resolve("evil.local", local)
        .build()
        .unwrap();
    let post = |name: &str, client_id: &str| {
        let origin = format!("http://{name}:{port}");
        browser
            .post(format!("{origin}/plugin/fitbit/settings"))
            .basic_auth("admin", Some(""))
            .header("origin", origin)
            .form(&[("client_id", client_id)])
    };
    let (status, text) = answer(post("igor.local", "via-igor-local")).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(o.client_id().await, "via-igor-local");
    // A name nobody configured, though Origin and Host agree (mDNS
    // spoofing and rebinding on the LAN).
    let (status, text) = answer(post("evil.local", "EVIL")).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("allowed_hosts"), "{text}");
    assert_eq!(o.client_id().await, "via-igor-local");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_igor_url_becomes_the_redirect_base_while_the_host_runs() {
    let o = Installation::start().await;
    let (_, page) = o.get("admin", "/page/setup.html").await;
    assert!(
        page.contains(&format!("{}/plugin/fitbit/auth2", o.igor.url)),
        "{page}"
    );
    // The owner puts Igor behind an https name.
    o.igor
        .put_json(
            "services/igor/url",
            &json!({ "url": "https://igor.example.org" }).to_string(),
        )
        .await;
    let wanted = "https://igor.example.org/plugin/fitbit/auth2";
    let started = Instant::now();
    loop {
        let (_, page) = o.get("admin", "/page/setup.html").await;
        if page.contains(wanted) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the setup page still names the old redirect URI:\n{page}\n{}",
            o.host.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
