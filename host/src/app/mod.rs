//! The assembled host: configuration turned into tenants and plugins sharing
//! one engine and store, and the single dispatch path every caller uses
//! (HTTP server, scheduler and the `call` command alike).

pub mod base_url;
pub mod igor_forward;
pub mod plugin_target;
pub mod readiness;

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::access::Presented;
use anyhow::Context as _;

use crate::app::base_url::BaseUrl;
use crate::builtin_plugin::BuiltinPlugin;

use crate::app::plugin_target::{PluginTarget, no_such_plugin, not_a_plugin_path, split_tenant};
pub use crate::config::DEFAULT_TENANT;
use crate::config::{Config, StoreConfig, TenantSource};
use crate::echo::echo;
use crate::store::DocumentStore;
use crate::tenancy::directory::TenantDirectory;
/// The host's own stores (see [`crate::tenancy::stores::Stores`]).
pub use crate::tenancy::stores::Stores;
use crate::tenancy::tenants::{
    Registry, Shared, Tenant, build_registry, build_registry_from_directory,
};
use crate::trusted_names::TrustedNames;
use crate::wasm::components::ComponentLibrary;
use crate::wasm::engine;
use crate::wasm::runtime::Plugin;
use crate::wasm::runtime::{self, Context, InvokeError, Request, Response};

pub use crate::message::{HostRequest, HostResponse};

pub struct App {
    /// The URL browsers reach this host by (see [`BaseUrl`]).
    base_url: BaseUrl,
    shared: Shared,
    /// Where the configuration came from, for reloads.
    config_path: Option<PathBuf>,
    registry: RwLock<Arc<Registry>>,
    /// Why the last reload was refused, until one succeeds (for `/readyz`).
    refused_reload: RwLock<Option<String>>,
    /// The configuration running now.
    config: RwLock<Arc<Config>>,
    /// Where tenants come from, with `[tenant_directory] source = "database"`.
    directory: Option<Arc<TenantDirectory>>,
    /// One reload or tenant refresh at a time.
    reloading: tokio::sync::Mutex<()>,
    /// The directory version the running tenants were read at.
    directory_version: std::sync::atomic::AtomicI64,
    /// The last readiness probe (`/readyz`).
    readiness: crate::app::readiness::Readiness,
}

/// How long a plugin's outbound client (and its connection pool) is kept
/// without a fetch.
const EGRESS_IDLE: std::time::Duration = std::time::Duration::from_secs(120);

/// Drops idle plugins' outbound clients every minute, so that memory follows
/// the tenants in use rather than all configured ones.
fn spawn_idle_sweeper(app: std::sync::Weak<App>) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(EGRESS_IDLE / 2);
        loop {
            ticker.tick().await;
            let Some(app) = app.upgrade() else { return };
            let dropped = app
                .registry()
                .tenants
                .values()
                .flat_map(|tenant| tenant.plugins.values())
                .filter(|plugin| plugin.capabilities.egress.drop_if_idle(EGRESS_IDLE))
                .count();
            if dropped > 0 {
                tracing::debug!(dropped, "idle outbound clients dropped");
            }
        }
    });
}

/// A request whose caller was admitted and whose plugin was found; its body
/// is read after this, under the plugin's limit.
pub struct Routed {
    pub plugin: Arc<Plugin>,
    /// The tenant's URL prefix (`""` for the single tenant).
    url_prefix: String,
    method: String,
    /// Below the plugin, e.g. `/auth2`; `/` for the plugin itself.
    sub_path: String,
    query: String,
    headers: Vec<(String, String)>,
    /// The Igor user named by a verified forwarded request.
    caller: Option<String>,
    /// The host's base URL when the request arrived.
    base_url: String,
    /// A run of a task the plugin queued (`igor:plugin/tasks`).
    task: bool,
}

/// Headers that carry the caller's credentials for the host, or that only
/// the host may set (`igor-task`); never passed on from a caller.
const HOST_ONLY_HEADERS: &[&str] = &[
    "authorization",
    "cookie",
    "proxy-authorization",
    TASK_HEADER,
];

