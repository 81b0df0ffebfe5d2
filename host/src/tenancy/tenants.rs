//! Tenants: who may call which plugins, with whose data and limits.
//!
//! A host without `[[tenant]]` config has one implicit tenant, `default`,
//! serving `/plugin/NAME/...` to its owner (the single-household setup:
//! the `[owner]` token, requests forwarded by Igor, or anyone on a
//! loopback-only host without either). With tenants, each is served under
//! `/tenants/<id>/` and every route needs one of its tokens. Either way, the
//! routes a plugin declares public need none (see [`crate::access`]). The
//! tenant is always taken from the host's routing, never from anything a
//! plugin says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::access::{Credentials, Gate};
use crate::capabilities::PluginCapabilities;
use crate::capabilities::tasks::TaskQueue;
use crate::config::{
    ActionConfig, Config, PluginConfig, Quota, SchedulerConfig, StoreConfig, TenantConfig,
};
use crate::egress::{EgressClient, EgressPolicy};
use crate::limits::Limits;
use crate::message::HostResponse;
use crate::store::{DocumentStore, Namespace, QuotaStore, SecretStore};
use crate::tenancy::directory::ListedTenant;
use crate::tenancy::stores;
use crate::wasm::manifest::{self, Grant, Manifest};
use crate::wasm::runtime::{Plugin, RequestState, TenantShare};

pub use crate::config::DEFAULT_TENANT;

pub struct Tenant {
    pub id: String,
    /// Who may call the tenant's routes.
    pub gate: Gate,
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    pub actions: Vec<ActionConfig>,
    /// `""` for the single tenant, `/tenants/<id>` otherwise.
    pub url_prefix: String,
    /// Where the tenant's plugins and action status keep their documents.
    pub documents: Arc<dyn DocumentStore>,
    /// What its plugins asked to be called for later (`igor:plugin/tasks`).
    pub tasks: Arc<TaskQueue>,
    /// The directory version it was built from (tenants in the database).
    pub version: Option<i64>,
}

impl Tenant {
    /// The 401 for a caller the gate does not admit.
    pub fn refusal(&self) -> HostResponse {
        if self.gate.tenant {
            return tenant_refusal(&self.id);
        }
        refusal_of(&self.gate, "igor-host")
    }
}

/// The 401 under `/tenants/ID/...` for a caller without one of the
/// tenant's tokens, whether or not a tenant `id` exists (or has any valid
/// token): the answer never tells tenants that exist from those that don't.
pub fn tenant_refusal(id: &str) -> HostResponse {
    let gate = Gate {
        tenant: true,
        ..Default::default()
    };
    // The id goes into a header: only one that could name a tenant.
    let realm = match crate::config::validate_tenant_id(id) {
        Ok(()) => format!("igor-host tenant {id}"),
        Err(_) => "igor-host tenant".to_string(),
    };
    refusal_of(&gate, &realm)
}

fn refusal_of(gate: &Gate, realm: &str) -> HostResponse {
    let (challenges, text) = gate.refusal(realm);
    let mut response = HostResponse::text(401, text);
    for challenge in challenges {
        response
            .headers
            .push(("www-authenticate".into(), challenge));
    }
    response
}

/// All tenants of one configuration. Replaced whole on reload; requests in
/// flight keep the `Arc`s they hold, so they finish on the old plugins.
pub struct Registry {
    pub tenants: BTreeMap<String, Arc<Tenant>>,
    pub multi_tenant: bool,
    /// Who may use `/admin/...` (and `/metrics` on the main listener).
    pub admin: Credentials,
    /// `[server] igor_forward_secret` (read by the app's `igor_forward`).
    pub igor_forward_secret: Option<String>,
    /// `[server] allowed_hosts` (see [`crate::trusted_names`]).
    pub allowed_hosts: Vec<String>,
    /// When actions first run.
    pub scheduler: SchedulerConfig,
    /// Tenants come from the database, and so do their actions' runs (see
    /// the lease scheduler), not from one task per action.
    pub in_database: bool,
    /// Turns true when a newer registry replaces this one: its actions stop
    /// waiting at once (a run in progress finishes).
    retired: tokio::sync::watch::Sender<bool>,
}

impl Registry {
    pub fn retire(&self) {
        self.retired.send_replace(true);
    }

    /// Resolves once this registry is retired.
    pub fn retirement(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut retired = self.retired.subscribe();
        async move {
            // An error means the registry is gone, which also ends its actions.
            let _ = retired.wait_for(|retired| *retired).await;
        }
    }
}

