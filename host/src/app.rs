//! The assembled host: configuration turned into tenants and plugins sharing
//! one engine and store, and the single dispatch path every caller uses
//! (HTTP server, scheduler and the `call` command alike).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use crate::config::Config;
use crate::echo::echo;
use crate::engine;
use crate::runtime::{self, Context, InvokeError, Request, Response};
use crate::store::DocumentStore;
/// The host's own stores (see [`crate::store::Stores`]).
pub use crate::store::Stores;
pub use crate::tenants::DEFAULT_TENANT;
use crate::tenants::{Registry, Shared, Tenant, build_registry};

pub struct App {
    pub base_url: String,
    /// `[server] igor_forward_secret` (see [`crate::igor_forward`]).
    pub igor_forward_secret: Option<String>,
    shared: Shared,
    /// Where the configuration came from, for reloads.
    config_path: Option<PathBuf>,
    registry: RwLock<Arc<Registry>>,
}

/// A request as the host received it, before it is addressed to a plugin.
#[derive(Debug, Clone, Default)]
pub struct HostRequest {
    pub method: String,
    /// Path and query, e.g. `/plugin/fitbit?user=jack`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub caller: Option<String>,
}

/// Headers that carry the caller's credentials for the host; never passed on.
const HOST_ONLY_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

impl App {
    /// Builds the host from a configuration file (or the defaults).
    pub async fn load(config_path: Option<PathBuf>) -> anyhow::Result<Self> {
        let config = Config::load(config_path.as_deref())?;
        Self::new(config, config_path).await
    }

    pub async fn new(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<Self> {
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
            engine,
            documents: stores.documents,
            secrets: stores.secrets,
            cache_dir: config.data_dir.join("cache"),
            data_dir: config.data_dir.clone(),
            secrets_location: stores.secrets_location,
        };
        let registry = build_registry(&config, &shared)?;
        Ok(Self {
            base_url: crate::store::igor::host_base_url(&config).await?,
            igor_forward_secret: config.server.igor_forward_secret.clone(),
            shared,
            config_path,
            registry: RwLock::new(Arc::new(registry)),
        })
    }

    pub fn documents(&self) -> &Arc<dyn DocumentStore> {
        &self.shared.documents
    }

    /// The current tenants and plugins.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().expect("registry lock").clone()
    }

    /// Re-reads the configuration and swaps in its tenants and plugins.
    /// Requests in flight finish on the plugins they started with; a bad
    /// configuration is refused and the running one stays.
    pub fn reload(&self) -> anyhow::Result<Arc<Registry>> {
        let config = Config::load(self.config_path.as_deref())?;
        let new = Arc::new(build_registry(&config, &self.shared)?);
        let old = std::mem::replace(
            &mut *self.registry.write().expect("registry lock"),
            new.clone(),
        );
        old.retire();
        tracing::info!(tenants = new.tenants.len(), "configuration reloaded");
        Ok(new)
    }

    /// Routes a request by its URL and runs it, checking credentials.
    pub async fn dispatch(&self, request: HostRequest) -> HostResponse {
        let registry = self.registry();
        let (tenant, inner_target) = if registry.multi_tenant {
            let Some(rest) = request.target.strip_prefix("/tenants/") else {
                return HostResponse::text(404, "Not found: tenants live under /tenants/ID/\n");
            };
            let (id, inner) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
            match registry.tenants.get(id) {
                Some(tenant) => (tenant.clone(), inner.to_string()),
                None => return HostResponse::text(404, "No such tenant\n"),
            }
        } else {
            let tenant = registry
                .tenants
                .get(DEFAULT_TENANT)
                .expect("single tenant")
                .clone();
            (tenant, request.target.clone())
        };
        let is_oauth_callback = inner_target
            .split('?')
            .next()
            .is_some_and(|path| path.ends_with("/auth2"));
        let authorization = header(&request.headers, "authorization");
        if !is_oauth_callback && !tenant.authenticates(authorization) {
            tracing::warn!(tenant = %tenant.id, target = %inner_target.split('?').next().unwrap_or(""), "unauthenticated request refused");
            let mut response = HostResponse::text(
                401,
                "This tenant needs credentials: send its bearer token\n",
            );
            response.headers.push((
                "www-authenticate".into(),
                format!("Bearer realm=\"igor-host tenant {}\"", tenant.id),
            ));
            return response;
        }
        self.dispatch_in_tenant(
            &tenant,
            HostRequest {
                target: inner_target,
                ..request
            },
        )
        .await
    }

    /// Runs a request already attributed to `tenant` (the scheduler's path).
    pub async fn dispatch_in_tenant(&self, tenant: &Tenant, request: HostRequest) -> HostResponse {
        let (path, query) = match request.target.split_once('?') {
            Some((path, query)) => (path, query),
            None => (request.target.as_str(), ""),
        };
        let Some(rest) = path.strip_prefix("/plugin/") else {
            return HostResponse::text(404, "Not found: plugins live under /plugin/NAME\n");
        };
        let (name, sub_path) = match rest.split_once('/') {
            Some((name, sub)) => (name, format!("/{sub}")),
            None => (rest, "/".to_string()),
        };
        let Some(plugin) = tenant.plugins.get(name) else {
            return HostResponse::text(
                404,
                &format!("No plugin named {:?} is installed\n", echo(name)),
            );
        };
        if request.body.len() > plugin.limits.max_request_body_bytes {
            return HostResponse::text(
                413,
                &format!(
                    "Request body too large: the limit is {} bytes\n",
                    plugin.limits.max_request_body_bytes
                ),
            );
        }
        let header_bytes: usize = request.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
        if header_bytes > plugin.limits.max_header_bytes {
            return HostResponse::text(431, "Request headers too large\n");
        }
        let wit_request = Request {
            method: request.method.to_ascii_uppercase(),
            path: percent_encoding::percent_decode_str(&sub_path)
                .decode_utf8_lossy()
                .into_owned(),
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: request
                .headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .filter(|(k, _)| !HOST_ONLY_HEADERS.contains(&k.as_str()))
                .collect(),
            body: request.body,
            context: Context {
                plugin_name: plugin.name.clone(),
                base_url: format!("{}{}", self.base_url, tenant.url_prefix),
                caller: request.caller,
                utc_offset_seconds: chrono::Local::now().offset().local_minus_utc(),
                config: plugin.config.clone(),
            },
        };
        match plugin.handle(wit_request).await {
            Ok(response) => HostResponse::from_plugin(response, plugin.limits.max_body_bytes),
            Err(err) => HostResponse::from_error(&err),
        }
    }
}

/// Every limits table in effect: pooled memory slots are sized for the largest.
fn all_limits(config: &Config) -> Vec<crate::limits::Limits> {
    let mut all = vec![config.limits];
    all.extend(
        config
            .single_tenant_plugins()
            .iter()
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

/// What the host answers.
#[derive(Debug, Clone)]
pub struct HostResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HostResponse {
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn from_plugin(response: Response, max_body: usize) -> Self {
        if !(100..=599).contains(&response.status) {
            return Self::text(
                502,
                &format!(
                    "The plugin answered an invalid status {}\n",
                    response.status
                ),
            );
        }
        if response.body.len() > max_body {
            return Self::text(502, "The plugin's response exceeds the body size limit\n");
        }
        Self {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }

    fn from_error(err: &InvokeError) -> Self {
        let status = match err {
            InvokeError::Deadline { .. } => 504,
            InvokeError::OutOfMemory { .. } | InvokeError::Trap { .. } => 500,
            InvokeError::Instantiate { .. } => 503,
        };
        Self::text(status, &format!("{err}\n"))
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
