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

/// A fake cloud a host's fitbit plugin can be pointed at.
pub trait Cloud {
    /// The fitbit plugin using this cloud.
    fn plugin(&self) -> Plugin;
    /// Registers the tests' OAuth client with `redirect_uri`.
    fn register(&self, redirect_uri: &str);
}

impl Cloud for FakeFitbit {
    fn plugin(&self) -> Plugin {
        fitbit_plugin(self)
    }

    fn register(&self, redirect_uri: &str) {
        self.register_client(FITBIT_ID, FITBIT_SECRET, &[redirect_uri]);
    }
}

impl Cloud for FakeGoogle {
    fn plugin(&self) -> Plugin {
        google_plugin(self, None)
    }

    fn register(&self, redirect_uri: &str) {
        self.register_client(GOOGLE_ID, GOOGLE_SECRET, &[redirect_uri]);
    }
}

/// A host whose fitbit plugin uses a fake `cloud`, the tests' OAuth client
/// registered there for it, and a client of the host.
pub struct OnCloud<C> {
    pub cloud: C,
    pub host: Host,
    pub client: Client,
}

/// The legacy Fitbit provider.
pub type Legacy = OnCloud<FakeFitbit>;
/// The Google Health provider.
pub type Google = OnCloud<FakeGoogle>;

impl<C: Cloud> OnCloud<C> {
    /// A host started with `config`, which points its plugin at `cloud`.
    pub async fn on(cloud: C, config: HostConfig) -> Self {
        let host = Host::start(config).await;
        let client = Client::new(&host);
        cloud.register(&client.url("/plugin/fitbit/auth2"));
        Self {
            cloud,
            host,
            client,
        }
    }

    /// Asks for `target` when jack's refresh token is refused: a 502 that
    /// names `invalid_grant` and `advice`, and jack's token and sensors
    /// stay as they were.
    pub async fn refused_refresh_changes_nothing(&self, target: &str, advice: &str) {
        let (token, sensors) = (
            "identities/jack/plugindata/fitbit/token",
            "sensors/fitbit/jack",
        );
        let (token_before, sensors_before) = (self.host.stored(token), self.host.stored(sensors));
        let (status, body) = self.client.get(target).await;
        assert_eq!(status, 502, "{body}");
        assert!(
            body.contains("invalid_grant") && body.contains(advice),
            "{body}"
        );
        assert_eq!(self.host.stored(token), token_before);
        assert_eq!(self.host.stored(sensors), sensors_before);
    }

    /// A host with `more` of the configuration around the plugin.
    async fn around(cloud: C, more: impl FnOnce(HostConfig) -> HostConfig) -> Self {
        let config = more(HostConfig::new().plugin(cloud.plugin()));
        Self::on(cloud, config).await
    }
}

impl Legacy {
    pub async fn start(more: impl FnOnce(HostConfig) -> HostConfig) -> Self {
        Self::around(FakeFitbit::start().await, more).await
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
            .authorise(user, &self.cloud.authorize_url())
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

impl Google {
    pub async fn start(more: impl FnOnce(HostConfig) -> HostConfig) -> Self {
        Self::around(FakeGoogle::start().await, more).await
    }

    /// The client entered on the settings form (Google Health is the
    /// default provider).
    pub async fn configure(&self) {
        let form = [("client_id", GOOGLE_ID), ("client_secret", GOOGLE_SECRET)];
        self.client.settings(&form).await;
    }

    /// auth1 → the fake's consent page → Allow → auth2; the authorize URL.
    pub async fn authorise(&self, user: &str) -> url::Url {
        let authorize = self.cloud.authorize_url();
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
