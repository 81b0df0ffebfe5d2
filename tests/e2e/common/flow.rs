//! The fitbit plugin driven as a browser and an owner would: the host
//! pointed at the fake clouds, the settings form, and authorisation through
//! the consent page.

use igor_test_support::{FakeFitbit, FakeGoogle, consent};

use super::Host;

/// The plugin pointed at the fakes: its settings alone let it reach them
/// (the manifest ties each endpoint setting to where it may connect).
pub fn config(google: &FakeGoogle, fitbit: Option<&FakeFitbit>) -> String {
    let mut settings = format!(
        "google_api_url = \"{}\"\ngoogle_authorize_url = \"{}\"\ngoogle_token_url = \"{}\"\ngoogle_revoke_url = \"{}\"\n",
        google.url(),
        google.authorize_url(),
        google.token_url(),
        google.revoke_url()
    );
    if let Some(fitbit) = fitbit {
        let f = fitbit.url();
        settings.push_str(&format!(
            "fitbit_api_url = \"{f}\"\nfitbit_authorize_url = \"{f}/oauth2/authorize\"\n"
        ));
    }
    format!(
        "[[plugin]]\nname = \"fitbit\"\n[plugin.config]\n{settings}[plugin.egress]\nallow_loopback = true\n"
    )
}

/// The plugin on the legacy Fitbit API only, pointed at the fake, with
/// `extra` TOML after its entry.
pub fn legacy_config(fitbit: &FakeFitbit, extra: &str) -> String {
    let url = fitbit.url();
    format!(
        r#"
[[plugin]]
name = "fitbit"
[plugin.config]
fitbit_api_url = "{url}"
fitbit_authorize_url = "{url}/oauth2/authorize"
[plugin.egress]
allow_loopback = true
{extra}
"#
    )
}

pub struct Harness {
    pub host: Host,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start(config: &str) -> Self {
        Self::start_with(config, "").await
    }

    /// With extra `[server]` keys (`base_url = ...`).
    pub async fn start_with(config: &str, server: &str) -> Self {
        Self {
            host: Host::start_with(config, server).await,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn auth2(&self) -> String {
        format!("{}/plugin/fitbit/auth2", self.host.url)
    }

    pub async fn get(&self, target: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{target}", self.host.url))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn settings(&self, form: &[(&str, &str)]) {
        let response = self
            .http
            .post(format!("{}/plugin/fitbit/settings", self.host.url))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// auth1 → consent page → Allow → auth2; returns the authorize URL.
    pub async fn authorise(&self, user: &str, provider_prefix: &str) -> url::Url {
        let (location, page) = authorise(&self.http, &self.host.url, user, provider_prefix).await;
        assert!(
            page.contains(&format!("access for {user} is set up")),
            "{page}"
        );
        url::Url::parse(&location).unwrap()
    }
}

/// auth1 at the host → the provider's consent page → Allow → auth2 at the
/// host; returns the provider's URL auth1 sent the browser to, and the page
/// auth2 answered (200).
pub async fn authorise(
    http: &reqwest::Client,
    host: &str,
    user: &str,
    provider_prefix: &str,
) -> (String, String) {
    let response = http
        .get(format!("{host}/plugin/fitbit/auth1?user={user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(provider_prefix), "{location}");
    let back = consent(http, &location).await.unwrap();
    assert!(
        back.starts_with(&format!("{host}/plugin/fitbit/auth2?")),
        "{back}"
    );
    let response = http.get(&back).send().await.unwrap();
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    (location, page)
}