/// Marks a request the host makes to run a plugin's queued task.
pub const TASK_HEADER: &str = "igor-task";

impl App {
    /// Builds the host from a configuration file (or the defaults), with
    /// `builtin` as the plugin of entries without a component (and of the
    /// default configuration).
    pub async fn load(
        config_path: Option<PathBuf>,
        builtin: BuiltinPlugin,
    ) -> anyhow::Result<Self> {
        let config = Config::load(config_path.as_deref(), &builtin)?;
        Self::new(config, config_path, builtin).await
    }

    /// Builds the host from `config` (read from `config_path`, which a reload
    /// reads again); see [`App::load`] for `builtin`.
    pub async fn new(
        config: Config,
        config_path: Option<PathBuf>,
        builtin: BuiltinPlugin,
    ) -> anyhow::Result<Self> {
        let max_memory = all_limits(&config)
            .iter()
            .map(|l| l.memory_bytes)
            .max()
            .unwrap_or(config.limits.memory_bytes);
        let engine = engine::build_engine(max_memory, config.pooling_allocator)?;
        engine::spawn_epoch_ticker(&engine);
        let stores = Stores::open(&config).await?;
        let shared = Shared {
            linker: runtime::linker(&engine)?,
            components: ComponentLibrary::new(builtin),
            engine,
            documents: stores.documents,
            secrets: stores.secrets,
            cache_dir: config.data_dir.join("cache"),
            data_dir: config.data_dir.clone(),
            secrets_location: stores.secrets_location,
        };
        let directory = match (&config.tenant_directory.source, &config.store) {
            (TenantSource::Database, StoreConfig::Postgres(pg)) => Some(Arc::new(
                TenantDirectory::new(pg, config.scheduler.first_run_spread_seconds)?,
            )),
            _ => None,
        };
        let (registry, directory_version) = match &directory {
            Some(directory) => {
                let (version, listed) = directory.all().await.context("reading the tenants")?;
                let registry = build_registry_from_directory(&config, &listed, None, &shared)?;
                (registry, version)
            }
            None => (build_registry(&config, &shared)?, 0),
        };
        let registry = Arc::new(registry);
        // One read per tenant: with thousands, the host serves meanwhile.
        let counted = registry.clone();
        tokio::spawn(
            async move { crate::tenancy::tenants::count_store_usage(&counted, None).await },
        );
        Ok(Self {
            base_url: BaseUrl::from_config(&config).await?,
            shared,
            config_path,
            registry: RwLock::new(registry),
            refused_reload: RwLock::new(None),
            config: RwLock::new(Arc::new(config)),
            directory,
            reloading: Default::default(),
            directory_version: directory_version.into(),
            readiness: Default::default(),
        })
    }

    /// Builds `tenant` as this host would, to refuse what cannot run.
    pub fn check_tenant(&self, tenant: &crate::config::TenantConfig) -> anyhow::Result<()> {
        let config = self.config.read().expect("config lock").clone();
        crate::tenancy::tenants::build_listed_tenant(&config, tenant, &self.shared).map(drop)
    }

    /// The tenant directory, when tenants live in the database.
    pub fn directory(&self) -> Option<&Arc<TenantDirectory>> {
        self.directory.as_ref()
    }

    /// How often the directory follower polls.
    pub fn directory_poll(&self) -> std::time::Duration {
        let config = self.config.read().expect("config lock");
        std::time::Duration::from_millis(config.tenant_directory.poll_ms)
    }

    /// Starts dropping idle plugins' outbound clients.
    pub fn start_idle_sweeper(self: &Arc<Self>) {
        spawn_idle_sweeper(Arc::downgrade(self));
    }

    /// The scheduler settings running now.
    pub fn scheduler_config(&self) -> crate::config::SchedulerConfig {
        self.config.read().expect("config lock").scheduler
    }

