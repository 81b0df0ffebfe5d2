//! The fake clouds wired to a host: the config that points the plugin at
//! them, and a browser that authorises a user through their consent pages.

use igor_test_support::{FakeFitbit, FakeGoogle, consent};

/// A plugin section using the fake Fitbit, with `extra` config appended.
pub fn fitbit_config(fake: &FakeFitbit, extra: &str) -> String {
    let url = fake.url();
    format!(
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
{extra}
"#
    )
}

/// A plugin section using the fake Google (and the fake Fitbit, for
/// installations that still have legacy users).
pub fn google_config(google: &FakeGoogle, fitbit: Option<&FakeFitbit>) -> String {
    let g = google.url();
    let (mut allow, mut secret_urls) = (
        vec![format!("\"{g}\"")],
        vec![format!("\"{}\"", google.token_url())],
    );
    let mut settings = format!(
        "google_api_url = \"{g}\"\ngoogle_authorize_url = \"{}\"\ngoogle_token_url = \"{}\"\ngoogle_revoke_url = \"{}\"\n",
        google.authorize_url(),
        google.token_url(),
        google.revoke_url()
    );
    if let Some(fitbit) = fitbit {
        let f = fitbit.url();
        allow.push(format!("\"{f}\""));
        secret_urls.push(format!("\"{f}/oauth2/token\""));
        secret_urls.push(format!("\"{f}/oauth2/revoke\""));
        settings.push_str(&format!(
            "fitbit_api_url = \"{f}\"\nfitbit_authorize_url = \"{f}/oauth2/authorize\"\n"
        ));
    }
    format!(
        "[[plugin]]\nname = \"fitbit\"\n[plugin.config]\n{settings}[plugin.egress]\nallow = [{}]\nsecret_urls = [{}]\nallow_loopback = true\n",
        allow.join(", "),
        secret_urls.join(", ")
    )
}

/// An HTTP client that, like a test's browser, sees redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `POST` of a form to the host, answered 200.
pub async fn post_settings(http: &reqwest::Client, host_url: &str, form: &[(&str, &str)]) {
    let response = http
        .post(format!("{host_url}/plugin/fitbit/settings"))
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// auth1 → the provider's consent page → Allow → auth2. Returns the
/// provider's authorize URL and the page auth2 answered.
pub async fn authorise(
    http: &reqwest::Client,
    host_url: &str,
    user: &str,
    provider_prefix: &str,
) -> (url::Url, String) {
    let response = http
        .get(format!("{host_url}/plugin/fitbit/auth1?user={user}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(provider_prefix), "{location}");
    let back = consent(http, &location).await.unwrap();
    assert!(
        back.starts_with(&format!("{host_url}/plugin/fitbit/auth2?")),
        "{back}"
    );
    let response = http.get(&back).send().await.unwrap();
    let status = response.status();
    let page = response.text().await.unwrap();
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("access for {user} is set up")),
        "{page}"
    );
    assert!(page.contains("page/setup.html?user="), "{page}");
    (url::Url::parse(&location).unwrap(), page)
}
