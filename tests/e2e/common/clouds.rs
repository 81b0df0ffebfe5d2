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
allow_loopback = true
{extra}
"#
    )
}

/// A plugin section using the fake Google (and the fake Fitbit, for
/// installations that still have legacy users). The endpoint settings alone
/// let the plugin reach the fakes: its manifest ties each to where it may
/// connect (loopback still needs `allow_loopback`).
pub fn google_config(google: &FakeGoogle, fitbit: Option<&FakeFitbit>) -> String {
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

/// The OAuth clients the tests register with the fakes.
pub const FITBIT_ID: &str = "22ABCD";
pub const FITBIT_SECRET: &str = "fitbit-client-secret";
pub const GOOGLE_ID: &str = "123-abc.apps.googleusercontent.com";
pub const GOOGLE_SECRET: &str = "GOCSPX-google-secret";

/// Registers the host's redirect URI at the fake Fitbit, enters the client
/// on the settings form with the legacy provider, and authorises `user`.
pub async fn authorised_legacy(
    fake: &FakeFitbit,
    host_url: &str,
    http: &reqwest::Client,
    user: &str,
) {
    let auth2 = format!("{host_url}/plugin/fitbit/auth2");
    fake.register_client(FITBIT_ID, FITBIT_SECRET, &[&auth2]);
    let form = [
        ("client_id", FITBIT_ID),
        ("client_secret", FITBIT_SECRET),
        ("provider", "fitbit"),
    ];
    post_settings(http, host_url, &form).await;
    authorise(http, host_url, user, &fake.authorize_url()).await;
}

/// The same with the fake Google and the (default) Google Health provider.
pub async fn authorised_google(
    google: &FakeGoogle,
    host_url: &str,
    http: &reqwest::Client,
    user: &str,
) {
    let auth2 = format!("{host_url}/plugin/fitbit/auth2");
    google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
    let form = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
    post_settings(http, host_url, &form).await;
    authorise(http, host_url, user, &google.authorize_url()).await;
}
