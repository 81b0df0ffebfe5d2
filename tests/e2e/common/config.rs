//! Host configurations written in code as the host's own [`Config`] and
//! serialised to the TOML file the binary reads, so a test cannot write a
//! key the host does not know.

use std::path::{Path, PathBuf};

use igor_host::config::{
    ActionConfig, Config, EgressConfig, PluginConfig, ServerConfig, StoreConfig, TenantConfig,
};
use igor_host::limits::Limits;
use igor_host::store::Quota;
use igor_host::store::igor::IgorConfig;

use super::sha256_hex;

/// A host configuration under construction; `Host::start` fills in the data
/// directory and the listening port.
#[derive(Clone, Default)]
pub struct HostConfig {
    config: Config,
    /// The host process's time zone (`TZ`), when not the machine's.
    time_zone: Option<String>,
}

impl HostConfig {
    /// The empty configuration: the built-in plugin with its defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a plugin to the single-tenant host (which then runs only the
    /// plugins added).
    pub fn plugin(mut self, plugin: Plugin) -> Self {
        let plugins = self.config.plugins.get_or_insert_with(Vec::new);
        plugins.push(plugin.0);
        self
    }

    /// Changes the global `[limits]`.
    pub fn limits(mut self, change: impl FnOnce(&mut Limits)) -> Self {
        change(&mut self.config.limits);
        self
    }

    /// Changes `[server]` (its `listen` port is chosen by `Host::start`).
    pub fn server(mut self, change: impl FnOnce(&mut ServerConfig)) -> Self {
        change(&mut self.config.server);
        self
    }

    /// Adds a scheduled call of `url` every `interval` seconds, recording
    /// its outcome under `status/<representing>`.
    pub fn action(mut self, interval: u64, url: &str, representing: Option<&str>) -> Self {
        self.config
            .actions
            .push(action(interval, url, representing));
        self
    }

    /// Adds a tenant (which makes the host multi-tenant).
    pub fn tenant(mut self, tenant: Tenant) -> Self {
        self.config.tenants.push(tenant.0);
        self
    }

    /// Lets `token` call the admin API and read `/metrics`.
    pub fn admin_token(mut self, token: &str) -> Self {
        self.config.admin.token_sha256.push(sha256_hex(token));
        self
    }

    /// Scheduled actions without a recent run first run at once.
    pub fn first_runs_at_once(self) -> Self {
        self.edit(|config| config.scheduler.first_run_spread_seconds = Some(0))
    }

    /// Lets `token` call the single-tenant host (`[owner]`).
    pub fn owner_token(mut self, token: &str) -> Self {
        self.config.owner.token_sha256.push(sha256_hex(token));
        self
    }

    /// Listens on every address (`0.0.0.0`), not only loopback.
    pub fn on_all_addresses(self) -> Self {
        self.server(|server| server.listen.set_ip([0, 0, 0, 0].into()))
    }

    /// Keeps documents in the Igor at `url`, as its admin (who needs no
    /// password on a fresh database).
    /// Keeps the documents in the Igor at `url` (as its admin) and takes
    /// the calls of Igor's forwarder, which proves itself with `secret`.
    pub fn behind_igor(self, url: &str, secret: &str) -> Self {
        self.igor_store(url, 5000)
            .server(|server| server.igor_forward_secret = Some(secret.into()))
    }

    pub fn igor_store(self, url: &str, timeout_ms: u64) -> Self {
        let igor = IgorConfig {
            url: url.to_string(),
            username: Some("admin".into()),
            password: Some(String::new()),
            bearer_token: None,
            timeout_ms,
        };
        self.edit(|config| config.store = StoreConfig::Igor(igor))
    }

    /// Runs the host process in the time zone `tz` (its `TZ`), as a host
    /// whose zone is not its users'.
    pub fn time_zone(mut self, tz: &str) -> Self {
        self.time_zone = Some(tz.to_string());
        self
    }

    /// The environment the host process runs with beyond the test's own.
    pub fn env(&self) -> Vec<(String, String)> {
        self.time_zone
            .iter()
            .map(|tz| ("TZ".to_string(), tz.clone()))
            .collect()
    }

