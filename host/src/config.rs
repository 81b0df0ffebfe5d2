//! The host's TOML configuration, with documented defaults.
//!
//! Every field is optional: an empty file (or none at all) runs the built-in
//! plugin on an embedded SQLite store in the user's data directory
//! (`$XDG_DATA_HOME/igor-host`, usually `~/.local/share/igor-host`). Relative
//! paths in a file are taken from the file's directory, never from the
//! current directory, so the host finds its data wherever it is started.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::builtin_plugin::BuiltinPlugin;
use crate::limits::Limits;
pub use crate::store::Quota;

mod hints;
mod server;

use hints::missing_list_header;
pub use server::{AdminConfig, OwnerConfig, ServerConfig};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the embedded store, secrets and the compiled-component cache
    /// live. Default: `$XDG_DATA_HOME/igor-host` or `~/.local/share/igor-host`.
    /// Empty until [`Config::load`] resolves it.
    #[serde(default)]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default, skip_serializing_if = "StoreConfig::is_default")]
    pub store: StoreConfig,
    /// Where the key sealing secrets at rest comes from.
    #[serde(default)]
    pub secrets: crate::store::keys::SecretsConfig,
    /// Limits every plugin gets unless its own `limits` table overrides them.
    #[serde(default)]
    pub limits: Limits,
    /// The plugins of the single-tenant host; default: the built-in
    /// component. Not allowed together with `[[tenant]]`.
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
    /// Who may reload the configuration over HTTP (`POST /admin/reload`)
    /// and read `/metrics` on the main listener.
    #[serde(default)]
    pub admin: AdminConfig,
    /// The single-tenant host's owner: who may call its routes.
    #[serde(default)]
    pub owner: OwnerConfig,
    /// Scheduled calls, like Igor's `<action>` elements.
    #[serde(default, rename = "action")]
    pub actions: Vec<ActionConfig>,
    /// When scheduled actions first run.
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    /// Where a multi-tenant host's tenants come from.
    #[serde(default)]
    pub tenant_directory: TenantDirectoryConfig,
}

/// `[tenant_directory]`: tenants in this file (`[[tenant]]`), or in the
/// PostgreSQL store, shared by every host on it.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantDirectoryConfig {
    pub source: TenantSource,
    /// How often a host looks for changed tenants in the database.
    pub poll_ms: u64,
}

