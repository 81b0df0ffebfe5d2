//! The host's TOML configuration, with documented defaults.
//!
//! Every field is optional: an empty file (or none at all) runs the built-in
//! fitbit plugin on an embedded SQLite store under `./data`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::limits::Limits;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store, secrets and the compiled-component cache live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub store: StoreConfig,
    /// Limits every plugin gets unless its own `limits` table overrides them.
    #[serde(default)]
    pub limits: Limits,
    /// The plugins of the single-tenant host; default: the built-in
    /// `fitbit`. Not allowed together with `[[tenant]]`.
    #[serde(default, rename = "plugin")]
    pub plugins: Option<Vec<PluginConfig>>,
    /// Tenants of a multi-tenant host. When any is configured, every route
    /// lives under `/tenants/<id>/` and needs that tenant's credentials.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
    /// Use wasmtime's pooling allocator (fast instantiation; reserves
    /// virtual memory up front). Turn off where reservations are refused.
    #[serde(default = "yes")]
    pub pooling_allocator: bool,
    /// Who may reload the configuration over HTTP (`POST /admin/reload`).
    #[serde(default)]
    pub admin: AdminConfig,
    /// Scheduled calls, like Igor's `<action>` elements.
    #[serde(default, rename = "action")]
    pub actions: Vec<ActionConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL browsers use to reach this host (OAuth redirect URIs derive
    /// from it). Default: `http://<listen>`; with the Igor store, Igor's
    /// own base URL (its `services/igor/url`), since browsers then reach the
    /// plugin through Igor (`igor/plugin/`).
    pub base_url: Option<String>,
    /// Shared secret of the forwarding Igor plugin (`igor/plugin/`): a
    /// request carrying it in `X-Igor-Forward-Secret` may name its caller in
    /// `X-Igor-Caller`. Unset: caller headers are ignored.
    pub igor_forward_secret: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            base_url: None,
            igor_forward_secret: None,
        }
    }
}

impl ServerConfig {
    pub fn base_url(&self) -> String {
        match &self.base_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.listen),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "lowercase")]
pub enum StoreConfig {
    /// Embedded SQLite file (default `<data_dir>/store.sqlite`).
    #[default]
    #[serde(skip)]
    Default,
    Sqlite {
        path: Option<PathBuf>,
    },
    /// A real Igor's database over its REST API (documents only; secrets
    /// stay in `<data_dir>/store.sqlite`).
    Igor(crate::store::igor::IgorConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The install name: `/plugin/<name>/...`, and the root of its data paths.
    pub name: String,
    /// The component file; default: the built-in fitbit component.
    pub component: Option<PathBuf>,
    /// Non-secret settings handed to the plugin with every request.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub egress: Option<EgressConfig>,
    /// Overrides of the global limits for this plugin.
    #[serde(default)]
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Destinations the plugin may fetch from, as `scheme://host[:port]`
    /// (a host may start with `*.`). Empty: no outbound HTTP at all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Exact URLs (no query) that may receive the plugin's secrets, e.g. an
    /// OAuth token endpoint. Each must also be allowed by `allow`.
    #[serde(default)]
    pub secret_urls: Vec<String>,
    /// Let allowed destinations resolve to loopback addresses. For tests
    /// against local fakes only; private and special ranges stay blocked.
    #[serde(default)]
    pub allow_loopback: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// The tenant's id: `/tenants/<id>/plugin/<name>/...`.
    pub id: String,
    /// SHA-256 (hex) of each bearer token that authenticates the tenant's
    /// callers (`Authorization: Bearer <token>`, or the token as a Basic
    /// password). Tokens themselves are never stored.
    #[serde(default)]
    pub token_sha256: Vec<String>,
    /// Limits for the tenant's plugins unless a plugin overrides them; the
    /// concurrency limits apply to the tenant as a whole.
    pub limits: Option<Limits>,
    #[serde(default)]
    pub quota: Quota,
    /// The tenant's own store (e.g. its household's Igor, or a separate
    /// SQLite file); default: the host's store, keyed by tenant.
    pub store: Option<StoreConfig>,
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<PluginConfig>,
    /// Scheduled calls, run as this tenant.
    #[serde(default, rename = "action")]
    pub actions: Vec<ActionConfig>,
}

/// Per-tenant store quotas.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// Largest document, in bytes.
    pub max_value_bytes: usize,
    /// Most documents across the tenant's plugins.
    pub max_keys: u64,
    /// Most bytes (paths plus documents) across the tenant's plugins.
    pub max_total_bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_value_bytes: 256 << 10,
            max_keys: 10_000,
            max_total_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// SHA-256 (hex) of tokens allowed to call `/admin/...`. Empty: no
    /// admin API (reload with SIGHUP instead).
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Seconds between runs; the first run is right after start.
    pub interval: u64,
    /// A host-relative URL such as `/plugin/fitbit?user=jack`.
    pub url: String,
    /// Where to record the outcome: `status/<representing>`.
    pub representing: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9333))
}

