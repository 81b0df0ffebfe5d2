//! The fake clouds wired to a host: the plugin settings that point the
//! fitbit plugin at them, and hosts started that way with the client the
//! tests register at the fake.

use igor_test_support::{FakeFitbit, FakeGoogle};

use super::{Client, Host, HostConfig, Plugin, plugin};

/// The OAuth clients the tests register with the fakes.
pub const FITBIT_ID: &str = "22ABCD";
pub const FITBIT_SECRET: &str = "fitbit-client-secret";
pub const GOOGLE_ID: &str = "123-abc.apps.googleusercontent.com";
pub const GOOGLE_SECRET: &str = "GOCSPX-google-secret";

/// The fitbit plugin using the fake Fitbit.
pub fn fitbit_plugin(fake: &FakeFitbit) -> Plugin {
    with_fitbit(plugin("fitbit"), fake).allow_loopback()
}

/// The fitbit plugin using the fake Google (and the fake Fitbit, for
/// installations that still have legacy users). The endpoint settings alone
/// let the plugin reach the fakes: its manifest ties each to where it may
/// connect (loopback still needs `allow_loopback`).
pub fn google_plugin(google: &FakeGoogle, fitbit: Option<&FakeFitbit>) -> Plugin {
    let plugin = plugin("fitbit")
        .setting("google_api_url", &google.url())
        .setting("google_authorize_url", &google.authorize_url())
        .setting("google_token_url", &google.token_url())
        .setting("google_revoke_url", &google.revoke_url())
        .allow_loopback();
    match fitbit {
        Some(fitbit) => with_fitbit(plugin, fitbit),
        None => plugin,
    }
}

fn with_fitbit(plugin: Plugin, fake: &FakeFitbit) -> Plugin {
    plugin.setting("fitbit_api_url", &fake.url()).setting(
        "fitbit_authorize_url",
        &format!("{}/oauth2/authorize", fake.url()),
    )
}

/// A host whose fitbit plugin uses the fake Fitbit (with `more` of the
/// configuration), the test's OAuth client registered there for it.
pub struct Legacy {
    pub fake: FakeFitbit,
    pub host: Host,
    pub client: Client,
}

impl Legacy {
    pub async fn start(more: impl FnOnce(HostConfig) -> HostConfig) -> Self {
        let fake = FakeFitbit::start().await;
        let config = more(HostConfig::new().plugin(fitbit_plugin(&fake)));
        Self::on(fake, config).await
    }

    /// A host started with `config`, which points its plugin at `fake`.
    pub async fn on(fake: FakeFitbit, config: HostConfig) -> Self {
        let host = Host::start(config).await;
        let client = Client::new(&host);
        let auth2 = client.url("/plugin/fitbit/auth2");
        fake.register_client(FITBIT_ID, FITBIT_SECRET, &[&auth2]);
        Self { fake, host, client }
    }

    /// The client entered on the settings form with the legacy provider
    /// and the unit `system`.
    pub async fn configure(&self, system: &str) {
        let form = [
            ("client_id", FITBIT_ID),
            ("client_secret", FITBIT_SECRET),
            ("system", system),
            ("provider", "fitbit"),
        ];
        self.client.settings(&form).await;
    }

    /// auth1 → the fake's consent page → Allow → auth2.
    pub async fn authorise(&self, user: &str) {
        self.client
            .authorise(user, &self.fake.authorize_url())
            .await;
    }

    /// Configured (default units) and `user` authorised.
    pub async fn authorised(more: impl FnOnce(HostConfig) -> HostConfig, user: &str) -> Self {
        let legacy = Self::start(more).await;
        legacy.configure("").await;
        legacy.authorise(user).await;
        legacy
    }
}

/// A host whose fitbit plugin uses the fake Google (with `more` of the
/// configuration), the test's OAuth client registered there for it.
pub struct Google {
    pub google: FakeGoogle,
    pub host: Host,
    pub client: Client,
}

impl Google {
    pub async fn start(more: impl FnOnce(HostConfig) -> HostConfig) -> Self {
        let google = FakeGoogle::start().await;
        let config = more(HostConfig::new().plugin(google_plugin(&google, None)));
        Self::on(google, config).await
    }

    /// A host started with `config`, which points its plugin at `google`.
    pub async fn on(google: FakeGoogle, config: HostConfig) -> Self {
        let host = Host::start(config).await;
        let client = Client::new(&host);
        let auth2 = client.url("/plugin/fitbit/auth2");
        google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
        Self {
            google,
            host,
            client,
        }
    }

    /// The client entered on the settings form (Google Health is the
    /// default provider).
    pub async fn configure(&self) {
        let form = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
        self.client.settings(&form).await;
    }

    /// auth1 → the fake's consent page → Allow → auth2; the authorize URL.
    pub async fn authorise(&self, user: &str) -> url::Url {
        let authorize = self.google.authorize_url();
        self.client.authorise(user, &authorize).await.0
    }

    /// Configured and `user` authorised.
    pub async fn authorised(more: impl FnOnce(HostConfig) -> HostConfig, user: &str) -> Self {
        let google = Self::start(more).await;
        google.configure().await;
        google.authorise(user).await;
        google
    }
}
