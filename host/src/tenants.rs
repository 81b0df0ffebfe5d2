//! Tenants: who may call which plugins, with whose data and limits.
//!
//! A host without `[[tenant]]` config has one implicit tenant, `default`,
//! serving `/plugin/NAME/...` without authentication (the single-household
//! setup). With tenants, each is served under `/tenants/<id>/` and every
//! route needs one of its bearer tokens, except the OAuth callback, which
//! its single-use state nonce authenticates. The tenant is always taken from
//! the host's routing, never from anything a plugin says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::config::{ActionConfig, Config, EgressConfig, PluginConfig, Quota, StoreConfig};
use crate::egress::{EgressClient, EgressPolicy};
use crate::engine;
use crate::limits::Limits;
use crate::runtime::{Plugin, RequestState};
use crate::store::{DocumentStore, Namespace, SecretStore};

/// The tenant of a host without tenant configuration.
pub const DEFAULT_TENANT: &str = "default";

/// The key of every plugin's context config that says where the host keeps
/// its secrets, for messages such as "the client secret is not set".
pub const SECRET_STORE_KEY: &str = "host_secret_store";

/// The fitbit component built from `plugin/` into this binary.
pub static BUILTIN_FITBIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/fitbit.wasm"));

/// Where the built-in fitbit plugin may connect, and which of those URLs may
/// receive its client secret.
pub fn builtin_fitbit_egress() -> EgressConfig {
    EgressConfig {
        allow: vec![
            "https://api.fitbit.com".into(),
            "https://health.googleapis.com".into(),
            "https://oauth2.googleapis.com".into(),
        ],
        secret_urls: vec![
            "https://api.fitbit.com/oauth2/token".into(),
            "https://api.fitbit.com/oauth2/revoke".into(),
            "https://oauth2.googleapis.com/token".into(),
        ],
        allow_loopback: false,
    }
}

/// What a tenant's plugins share: request and connection allowances and
/// the store quota.
pub struct TenantShare {
    pub id: String,
    pub requests: Semaphore,
    pub connections: Arc<Semaphore>,
    /// Checked by the store in each write's transaction.
    pub quota: Quota,
}

pub struct Tenant {
    pub id: String,
    token_hashes: Vec<[u8; 32]>,
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    pub actions: Vec<ActionConfig>,
    /// `""` for the single tenant, `/tenants/<id>` otherwise.
    pub url_prefix: String,
    pub requires_auth: bool,
    /// Where the tenant's plugins and action status keep their documents.
    pub documents: Arc<dyn DocumentStore>,
}

impl Tenant {
    /// Whether the request's `Authorization` header carries one of the
    /// tenant's tokens (as a Bearer token or as a Basic password).
    pub fn authenticates(&self, authorization: Option<&str>) -> bool {
        if !self.requires_auth {
            return true;
        }
        let Some(token) = authorization.and_then(token_from_authorization) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Compare every entry in full so timing does not hint which matched.
        self.token_hashes
            .iter()
            .fold(false, |found, hash| found | constant_time_eq(hash, &digest))
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token from `Bearer T` or `Basic base64(anything:T)`.
pub fn token_from_authorization(header: &str) -> Option<String> {
    let (scheme, value) = header.trim().split_once(' ')?;
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" => Some(value.trim().to_string()),
        "basic" => {
            let decoded =
                base64::Engine::decode(&base64::engine::general_purpose::STANDARD, value.trim())
                    .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            decoded
                .split_once(':')
                .map(|(_, password)| password.to_string())
        }
        _ => None,
    }
}

/// Parses `token_sha256` entries (validated hex) into digests.
fn parse_hashes(hashes: &[String]) -> Vec<[u8; 32]> {
    hashes
        .iter()
        .filter_map(|hex| {
            let bytes: Vec<u8> = (0..hex.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect();
            bytes.try_into().ok()
        })
        .collect()
}

/// All tenants of one configuration. Replaced whole on reload; requests in
/// flight keep the `Arc`s they hold, so they finish on the old plugins.
pub struct Registry {
    pub tenants: BTreeMap<String, Arc<Tenant>>,
    pub multi_tenant: bool,
    admin_hashes: Vec<[u8; 32]>,
    /// Set when a newer registry replaces this one: its actions stop.
    pub retired: AtomicBool,
}

impl Registry {
    pub fn retire(&self) {
        self.retired.store(true, Ordering::SeqCst);
    }

    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::SeqCst)
    }

    pub fn admin_authenticates(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization.and_then(token_from_authorization) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.admin_hashes
            .iter()
            .fold(false, |found, hash| found | constant_time_eq(hash, &digest))
    }
}

/// What building plugins needs from the host.
pub struct Shared {
    pub engine: Engine,
    pub linker: Linker<RequestState>,
    pub documents: Arc<dyn DocumentStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub cache_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Where `secrets` keeps them, in words for the owner (a file path).
    pub secrets_location: String,
}