    /// Re-reads the tenants from the directory, rebuilding only those that
    /// changed; returns the directory version read.
    pub async fn refresh_tenants(&self) -> anyhow::Result<i64> {
        let Some(directory) = &self.directory else {
            anyhow::bail!("this host's tenants are in its configuration file");
        };
        let _one_at_a_time = self.reloading.lock().await;
        let (version, listed) = directory.all().await?;
        let config = self.config.read().expect("config lock").clone();
        let old = self.registry();
        let new = Arc::new(build_registry_from_directory(
            &config,
            &listed,
            Some(&old),
            &self.shared,
        )?);
        self.swap_registry(new).await;
        self.directory_version
            .store(version, std::sync::atomic::Ordering::Release);
        Ok(version)
    }

    /// The directory version the running tenants were read at: a host
    /// whose directory is at another version has changes to pick up.
    pub fn directory_version(&self) -> i64 {
        self.directory_version
            .load(std::sync::atomic::Ordering::Acquire)
    }

    async fn swap_registry(&self, new: Arc<Registry>) {
        let old = std::mem::replace(
            &mut *self.registry.write().expect("registry lock"),
            new.clone(),
        );
        old.retire();
        crate::tenancy::tenants::forget_retired_tenants(&old, &new);
        crate::tenancy::tenants::count_store_usage(&new, Some(&old)).await;
        tracing::info!(tenants = new.tenants.len(), "tenants reloaded");
    }

    /// The last readiness probe.
    pub fn readiness(&self) -> &crate::app::readiness::Readiness {
        &self.readiness
    }