/// What building plugins needs from the host.
pub struct Shared {
    pub engine: Engine,
    pub linker: Linker<RequestState>,
    /// Components compiled once, shared by the tenants that run them, and
    /// the built-in one.
    pub components: crate::wasm::components::ComponentLibrary,
    pub documents: Arc<dyn DocumentStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub cache_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Where `secrets` keeps them, in words for the owner (a file path).
    pub secrets_location: String,
}

/// The document store of a tenant with its own `store` configuration;
/// `host_documents` is the host's own (see [`stores::backends`]).
pub fn tenant_documents(
    id: &str,
    store: &StoreConfig,
    host_documents: &Arc<dyn DocumentStore>,
    data_dir: &Path,
) -> anyhow::Result<Arc<dyn DocumentStore>> {
    let defaults = stores::Defaults {
        tenant: id,
        sqlite: data_dir.join("tenants").join(format!("{id}.sqlite")),
        default: Some(host_documents),
    };
    Ok(stores::backends(store, defaults)?.documents)
}

/// Builds one tenant of a multi-tenant host (also to check a tenant before
/// it is added to the directory).
pub fn build_listed_tenant(
    config: &Config,
    tenant: &TenantConfig,
    shared: &Shared,
) -> anyhow::Result<Tenant> {
    let documents = match &tenant.store {
        Some(store) => tenant_documents(&tenant.id, store, &shared.documents, &shared.data_dir)?,
        None => shared.documents.clone(),
    };
    let gate = Gate {
        tokens: Credentials::from_hex(&tenant.token_sha256)?,
        // A tenant's forwarded requests still need its token: the
        // forward secret is the host's, not the tenant's.
        forwarded: false,
        tenant: true,
    };
    build_tenant(
        &tenant.id,
        format!("/tenants/{}", tenant.id),
        gate,
        &tenant.plugins,
        tenant.actions.clone(),
        tenant.limits.unwrap_or(config.limits),
        tenant.quota,
        documents,
        shared,
    )
    .with_context(|| format!("tenant {}", tenant.id))
}

/// Builds every tenant and plugin of `config`.
pub fn build_registry(config: &Config, shared: &Shared) -> anyhow::Result<Registry> {
    let listed: Vec<ListedTenant> = config
        .tenants
        .iter()
        .map(|tenant| ListedTenant {
            config: tenant.clone(),
            version: 0,
        })
        .collect();
    build_registry_of(config, &listed, None, shared)
}

/// Builds the tenants of the database's directory: those whose version is
/// that of a tenant in `previous` are taken over as they are; a tenant that
/// cannot be built here is left out, with an error in the log, and the
/// others still serve.
pub fn build_registry_from_directory(
    config: &Config,
    listed: &[ListedTenant],
    previous: Option<&Registry>,
    shared: &Shared,
) -> anyhow::Result<Registry> {
    build_registry_of(config, listed, Some(previous), shared)
}

fn build_registry_of(
    config: &Config,
    listed: &[ListedTenant],
    // `Some` for tenants from the directory.
    directory: Option<Option<&Registry>>,
    shared: &Shared,
) -> anyhow::Result<Registry> {
    let mut tenants = BTreeMap::new();
    let multi_tenant = config.multi_tenant();
    if multi_tenant {
        for ListedTenant {
            config: tenant,
            version,
        } in listed
        {
            if let Some(previous) = directory
                && let Some(old) = previous.and_then(|p| p.tenants.get(&tenant.id))
                && old.version == Some(*version)
            {
                tenants.insert(tenant.id.clone(), old.clone());
                continue;
            }
            let built = build_listed_tenant(config, tenant, shared);
            match (built, directory) {
                (Ok(mut built), Some(_)) => {
                    built.version = Some(*version);
                    tenants.insert(tenant.id.clone(), Arc::new(built));
                }
                (Ok(built), None) => {
                    tenants.insert(tenant.id.clone(), Arc::new(built));
                }
                (Err(err), Some(_)) => {
                    tracing::error!(error = %format!("{err:#}"), "tenant left out on this host")
                }
                (Err(err), None) => return Err(err),
            }
        }
    } else {
        let gate = Gate {
            tokens: Credentials::from_hex(&config.owner.token_sha256)?,
            forwarded: config.server.igor_forward_secret.is_some(),
            tenant: false,
        };
        let built = build_tenant(
            DEFAULT_TENANT,
            String::new(),
            gate,
            &config.single_tenant_plugins(shared.components.builtin()),
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
        admin: Credentials::from_hex(&config.admin.token_sha256)?,
        igor_forward_secret: config.server.igor_forward_secret.clone(),
        allowed_hosts: config.server.allowed_hosts.clone(),
        scheduler: config.scheduler,
        in_database: directory.is_some(),
        retired: tokio::sync::watch::Sender::new(false),
    })
}

