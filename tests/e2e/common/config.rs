//! Host configurations written in code as the host's own [`Config`] and
//! serialised to the TOML file the binary reads, so a test cannot write a
//! key the host does not know.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use igor_host::config::{ActionConfig, Config, EgressConfig, PluginConfig, ServerConfig};
use igor_host::limits::Limits;

use super::sha256_hex;

/// A host configuration under construction; `Host::start` fills in the data
/// directory and the listening port.
#[derive(Clone, Default)]
pub struct HostConfig {
    config: Config,
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
        self.config.actions.push(ActionConfig {
            interval,
            url: url.to_string(),
            representing: representing.map(str::to_string),
        });
        self
    }

    /// Lets `token` call the single-tenant host (`[owner]`).
    pub fn owner_token(mut self, token: &str) -> Self {
        self.config.owner.token_sha256.push(sha256_hex(token));
        self
    }

    /// Anything else.
    pub fn edit(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    pub fn listen_ip(&self) -> IpAddr {
        self.config.server.listen.ip()
    }

    /// The file's text, with `data_dir` and the listening port.
    pub fn to_toml(&self, data_dir: &Path, port: u16) -> String {
        let mut config = self.config.clone();
        config.data_dir = data_dir.to_path_buf();
        config.server.listen.set_port(port);
        toml::to_string(&config).expect("a host configuration serialises")
    }
}

/// A `[[plugin]]` entry under construction.
#[derive(Clone)]
pub struct Plugin(PluginConfig);

/// The plugin installed as `name`, running the built-in component.
pub fn plugin(name: &str) -> Plugin {
    let mut config = igor_host::config::default_plugins().remove(0);
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

    /// Changes `[plugin.egress]` (from its defaults when unset).
    pub fn egress(mut self, change: impl FnOnce(&mut EgressConfig)) -> Self {
        change(self.0.egress.get_or_insert_with(EgressConfig::default));
        self
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