    /// Anything else.
    pub fn edit(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    /// Writes the configuration to `dir/host.toml`, with its data in
    /// `dir/data`, for a command that does not serve (`igor-host call`).
    pub fn write_to(&self, dir: &Path) -> PathBuf {
        let path = dir.join("host.toml");
        let text = self.to_toml(&dir.join("data"), self.config.server.listen.port());
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The file's text, with `data_dir` and the listening port.
    pub fn to_toml(&self, data_dir: &Path, port: u16) -> String {
        let mut config = self.config.clone();
        config.data_dir = data_dir.to_path_buf();
        config.server.listen.set_port(port);
        toml::to_string(&config).expect("a host configuration serialises")
    }
}

fn action(interval: u64, url: &str, representing: Option<&str>) -> ActionConfig {
    ActionConfig {
        interval,
        url: url.to_string(),
        representing: representing.map(str::to_string),
    }
}

/// A `[[tenant]]` entry under construction.
#[derive(Clone)]
pub struct Tenant(TenantConfig);

/// The tenant `id`, authenticated by `token`, with no plugins yet.
pub fn tenant(id: &str, token: &str) -> Tenant {
    Tenant(TenantConfig {
        id: id.to_string(),
        token_sha256: vec![sha256_hex(token)],
        limits: None,
        quota: Quota::default(),
        store: None,
        plugins: Vec::new(),
        actions: Vec::new(),
    })
}

impl Tenant {
    pub fn plugin(mut self, plugin: Plugin) -> Self {
        self.0.plugins.push(plugin.0);
        self
    }

    /// A scheduled call, run as this tenant.
    pub fn action(mut self, interval: u64, url: &str, representing: Option<&str>) -> Self {
        self.0.actions.push(action(interval, url, representing));
        self
    }

    /// Changes the tenant's limits (from the defaults when unset).
    pub fn limits(mut self, change: impl FnOnce(&mut Limits)) -> Self {
        change(self.0.limits.get_or_insert_with(Limits::default));
        self
    }

    pub fn quota(mut self, change: impl FnOnce(&mut Quota)) -> Self {
        change(&mut self.0.quota);
        self
    }

    /// The tenant's own SQLite file (default path).
    pub fn own_sqlite_store(mut self) -> Self {
        self.0.store = Some(StoreConfig::Sqlite { path: None });
        self
    }

    /// The tenant's own store.
    pub fn store(mut self, store: StoreConfig) -> Self {
        self.0.store = Some(store);
        self
    }

    /// No token at all (every one revoked).
    pub fn without_tokens(mut self) -> Self {
        self.0.token_sha256.clear();
        self
    }
}

/// A `[[plugin]]` entry under construction.
#[derive(Clone)]
pub struct Plugin(PluginConfig);

/// The plugin installed as `name`, running the built-in component.
pub fn plugin(name: &str) -> Plugin {
    let mut config = igor_host::config::default_plugins(igor_fitbit::builtin()).remove(0);
    config.name = name.to_string();
    Plugin(config)
}

impl Plugin {
    pub fn component(mut self, path: impl Into<PathBuf>) -> Self {
        self.0.component = Some(path.into());
        self
    }

    /// A `[plugin.config]` setting.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.0.config.insert(key.to_string(), value.to_string());
        self
    }

    /// The paths below the plugin that need no credentials (instead of
    /// those its manifest declares).
    pub fn public_routes(mut self, routes: &[&str]) -> Self {
        self.0.public_routes = Some(routes.iter().map(|r| r.to_string()).collect());
        self
    }

    /// Changes `[plugin.egress]` (from its defaults when unset).
    pub fn egress(mut self, change: impl FnOnce(&mut EgressConfig)) -> Self {
        change(self.0.egress.get_or_insert_with(EgressConfig::default));
        self
    }

    /// Lets the plugin fetch from `destination` (`scheme://host[:port]`).
    pub fn allow(self, destination: &str) -> Self {
        self.egress(|egress| egress.allow.push(destination.to_string()))
    }

    /// Lets the plugin reach servers on loopback, such as the fake clouds.
    pub fn allow_loopback(self) -> Self {
        self.egress(|egress| egress.allow_loopback = true)
    }

    /// Changes the plugin's `[plugin.limits]` (from the defaults when unset).
    pub fn limits(mut self, change: impl FnOnce(&mut Limits)) -> Self {
        change(self.0.limits.get_or_insert_with(Limits::default));
        self
    }
}