    /// The URL browsers reach this host by.
    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        &self.shared.documents
    }

    /// The plugin of entries without a component, handed in by the binary.
    pub fn builtin(&self) -> &BuiltinPlugin {
        self.shared.components.builtin()
    }

    /// The current tenants and plugins.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().expect("registry lock").clone()
    }

    /// Why the configuration on disk is not the one running, if it is not.
    pub fn refused_reload(&self) -> Option<String> {
        self.refused_reload.read().expect("reload lock").clone()
    }

    /// Re-reads the configuration and swaps in its tenants and plugins.
    /// Requests in flight finish on the plugins they started with; a bad
    /// configuration is refused and the running one stays.
    pub async fn reload(&self) -> anyhow::Result<Arc<Registry>> {
        let _one_at_a_time = self.reloading.lock().await;
        let built = match Config::load(self.config_path.as_deref(), self.builtin()) {
            Ok(config) => self.build(&config).await.map(|r| (config, r)),
            Err(err) => Err(err),
        };
        let (config, new) = match built {
            Ok((config, registry)) => (config, Arc::new(registry)),
            Err(err) => {
                *self.refused_reload.write().expect("reload lock") = Some(format!("{err:#}"));
                return Err(err);
            }
        };
        *self.refused_reload.write().expect("reload lock") = None;
        self.base_url.reconfigure(&config)?;
        *self.config.write().expect("config lock") = Arc::new(config);
        self.swap_registry(new.clone()).await;
        Ok(new)
    }

    async fn build(&self, config: &Config) -> anyhow::Result<Registry> {
        let in_database = config.tenant_directory.source == TenantSource::Database;
        match &self.directory {
            Some(directory) if in_database => {
                let (_, listed) = directory.all().await?;
                build_registry_from_directory(config, &listed, Some(&self.registry()), &self.shared)
            }
            None if !in_database => build_registry(config, &self.shared),
            _ => anyhow::bail!(
                "[tenant_directory] source changed: restart the host to move its tenants"
            ),
        }
    }

    /// Routes a request by its URL and runs it, checking credentials.
    pub async fn dispatch(&self, request: HostRequest) -> HostResponse {
        let routed = match self
            .route(&request.method, &request.target, request.headers)
            .await
        {
            Ok(routed) => routed,
            Err(refusal) => return refusal,
        };
        let limit = routed.plugin.limits.max_request_body_bytes;
        if request.body.len() > limit {
            return body_too_large(limit);
        }
        self.run(routed, request.body).await
    }

    /// Finds the tenant and plugin a request addresses and checks that its
    /// caller may reach them, before anything of its body is read.
    pub async fn route(
        &self,
        method: &str,
        target: &str,
        mut headers: Vec<(String, String)>,
    ) -> Result<Routed, HostResponse> {
        let registry = self.registry();
        let (tenant, inner_target) = if registry.multi_tenant {
            let Some((id, inner)) = split_tenant(target) else {
                return Err(HostResponse::text(
                    404,
                    "Not found: tenants live under /tenants/ID/\n",
                ));
            };
            match registry.tenants.get(id) {
                Some(tenant) => (tenant.clone(), inner),
                // Answered as a tenant's caller without its token is, after
                // the same work of hashing the token it brought.
                None => {
                    std::hint::black_box(
                        crate::access::Credentials::default()
                            .accept(header(&headers, "authorization")),
                    );
                    return Err(crate::tenancy::tenants::tenant_refusal(id));
                }
            }
        } else {
            let tenant = registry
                .tenants
                .get(DEFAULT_TENANT)
                .expect("single tenant")
                .clone();
            (tenant, target)
        };
        let forwarded =
            crate::app::igor_forward::take(registry.igor_forward_secret.as_deref(), &mut headers);
        let PluginTarget {
            path,
            query,
            plugin: addressed,
        } = PluginTarget::parse(inner_target);
        let plugin = addressed
            .as_ref()
            .and_then(|(name, _)| tenant.plugins.get(*name));
        let presented = Presented {
            authorization: header(&headers, "authorization"),
            forwarded: forwarded.verified,
            public_route: plugin
                .zip(addressed.as_ref())
                .is_some_and(|(plugin, (_, sub))| plugin.is_public_route(method, sub)),
        };
        if !tenant.gate.admits(presented) {
            tracing::warn!(tenant = %tenant.id, path = %path, "unauthenticated request refused");
            return Err(tenant.refusal());
        }
        let base_url = self.base_url.current().await;
        let names = TrustedNames::new(&base_url, &registry.allowed_hosts);
        if tenant.gate.is_open() {
            names.check_host(&headers).inspect_err(|_| {
                tracing::warn!(path = %path, "request for a name this host does not answer to refused");
            })?;
        }
        names
            .check_origin(method, &headers, forwarded.verified)
            .inspect_err(|_| {
                tracing::warn!(tenant = %tenant.id, path = %path, "cross-site form refused");
            })?;
        let Some((name, sub_path)) = addressed else {
            return Err(not_a_plugin_path());
        };
        let Some(plugin) = plugin.cloned() else {
            return Err(no_such_plugin(name));
        };
        let header_bytes: usize = headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        if header_bytes > plugin.limits.max_header_bytes {
            return Err(HostResponse::text(431, "Request headers too large\n"));
        }
        Ok(Routed {
            url_prefix: tenant.url_prefix.clone(),
            plugin,
            method: method.to_ascii_uppercase(),
            sub_path,
            query: query.to_string(),
            headers,
            caller: forwarded.caller,
            base_url,
            task: false,
        })
    }

    /// Runs `request` as the owner of the host would: the tenant (from a
    /// `/tenants/ID/` prefix, else the single one) is named, not proven.
    /// For the `call` command, which only whoever can read the
    /// configuration runs.
    pub async fn dispatch_as_owner(&self, request: HostRequest) -> HostResponse {
        let registry = self.registry();
        let (tenant, target) = if registry.multi_tenant {
            let (id, inner) = split_tenant(&request.target).unwrap_or(("", ""));
            match registry.tenants.get(id) {
                Some(tenant) => (tenant.clone(), inner.to_string()),
                None => {
                    let ids: Vec<&str> = registry.tenants.keys().map(String::as_str).collect();
                    return HostResponse::text(
                        404,
                        &format!(
                            "No such tenant: call /tenants/ID/plugin/NAME... with one of {}\n",
                            echo(&ids.join(", "))
                        ),
                    );
                }
            }
        } else {
            let tenant = registry.tenants.get(DEFAULT_TENANT).expect("single tenant");
            (tenant.clone(), request.target.clone())
        };
        self.dispatch_in_tenant(&tenant, HostRequest { target, ..request })
            .await
    }

    /// Runs a request already attributed to `tenant` (the scheduler's path:
    /// no credentials are checked).
    pub async fn dispatch_in_tenant(&self, tenant: &Tenant, request: HostRequest) -> HostResponse {
        self.dispatch_as(tenant, request, false).await
    }

    /// Runs a task a plugin of `tenant` queued: `POST target` with
    /// `igor-task: 1`, no caller, no body.
    pub async fn run_task(&self, tenant: &Tenant, target: &str) -> HostResponse {
        let request = HostRequest {
            method: "POST".into(),
            target: target.to_string(),
            ..Default::default()
        };
        self.dispatch_as(tenant, request, true).await
    }

    async fn dispatch_as(&self, tenant: &Tenant, request: HostRequest, task: bool) -> HostResponse {
        let target = PluginTarget::parse(&request.target);
        let Some((name, sub_path)) = target.plugin else {
            return not_a_plugin_path();
        };
        let Some(plugin) = tenant.plugins.get(name) else {
            return no_such_plugin(name);
        };
        let routed = Routed {
            url_prefix: tenant.url_prefix.clone(),
            plugin: plugin.clone(),
            method: request.method.to_ascii_uppercase(),
            sub_path,
            query: target.query.to_string(),
            headers: request.headers,
            caller: None,
            base_url: self.base_url.current().await,
            task,
        };
        self.run(routed, request.body).await
    }

    /// Runs an admitted request in its plugin.
    pub async fn run(&self, routed: Routed, body: Vec<u8>) -> HostResponse {
        let Routed {
            url_prefix,
            plugin,
            method,
            sub_path,
            query,
            headers,
            caller,
            base_url,
            task,
        } = routed;
        let pass_authorization = plugin.passes_authorization(&method, &sub_path);
        let kept = |name: &str| {
            !HOST_ONLY_HEADERS.contains(&name) || (pass_authorization && name == "authorization")
        };
        let wit_request = Request {
            method,
            path: percent_encoding::percent_decode_str(&sub_path)
                .decode_utf8_lossy()
                .into_owned(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .filter(|(k, _)| kept(k))
                .chain(task.then(|| (TASK_HEADER.to_string(), "1".to_string())))
                .collect(),
            body,
            context: Context {
                plugin_name: plugin.name.clone(),
                base_url: format!("{base_url}{url_prefix}"),
                caller,
                utc_offset_seconds: chrono::Local::now().offset().local_minus_utc(),
                config: plugin.config.clone(),
            },
        };
        match plugin.handle(wit_request).await {
            Ok(response) => response_of_plugin(response, plugin.limits.max_body_bytes),
            Err(err) => response_of_error(&err),
        }
    }
}

