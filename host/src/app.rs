//! The assembled host: configuration turned into loaded plugins sharing one
//! engine and store, and the single dispatch path every caller uses (HTTP
//! server, scheduler and the `call` command alike).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use wasmtime::Engine;

use crate::config::{Config, EgressConfig, PluginConfig};
use crate::egress::{EgressClient, EgressPolicy};
use crate::engine;
use crate::runtime::{self, Context, InvokeError, Plugin, Request, Response};
use crate::store::sqlite::SqliteStore;
use crate::store::{DocumentStore, Namespace, SecretStore};

/// The tenant of a host without tenant configuration.
pub const DEFAULT_TENANT: &str = "default";

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

pub struct App {
    pub config: Config,
    pub base_url: String,
    pub engine: Engine,
    /// Plugin documents and host-owned data (action status).
    pub documents: Arc<dyn DocumentStore>,
    /// Host-held secrets; always local, whatever holds the documents.
    pub secrets: Arc<dyn SecretStore>,
    plugins: BTreeMap<String, Arc<Plugin>>,
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
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let max_memory = config
            .plugins
            .iter()
            .filter_map(|p| p.limits.map(|l| l.memory_bytes))
            .chain([config.limits.memory_bytes])
            .max()
            .unwrap_or(config.limits.memory_bytes);
        let engine = engine::build_engine(max_memory)?;
        engine::spawn_epoch_ticker(&engine);
        let local = SqliteStore::open(&config.store_path())
            .with_context(|| format!("opening the store {}", config.store_path().display()))?;
        let documents: Arc<dyn DocumentStore> = Arc::new(local.clone());
        let secrets: Arc<dyn SecretStore> = Arc::new(local);
        let linker = runtime::linker(&engine)?;
        let cache_dir = config.data_dir.join("cache");
        let mut plugins = BTreeMap::new();
        for plugin_config in &config.plugins {
            let plugin = load_plugin(
                &engine,
                &linker,
                &config,
                plugin_config,
                &cache_dir,
                documents.clone(),
                secrets.clone(),
            )?;
            plugins.insert(plugin_config.name.clone(), Arc::new(plugin));
        }
        Ok(Self {
            base_url: config.server.base_url(),
            config,
            engine,
            documents,
            secrets,
            plugins,
        })
    }

    pub fn plugin_names(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// Routes a request to `/plugin/NAME/...` and runs it.
    pub async fn dispatch(&self, request: HostRequest) -> HostResponse {
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
        let Some(plugin) = self.plugins.get(name) else {
            return HostResponse::text(404, &format!("No plugin named {name:?} is installed\n"));
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
            path: percent_decode(&sub_path),
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
                base_url: self.base_url.clone(),
                caller: request.caller,
                utc_offset_seconds: local_utc_offset_seconds(),
                config: plugin.config.clone(),
            },
        };
        match plugin.handle(wit_request).await {
            Ok(response) => HostResponse::from_plugin(response, plugin.limits.max_body_bytes),
            Err(err) => HostResponse::from_error(&err),
        }
    }
}

fn load_plugin(
    engine: &Engine,
    linker: &wasmtime::component::Linker<runtime::RequestState>,
    config: &Config,
    plugin: &PluginConfig,
    cache_dir: &std::path::Path,
    documents: Arc<dyn DocumentStore>,
    secrets: Arc<dyn SecretStore>,
) -> anyhow::Result<Plugin> {
    let name = &plugin.name;
    let wasm = match &plugin.component {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("plugin {name}: reading {}", path.display()))?,
        None => BUILTIN_FITBIT.to_vec(),
    };
    let component = engine::load_component(engine, &wasm, Some(cache_dir))
        .with_context(|| format!("plugin {name}: loading the component"))?;
    engine::check_imports(engine, &component, name)?;
    let egress_config = match (&plugin.egress, &plugin.component) {
        (Some(egress), _) => egress.clone(),
        (None, None) => builtin_fitbit_egress(),
        (None, Some(_)) => EgressConfig::default(),
    };
    let policy = EgressPolicy::from_config(&egress_config)
        .with_context(|| format!("plugin {name}: egress configuration"))?;
    let limits = plugin.limits.unwrap_or(config.limits);
    let egress = EgressClient::new(policy, limits)?;
    let settings = plugin
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Plugin::new(
        name.clone(),
        Namespace::new(DEFAULT_TENANT, name.clone()),
        linker,
        &component,
        documents,
        secrets,
        egress,
        settings,
        limits,
    )
}

fn percent_decode(path: &str) -> String {
    percent_encoding::percent_decode_str(path)
        .decode_utf8_lossy()
        .into_owned()
}

fn local_utc_offset_seconds() -> i32 {
    chrono::Local::now().offset().local_minus_utc()
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