pub fn default_plugins() -> Vec<PluginConfig> {
    vec![PluginConfig {
        name: "fitbit".into(),
        component: None,
        config: BTreeMap::new(),
        egress: None,
        limits: None,
    }]
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("the empty config is valid")
    }
}

impl Config {
    /// Reads `path`, or the defaults when `path` is `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let config: Config = match path {
            None => Config::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config {}", path.display()))?
            }
        };
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.tenants.is_empty() && (self.plugins.is_some() || !self.actions.is_empty()) {
            bail!(
                "with [[tenant]] configured, put [[plugin]] and [[action]] inside a tenant \
                 ([[tenant.plugin]], [[tenant.action]])"
            );
        }
        let mut tenant_ids = std::collections::BTreeSet::new();
        for tenant in &self.tenants {
            validate_plugin_name(&tenant.id).context("tenant id")?;
            if !tenant_ids.insert(&tenant.id) {
                bail!("tenant {:?} is configured twice", tenant.id);
            }
            for hash in tenant.token_sha256.iter().chain(&self.admin.token_sha256) {
                if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                    bail!(
                        "token_sha256 entries are 64 hex digits (sha256sum of the token), got {hash:?}"
                    );
                }
            }
            validate_plugins(&tenant.plugins)?;
            validate_actions(&tenant.actions)?;
        }
        if let StoreConfig::Igor(igor) = &self.store {
            igor.validate()?;
            if !self.tenants.is_empty() {
                bail!(
                    "[store] backend = \"igor\" serves the single-tenant host only, not [[tenant]]"
                );
            }
        }
        validate_plugins(self.plugins.as_deref().unwrap_or_default())?;
        validate_actions(&self.actions)
    }

    /// The single-tenant host's plugins (the built-in fitbit by default).
    pub fn single_tenant_plugins(&self) -> Vec<PluginConfig> {
        self.plugins.clone().unwrap_or_else(default_plugins)
    }

    pub fn store_path(&self) -> PathBuf {
        match &self.store {
            StoreConfig::Sqlite { path: Some(path) } => path.clone(),
            _ => self.data_dir.join("store.sqlite"),
        }
    }
}

fn validate_plugins(plugins: &[PluginConfig]) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for plugin in plugins {
        validate_plugin_name(&plugin.name)?;
        if !seen.insert(&plugin.name) {
            bail!("plugin {:?} is configured twice", plugin.name);
        }
    }
    Ok(())
}

fn validate_actions(actions: &[ActionConfig]) -> anyhow::Result<()> {
    for action in actions {
        if action.interval == 0 {
            bail!("action {}: interval must be at least 1 second", action.url);
        }
        if !action.url.starts_with("/plugin/") {
            bail!(
                "action {}: url must be a host-relative /plugin/... URL",
                action.url
            );
        }
    }
    Ok(())
}

/// Plugin names become URL segments and data-path roots.
pub fn validate_plugin_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        bail!("plugin name {name:?}: use 1-64 letters, digits, '_' or '-', starting with a letter");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_runs_builtin_fitbit() {
        let config = Config::default();
        let plugins = config.single_tenant_plugins();
        assert_eq!(plugins.len(), 1);
        assert_eq!(plugins[0].name, "fitbit");
        assert_eq!(config.server.base_url(), "http://127.0.0.1:9333");
        assert_eq!(config.store_path(), PathBuf::from("data/store.sqlite"));
    }

    #[test]
    fn parses_a_full_config() {
        let config: Config = toml::from_str(
            r#"
            data_dir = "/var/lib/igor-host"
            [server]
            listen = "0.0.0.0:8080"
            base_url = "https://igor.example/"
            [store]
            backend = "sqlite"
            path = "/tmp/x.sqlite"
            [[plugin]]
            name = "fitbit"
            config = { fitbit_api_url = "http://127.0.0.1:1234" }
            egress = { allow = ["http://127.0.0.1:1234"], allow_loopback = true }
            [[action]]
            interval = 36000
            url = "/plugin/fitbit?user=jack"
            representing = "sensors/fitbit"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        assert_eq!(config.server.base_url(), "https://igor.example");
        assert_eq!(config.store_path(), PathBuf::from("/tmp/x.sqlite"));
        assert_eq!(config.actions[0].interval, 36000);
        assert!(
            config.single_tenant_plugins()[0]
                .egress
                .as_ref()
                .unwrap()
                .allow_loopback
        );
    }

    #[test]
    fn rejects_bad_names_and_unknown_keys() {
        assert!(validate_plugin_name("../x").is_err());
        assert!(validate_plugin_name("_host").is_err());
        assert!(toml::from_str::<Config>("nonsense = 1").is_err());
    }
}