/// The 413 for a body over `limit`.
pub fn body_too_large(limit: usize) -> HostResponse {
    HostResponse::text(
        413,
        &format!("Request body too large: the limit is {limit} bytes\n"),
    )
}

/// Every limits table in effect: pooled memory slots are sized for the largest.
fn all_limits(config: &Config) -> Vec<crate::limits::Limits> {
    let mut all = vec![config.limits];
    // The default plugins have the global limits, counted already.
    all.extend(
        config
            .plugins
            .iter()
            .flatten()
            .map(|p| p.limits.unwrap_or(config.limits)),
    );
    for tenant in &config.tenants {
        let base = tenant.limits.unwrap_or(config.limits);
        all.push(base);
        all.extend(tenant.plugins.iter().map(|p| p.limits.unwrap_or(base)));
    }
    all
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A plugin's answer, checked.
fn response_of_plugin(response: Response, max_body: usize) -> HostResponse {
    if !(100..=599).contains(&response.status) {
        return HostResponse::text(
            502,
            &format!(
                "The plugin answered an invalid status {}\n",
                response.status
            ),
        );
    }
    if response.body.len() > max_body {
        return HostResponse::text(502, "The plugin's response exceeds the body size limit\n");
    }
    HostResponse {
        status: response.status,
        headers: response.headers,
        body: response.body,
    }
}

/// What a failed call answers.
fn response_of_error(err: &InvokeError) -> HostResponse {
    let status = match err {
        InvokeError::Deadline { .. } => 504,
        InvokeError::OutOfMemory { .. } | InvokeError::Trap { .. } => 500,
        InvokeError::Instantiate { .. } => 503,
    };
    HostResponse::text(status, &format!("{err}\n"))
}