impl Default for TenantDirectoryConfig {
    fn default() -> Self {
        Self {
            source: TenantSource::File,
            poll_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TenantSource {
    /// `[[tenant]]` tables in this file; one host.
    #[default]
    File,
    /// The `tenants` table of the PostgreSQL store, managed with the admin
    /// API (`/admin/tenants`) or `igor-host tenant`; any number of hosts.
    /// Their scheduled actions are claimed from the database with leases.
    Database,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    /// An action that has not run within its interval (never, or not since
    /// before the host stopped) first runs after a random delay below this
    /// many seconds (and below its interval), so a start, a reload or a new
    /// tenant does not call every upstream at once. Unset: spread over the
    /// whole interval; `0`: run such actions at once.
    pub first_run_spread_seconds: Option<u64>,
    /// With tenants in the database: how long a host's claim on a due
    /// action lasts. A host that dies mid-run holds it this long; then
    /// another host runs the action. Must exceed the longest run (the
    /// request timeout). Default 120.
    pub lease_seconds: Option<u64>,
}

impl SchedulerConfig {
    pub fn lease(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.lease_seconds.unwrap_or(120))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
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
    /// A PostgreSQL database that several hosts may share.
    Postgres(crate::store::postgres::PostgresConfig),
}

impl StoreConfig {
    /// The default store, which a configuration file spells by leaving
    /// `[store]` out.
    fn is_default(&self) -> bool {
        matches!(self, StoreConfig::Default)
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// The install name: `/plugin/<name>/...`, and the root of its data paths.
    pub name: String,
    /// The component file; default: the built-in component.
    pub component: Option<PathBuf>,
    /// Non-secret settings handed to the plugin with every request.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Outbound HTTP beyond (or instead of) what the component's manifest
    /// asks.
    #[serde(default)]
    pub egress: Option<EgressConfig>,
    /// Paths below the plugin that need no credentials; unset: those its
    /// manifest declares (such as an OAuth callback), `[]`: none.
    #[serde(default)]
    pub public_routes: Option<Vec<String>>,
    /// Overrides of the global limits for this plugin.
    #[serde(default)]
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Destinations the plugin may fetch from, as `scheme://host[:port]`
    /// (a host may start with `*.`), in addition to what its manifest asks.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Exact URLs (no query) that may receive the plugin's secrets, e.g. an
    /// OAuth token endpoint, in addition to its manifest's. Each must also be
    /// allowed.
    #[serde(default)]
    pub secret_urls: Vec<String>,
    /// Destinations (`scheme://host[:port]`) its manifest asks for that are
    /// refused, with the secret URLs on them.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Grant what the component's manifest asks; `false`: only `allow` and
    /// `secret_urls`.
    #[serde(default = "yes")]
    pub from_manifest: bool,
    /// Let allowed destinations resolve to loopback addresses. For tests
    /// against local fakes only; private and special ranges stay blocked.
    #[serde(default)]
    pub allow_loopback: bool,
}

impl Default for EgressConfig {
    fn default() -> Self {
        toml::from_str("").expect("the empty egress table is valid")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ActionConfig {
    /// Seconds between runs. The first run after a start or reload comes
    /// one interval after the last recorded one, or, for an action without
    /// a recent run, at a random time spread by `[scheduler]`.
    pub interval: u64,
    /// A host-relative URL such as `/plugin/NAME?user=jack`.
    pub url: String,
    /// Where to record the outcome: `status/<representing>`.
    pub representing: Option<String>,
}

fn yes() -> bool {
    true
}

/// `$XDG_DATA_HOME/igor-host`, else `$HOME/.local/share/igor-host` (the XDG
/// base directory rules: a relative `XDG_DATA_HOME` is ignored).
pub fn default_data_dir(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> anyhow::Result<PathBuf> {
    let xdg = xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute());
    let home = home.map(PathBuf::from).filter(|p| p.is_absolute());
    match (xdg, home) {
        (Some(xdg), _) => Ok(xdg.join("igor-host")),
        (None, Some(home)) => Ok(home.join(".local/share/igor-host")),
        (None, None) => bail!(
            "no data directory: neither XDG_DATA_HOME nor HOME is set; \
             set data_dir in the configuration file"
        ),
    }
}

/// The tenant of a host without tenant configuration.
pub const DEFAULT_TENANT: &str = "default";

/// The plugins of a configuration that names none: the built-in one, under
/// its own name.
pub fn default_plugins(builtin: &BuiltinPlugin) -> Vec<PluginConfig> {
    vec![PluginConfig {
        name: builtin.name().to_string(),
        component: None,
        config: BTreeMap::new(),
        egress: None,
        public_routes: None,
        limits: None,
    }]
}

impl Default for Config {
    fn default() -> Self {
        toml::from_str("").expect("the empty config is valid")
    }
}

impl Config {
    /// Reads `path`, or the defaults when `path` is `None`, and resolves its
    /// paths (see the module documentation). `builtin` is the plugin the
    /// defaults run, which an error's example names.
    pub fn load(path: Option<&Path>, builtin: &BuiltinPlugin) -> anyhow::Result<Self> {
        let (mut config, base) = match path {
            None => (Config::default(), None),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config {}", path.display()))?;
                let config = Self::parse(&text, builtin)
                    .with_context(|| format!("parsing config {}", path.display()))?;
                let path = std::path::absolute(path)?;
                (config, path.parent().map(Path::to_path_buf))
            }
        };
        config.resolve_paths(base.as_deref(), || {
            default_data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses a configuration; a section that belongs to a list entry but has
    /// no entry header above it gets an error naming the fix (with an entry
    /// of the `builtin` plugin as the example).
    pub fn parse(text: &str, builtin: &BuiltinPlugin) -> anyhow::Result<Self> {
        toml::from_str(text).map_err(|err| match missing_list_header(text, builtin.name()) {
            Some(hint) => anyhow::anyhow!("{hint}"),
            None => err.into(),
        })
    }

    /// Fills in the default data directory and makes relative paths relative
    /// to `base`, the configuration file's directory.
    fn resolve_paths(
        &mut self,
        base: Option<&Path>,
        default_data_dir: impl FnOnce() -> anyhow::Result<PathBuf>,
    ) -> anyhow::Result<()> {
        let resolve = |path: &mut PathBuf| {
            if let Some(base) = base.filter(|_| path.is_relative()) {
                *path = base.join(&*path);
            }
        };
        if self.data_dir.as_os_str().is_empty() {
            self.data_dir = default_data_dir()?;
        }
        resolve(&mut self.data_dir);
        let stores = std::iter::once(&mut self.store)
            .chain(self.tenants.iter_mut().filter_map(|t| t.store.as_mut()));
        for store in stores {
            if let StoreConfig::Sqlite { path: Some(path) } = store {
                resolve(path);
            }
        }
        let plugins = self
            .plugins
            .iter_mut()
            .flatten()
            .chain(self.tenants.iter_mut().flat_map(|t| t.plugins.iter_mut()));
        for plugin in plugins {
            if let Some(component) = &mut plugin.component {
                resolve(component);
            }
        }
        if let Some(key_file) = &mut self.secrets.key_file {
            resolve(key_file);
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        if !self.tenants.is_empty() && (self.plugins.is_some() || !self.actions.is_empty()) {
            bail!(
                "with [[tenant]] configured, put [[plugin]] and [[action]] inside a tenant \
                 ([[tenant.plugin]], [[tenant.action]])"
            );
        }
        let mut tenant_ids = BTreeSet::new();
        for tenant in &self.tenants {
            tenant.validate()?;
            if !tenant_ids.insert(&tenant.id) {
                bail!("tenant {:?} is configured twice", tenant.id);
            }
        }
        if self.tenant_directory.source == TenantSource::Database {
            if !matches!(self.store, StoreConfig::Postgres(_)) {
                bail!(
                    "[tenant_directory] source = \"database\" needs [store] backend = \"postgres\""
                );
            }
            if !self.tenants.is_empty() || self.plugins.is_some() || !self.actions.is_empty() {
                bail!(
                    "with [tenant_directory] source = \"database\", tenants, their plugins and \
                     actions live in the database: remove [[tenant]], [[plugin]] and [[action]]"
                );
            }
            if self.tenant_directory.poll_ms == 0 {
                bail!("[tenant_directory] poll_ms must be at least 1");
            }
            if self.scheduler.lease()
                <= std::time::Duration::from_millis(self.limits.request_timeout_ms)
            {
                bail!(
                    "[scheduler] lease_seconds must exceed [limits] request_timeout_ms, or a \
                     run still in progress could be claimed by another host"
                );
            }
        }
        if let StoreConfig::Postgres(pg) = &self.store {
            pg.validate()?;
        }
        if let StoreConfig::Igor(igor) = &self.store {
            igor.validate()?;
            if !self.tenants.is_empty() {
                bail!(
                    "[store] backend = \"igor\" serves the single-tenant host only, not [[tenant]]"
                );
            }
        }
        for hash in self
            .admin
            .token_sha256
            .iter()
            .chain(&self.owner.token_sha256)
        {
            crate::access::parse_digest(hash).context("[admin] or [owner]")?;
        }
        server::validate_access(self)?;
        validate_plugins(self.plugins.as_deref().unwrap_or_default())?;
        validate_actions(&self.actions)
    }

    /// Whether the host serves tenants under `/tenants/ID/` (from this file
    /// or the database) rather than one household.
    pub fn multi_tenant(&self) -> bool {
        !self.tenants.is_empty() || self.tenant_directory.source == TenantSource::Database
    }

    /// Whether callers of the plugin routes must prove who they are.
    pub fn has_credentials(&self) -> bool {
        self.multi_tenant()
            || !self.owner.token_sha256.is_empty()
            || self.server.igor_forward_secret.is_some()
    }

    /// The single-tenant host's plugins (`builtin` by default).
    pub fn single_tenant_plugins(&self, builtin: &BuiltinPlugin) -> Vec<PluginConfig> {
        self.plugins
            .clone()
            .unwrap_or_else(|| default_plugins(builtin))
    }

    pub fn store_path(&self) -> PathBuf {
        match &self.store {
            StoreConfig::Sqlite { path: Some(path) } => path.clone(),
            _ => self.data_dir.join("store.sqlite"),
        }
    }
}

impl TenantConfig {
    /// What holds for one tenant, from this file or the database.
    pub fn validate(&self) -> anyhow::Result<()> {
        validate_tenant_id(&self.id)?;
        for hash in &self.token_sha256 {
            crate::access::parse_digest(hash).with_context(|| format!("tenant {}", self.id))?;
        }
        validate_plugins(&self.plugins)?;
        validate_actions(&self.actions)
    }
}

fn validate_plugins(plugins: &[PluginConfig]) -> anyhow::Result<()> {
    let mut seen = BTreeSet::new();
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

/// Longest plugin name or tenant id.
pub const MAX_NAME_LEN: usize = 64;

/// Plugin names become URL segments and data-path roots, so they are what
/// Igor accepts as an install name: an XML element name
/// (`^[a-zA-Z_][-_.a-zA-Z0-9]*$`), such as `weather` or `_weather`.
pub fn validate_plugin_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let ok = name.len() <= MAX_NAME_LEN
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok {
        bail!(
            "plugin name {name:?}: use 1-{MAX_NAME_LEN} letters, digits, '_', '-' or '.', \
             starting with a letter or '_' (an XML element name, as Igor needs)"
        );
    }
    Ok(())
}

/// Tenant ids become URL segments and file names.
pub fn validate_tenant_id(id: &str) -> anyhow::Result<()> {
    let ok = id.len() <= MAX_NAME_LEN
        && id.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        bail!(
            "tenant id {id:?}: use 1-{MAX_NAME_LEN} letters, digits, '_' or '-', \
             starting with a letter"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