/// The document store of a tenant with its own `store` configuration;
/// `host_documents` is the host's own.
pub fn tenant_documents(
    id: &str,
    store: &StoreConfig,
    host_documents: &Arc<dyn DocumentStore>,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn DocumentStore>> {
    Ok(match store {
        StoreConfig::Default => host_documents.clone(),
        StoreConfig::Sqlite { path } => {
            let path = path
                .clone()
                .unwrap_or_else(|| data_dir.join("tenants").join(format!("{id}.sqlite")));
            Arc::new(
                crate::store::sqlite::SqliteStore::open(&path)
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
        StoreConfig::Igor(igor) => Arc::new(
            crate::store::igor::IgorStore::new(igor, id).context("configuring the Igor store")?,
        ),
        // Connects and migrates at first use: building a registry does not wait.
        StoreConfig::Postgres(pg) => Arc::new(
            crate::store::postgres::PostgresStore::new(pg)
                .context("configuring the PostgreSQL store")?,
        ),
    })
}

/// Builds every tenant and plugin of `config`.
pub fn build_registry(config: &Config, shared: &Shared) -> anyhow::Result<Registry> {
    let mut tenants = BTreeMap::new();
    let multi_tenant = !config.tenants.is_empty();
    if multi_tenant {
        for tenant in &config.tenants {
            let limits = tenant.limits.unwrap_or(config.limits);
            let documents = match &tenant.store {
                Some(store) => {
                    tenant_documents(&tenant.id, store, &shared.documents, &shared.data_dir)
                        .with_context(|| format!("tenant {}", tenant.id))?
                }
                None => shared.documents.clone(),
            };
            let built = build_tenant(
                &tenant.id,
                format!("/tenants/{}", tenant.id),
                parse_hashes(&tenant.token_sha256),
                &tenant.plugins,
                tenant.actions.clone(),
                limits,
                tenant.quota,
                documents,
                shared,
            )
            .with_context(|| format!("tenant {}", tenant.id))?;
            tenants.insert(tenant.id.clone(), Arc::new(built));
        }
    } else {
        let built = build_tenant(
            DEFAULT_TENANT,
            String::new(),
            Vec::new(),
            &config.single_tenant_plugins(),
            config.actions.clone(),
            config.limits,
            Quota::default(),
            shared.documents.clone(),
            shared,
        )?;
        tenants.insert(DEFAULT_TENANT.to_string(), Arc::new(built));
    }
    Ok(Registry {
        tenants,
        multi_tenant,
        admin_hashes: parse_hashes(&config.admin.token_sha256),
        retired: AtomicBool::new(false),
    })
}

#[allow(clippy::too_many_arguments)]
fn build_tenant(
    id: &str,
    url_prefix: String,
    token_hashes: Vec<[u8; 32]>,
    plugins: &[PluginConfig],
    actions: Vec<ActionConfig>,
    limits: Limits,
    quota: Quota,
    documents: Arc<dyn DocumentStore>,
    shared: &Shared,
) -> anyhow::Result<Tenant> {
    let share = Arc::new(TenantShare {
        id: id.to_string(),
        requests: Semaphore::new(limits.max_concurrent_requests.max(1)),
        connections: Arc::new(Semaphore::new(limits.max_concurrent_fetches.max(1))),
        quota,
    });
    let mut built = BTreeMap::new();
    for plugin in plugins {
        let loaded = load_plugin(plugin, limits, share.clone(), documents.clone(), shared)
            .with_context(|| format!("plugin {}", plugin.name))?;
        built.insert(plugin.name.clone(), Arc::new(loaded));
    }
    Ok(Tenant {
        id: id.to_string(),
        requires_auth: !url_prefix.is_empty(),
        token_hashes,
        plugins: built,
        actions,
        url_prefix,
        documents,
    })
}

fn load_plugin(
    plugin: &PluginConfig,
    tenant_limits: Limits,
    share: Arc<TenantShare>,
    documents: Arc<dyn DocumentStore>,
    shared: &Shared,
) -> anyhow::Result<Plugin> {
    let name = &plugin.name;
    let wasm = match &plugin.component {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => BUILTIN_FITBIT.to_vec(),
    };
    let component = engine::load_component(&shared.engine, &wasm, Some(&shared.cache_dir))
        .context("loading the component")?;
    engine::check_imports(&shared.engine, &component, name)?;
    let egress_config = match (&plugin.egress, &plugin.component) {
        (Some(egress), _) => egress.clone(),
        (None, None) => builtin_fitbit_egress(),
        (None, Some(_)) => EgressConfig::default(),
    };
    let policy = EgressPolicy::from_config(&egress_config).context("egress configuration")?;
    let limits = plugin.limits.unwrap_or(tenant_limits);
    let egress = EgressClient::new(policy, limits, share.connections.clone())?;
    let settings = plugin
        .config
        .iter()
        .filter(|(k, _)| *k != SECRET_STORE_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain([(SECRET_STORE_KEY.into(), shared.secrets_location.clone())])
        .collect();
    Plugin::new(
        name.clone(),
        Namespace::new(share.id.clone(), name.clone()),
        &shared.linker,
        &component,
        documents,
        shared.secrets.clone(),
        egress,
        settings,
        limits,
        share,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha256_hex(token: &str) -> String {
        Sha256::digest(token.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn tenant(tokens: &[&str]) -> Tenant {
        let hashes: Vec<String> = tokens.iter().map(|t| sha256_hex(t)).collect();
        Tenant {
            id: "t".into(),
            token_hashes: parse_hashes(&hashes),
            plugins: BTreeMap::new(),
            actions: vec![],
            url_prefix: "/tenants/t".into(),
            requires_auth: true,
            documents: Arc::new(
                crate::store::sqlite::SqliteStore::open(std::path::Path::new(":memory:")).unwrap(),
            ),
        }
    }

    #[test]
    fn bearer_and_basic_tokens_authenticate() {
        let t = tenant(&["s3cret", "other"]);
        assert!(t.authenticates(Some("Bearer s3cret")));
        assert!(t.authenticates(Some("bearer other")));
        let basic =
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "anyone:s3cret");
        assert!(t.authenticates(Some(&format!("Basic {basic}"))));
        assert!(!t.authenticates(Some("Bearer s3cre")));
        assert!(!t.authenticates(Some("Bearer")));
        assert!(!t.authenticates(None));
        assert!(!tenant(&[]).authenticates(Some("Bearer ")));
    }
}