#[allow(clippy::too_many_arguments)]
fn build_tenant(
    id: &str,
    url_prefix: String,
    gate: Gate,
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
    });
    // The plugins write within the tenant's quota; the host (action status)
    // writes to `documents` itself.
    let within_quota: Arc<dyn DocumentStore> = Arc::new(QuotaStore::new(documents.clone(), quota));
    let tasks = Arc::new(TaskQueue::new(documents.clone(), id));
    let mut built = BTreeMap::new();
    for plugin in plugins {
        let stores = (within_quota.clone(), tasks.clone());
        let loaded = load_plugin(plugin, limits, share.clone(), stores, shared)
            .with_context(|| format!("plugin {}", plugin.name))?;
        built.insert(plugin.name.clone(), Arc::new(loaded));
    }
    Ok(Tenant {
        id: id.to_string(),
        gate,
        plugins: built,
        actions,
        url_prefix,
        documents,
        tasks,
        version: None,
    })
}

fn load_plugin(
    plugin: &PluginConfig,
    tenant_limits: Limits,
    share: Arc<TenantShare>,
    (documents, tasks): (Arc<dyn DocumentStore>, Arc<TaskQueue>),
    shared: &Shared,
) -> anyhow::Result<Plugin> {
    let name = &plugin.name;
    let component = shared.components.load(
        name,
        plugin.component.as_deref(),
        &shared.engine,
        &shared.linker,
        &shared.cache_dir,
    )?;
    let grant = manifest::grant(component.manifest.as_ref(), plugin)?;
    log_grant(&share.id, name, component.manifest.as_ref(), plugin, &grant);
    let policy =
        EgressPolicy::from_config(&grant.egress.rules()).context("egress configuration")?;
    let limits = plugin.limits.unwrap_or(tenant_limits);
    let egress = EgressClient::new(policy, limits, share.connections.clone())?;
    Ok(Plugin {
        component,
        name: name.clone(),
        namespace: Namespace::new(share.id.clone(), name.clone()),
        capabilities: PluginCapabilities {
            namespace: Namespace::new(share.id.clone(), name.clone()),
            documents,
            secrets: shared.secrets.clone(),
            secrets_location: Some(shared.secrets_location.clone()),
            egress: Arc::new(egress),
            limits,
            tasks,
        },
        config: grant.config.into_iter().collect(),
        public_routes: grant.public_routes,
        limits,
        tenant: share,
    })
}

/// Says what a plugin asks for and what it got, once per load.
fn log_grant(
    tenant: &str,
    name: &str,
    manifest: Option<&Manifest>,
    plugin: &PluginConfig,
    grant: &Grant,
) {
    let Some(manifest) = manifest else {
        tracing::info!(
            %tenant, plugin = %name, allow = ?grant.egress.allow,
            "the component has no manifest: it gets only what its [[plugin]] entry grants"
        );
        return;
    };
    let public: Vec<&str> = grant
        .public_routes
        .iter()
        .map(|r| r.path.as_str())
        .collect();
    tracing::info!(
        %tenant, plugin = %name, manifest = %manifest.name, allow = ?grant.egress.allow,
        secret_urls = ?grant.egress.secret_urls, public_routes = ?public,
        refused = ?grant.refused, "plugin loaded with what its manifest asks"
    );
    for key in plugin.config.keys() {
        if !manifest.config.contains_key(key) {
            tracing::warn!(
                %tenant, plugin = %name, setting = %key,
                "[plugin.config] sets a setting the plugin's manifest does not declare"
            );
        }
    }
}

/// Reads each tenant's store usage once (at start and after a reload);
/// writes keep the gauges current from then on.
/// Reads the usage of `registry`'s tenants, except those that are the
/// same as in `previous` (their gauges are up to date).
pub async fn count_store_usage(registry: &Registry, previous: Option<&Registry>) {
    for (id, tenant) in &registry.tenants {
        if let Some(old) = previous.and_then(|p| p.tenants.get(id))
            && std::sync::Arc::ptr_eq(old, tenant)
        {
            continue;
        }
        match tenant.documents.usage(id).await {
            Ok(Some(usage)) => crate::metrics::record_store_usage(id, usage),
            Ok(None) => {}
            Err(err) => tracing::warn!(tenant = %id, error = %err, "could not read store usage"),
        }
    }
}

/// Drops the usage gauges of tenants a reload removed.
pub fn forget_retired_tenants(old: &Registry, new: &Registry) {
    for id in old
        .tenants
        .keys()
        .filter(|id| !new.tenants.contains_key(*id))
    {
        crate::metrics::forget_store_usage(id);
    }
}
