//! Running plugin components: the `igor-plugin` bindings, the per-request
//! store state that implements the plugin's imports, and one call of
//! `handle-request` in a fresh, limited instance.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::deadline::Deadline;
use crate::egress::{EgressClient, FetchError, FetchRequest, SecretUse};
use crate::engine::GuestLimiter;
use crate::limits::Limits;
use crate::manifest::PublicRoute;
use crate::metrics::{self, METRICS};
use crate::store::{self, DocumentStore, Namespace, SecretStore, StoreError};
use crate::tenants::TenantShare;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "igor-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
});

use igor::plugin::http::{self as wit_http, Credential};
use igor::plugin::log::Level;
use igor::plugin::store::{Entry as WitEntry, StoreError as WitStoreError};
pub use igor::plugin::types::{Context, Request, Response};

/// Everything a plugin's requests share: its compiled code, data, egress
/// client and limits. The namespace comes from the host's configuration.
pub struct Plugin {
    pub name: String,
    pub namespace: Namespace,
    /// The component linked with the host's imports ([`Plugin::link`]).
    pub pre: IgorPluginPre<RequestState>,
    pub documents: Arc<dyn DocumentStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub egress: EgressClient,
    pub config: Vec<(String, String)>,
    /// Routes that need no credentials (granted from its manifest).
    pub public_routes: Vec<PublicRoute>,
    pub limits: Limits,
    /// Allowances shared with the tenant's other plugins.
    pub tenant: Arc<TenantShare>,
}

/// Why a request produced no response from the plugin.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("plugin {plugin} did not answer within its {limit_ms} ms deadline")]
    Deadline { plugin: String, limit_ms: u64 },
    #[error("plugin {plugin} exceeded its memory limit of {limit_bytes} bytes")]
    OutOfMemory { plugin: String, limit_bytes: usize },
    #[error("plugin {plugin} failed: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin} could not be started: {message}")]
    Instantiate { plugin: String, message: String },
}

impl InvokeError {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::Deadline { .. } => "deadline",
            InvokeError::OutOfMemory { .. } => "memory",
            InvokeError::Trap { .. } => "trap",
            InvokeError::Instantiate { .. } => "instantiate",
        }
    }
}

/// Builds the linker every plugin is instantiated with: the igor-plugin
/// imports plus the WASI interfaces Rust's std needs, with nothing granted.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    IgorPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)?;
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    Ok(linker)
}

impl Plugin {
    /// Links `component` (of the plugin `name`) with the host's imports,
    /// ready to be instantiated for each request.
    pub fn link(
        name: &str,
        linker: &Linker<RequestState>,
        component: &wasmtime::component::Component,
    ) -> anyhow::Result<IgorPluginPre<RequestState>> {
        let pre = linker
            .instantiate_pre(component)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("linking plugin {name}"))?;
        IgorPluginPre::new(pre)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("plugin {name} does not export igor:plugin/handler@0.1.0"))
    }

    /// Whether `method path` (below the plugin) needs no credentials.
    pub fn is_public_route(&self, method: &str, path: &str) -> bool {
        self.public_routes.iter().any(|r| r.matches(method, path))
    }

    /// Handles one request in a fresh instance.
    pub async fn handle(self: &Arc<Self>, request: Request) -> Result<Response, InvokeError> {
        let _permit = self.tenant.requests.acquire().await.expect("never closed");
        let started = Instant::now();
        let deadline = Arc::new(Deadline::new(started, &self.limits));
        let stderr = MemoryOutputPipe::new(16 << 10);
        let state = RequestState {
            wasi: WasiCtxBuilder::new().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(self.limits),
            plugin: self.clone(),
            fetches: 0,
            log_lines: 0,
            deadline: deadline.clone(),
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limiter);
        // Yield to tokio every tick; trap once the wall-clock deadline passes.
        let epoch_deadline = deadline.clone();
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= epoch_deadline.effective() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.set_epoch_deadline(1);

        let call = async {
            let instance = match self.pre.instantiate_async(&mut store).await {
                Ok(instance) => instance,
                Err(err) => return Err(CallFailure::Instantiate(err)),
            };
            instance
                .igor_plugin_handler()
                .call_handle_request(&mut store, &request)
                .await
                .map_err(CallFailure::Trap)
        };
        // The epoch catches guests that compute; this catches time spent in
        // host calls.
        let outcome = tokio::select! {
            outcome = call => Some(outcome),
            () = deadline.passed(EPOCH_GRACE) => None,
        };
        let limiter = &store.data().limiter;
        let result = match outcome {
            None => Err(self.deadline_error()),
            Some(Ok(response)) => Ok(response),
            Some(Err(CallFailure::Instantiate(err))) if !limiter.memory_denied => {
                Err(InvokeError::Instantiate {
                    plugin: self.name.clone(),
                    message: format!("{err:#}"),
                })
            }
            Some(Err(CallFailure::Instantiate(trap) | CallFailure::Trap(trap))) => {
                Err(if limiter.memory_denied {
                    InvokeError::OutOfMemory {
                        plugin: self.name.clone(),
                        limit_bytes: self.limits.memory_bytes,
                    }
                } else if Instant::now() >= deadline.base()
                    || matches!(
                        trap.downcast_ref::<wasmtime::Trap>(),
                        Some(wasmtime::Trap::Interrupt)
                    )
                {
                    self.deadline_error()
                } else {
                    InvokeError::Trap {
                        plugin: self.name.clone(),
                        message: trap_message(&trap, &stderr),
                    }
                })
            }
        };
        let labels = metrics::plugin_labels(&self.namespace.tenant, &self.name);
        METRICS
            .latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(response) => METRICS.requests.get_or_create(&metrics::RequestLabels {
                tenant: labels.tenant.clone(),
                plugin: labels.plugin.clone(),
                status: response.status,
            }),
            Err(err) => METRICS.traps.get_or_create(&metrics::TrapLabels {
                tenant: labels.tenant.clone(),
                plugin: labels.plugin.clone(),
                kind: err.kind().to_string(),
            }),
        }
        .inc();
        let path = crate::echo::echo(&request.path);
        match &result {
            Ok(response) => tracing::info!(
                tenant = %self.namespace.tenant, plugin = %self.name, %path,
                status = response.status, elapsed_ms = started.elapsed().as_millis() as u64,
                "request handled"
            ),
            Err(err) => tracing::warn!(
                tenant = %self.namespace.tenant, plugin = %self.name, %path,
                kind = err.kind(), error = %err, "request failed"
            ),
        }
        result
    }

    fn deadline_error(&self) -> InvokeError {
        InvokeError::Deadline {
            plugin: self.name.clone(),
            limit_ms: self.limits.request_timeout_ms,
        }
    }
}

enum CallFailure {
    Instantiate(wasmtime::Error),
    Trap(wasmtime::Error),
}

/// Extra time given to host calls beyond the deadline before giving up.
const EPOCH_GRACE: Duration = Duration::from_millis(500);

/// A readable message for a trap: the guest's panic message if it printed
/// one, else the trap itself.
fn trap_message(trap: &wasmtime::Error, stderr: &MemoryOutputPipe) -> String {
    let printed = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    let reason = match trap.downcast_ref::<wasmtime::Trap>() {
        Some(code) => code.to_string(),
        None => format!("{trap}"),
    };
    if printed.is_empty() {
        reason
    } else {
        let printed: String = printed.chars().take(500).collect();
        format!("{reason} ({printed})")
    }
}

/// Per-request state: a fresh one for every request, dropped with it.
pub struct RequestState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: GuestLimiter,
    plugin: Arc<Plugin>,
    fetches: u32,
    log_lines: u32,
    deadline: Arc<Deadline>,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl From<StoreError> for WitStoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(rev) => WitStoreError::Conflict(rev),
            StoreError::InvalidPath(m) => WitStoreError::InvalidPath(m),
            StoreError::InvalidJson(m) => WitStoreError::InvalidJson(m),
            StoreError::QuotaExceeded(m) => WitStoreError::QuotaExceeded(m),
            StoreError::Unavailable(m) => WitStoreError::Unavailable(m),
        }
    }
}

impl RequestState {
    fn ns(&self) -> &Namespace {
        &self.plugin.namespace
    }

    /// After a change: the tenant's usage (kept by the store with each
    /// write) into the metrics, so that a scrape reads no store.
    async fn count_usage(plugin: Arc<Plugin>) {
        let tenant = &plugin.tenant.id;
        if let Ok(Some(usage)) = plugin.documents.usage(tenant).await {
            metrics::record_store_usage(tenant, usage);
        }
    }
}

impl igor::plugin::types::Host for RequestState {}

impl igor::plugin::store::Host for RequestState {
    async fn store_get(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Option<WitEntry>, WitStoreError>> {
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let result = self.plugin.documents.get(self.ns(), &path).await;
        Ok(result
            .map(|entry| {
                entry.map(|e| WitEntry {
                    json: e.json,
                    revision: e.revision,
                })
            })
            .map_err(Into::into))
    }

    async fn store_put(
        &mut self,
        path: String,
        json: String,
        expected_revision: Option<u64>,
    ) -> wasmtime::Result<Result<u64, WitStoreError>> {
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        // The backend checks the document and the tenant's quota in the
        // write's own transaction.
        let result = self
            .plugin
            .documents
            .put_within(
                self.ns(),
                &path,
                &json,
                expected_revision,
                &self.plugin.tenant.quota,
            )
            .await;
        self.deadline.store_write_ended();
        match &result {
            Ok(_) => Self::count_usage(self.plugin.clone()).await,
            Err(err) => tracing::warn!(
                tenant = %self.plugin.namespace.tenant, plugin = %self.plugin.name, %path,
                error = %err, "store write refused"
            ),
        }
        Ok(result.map_err(Into::into))
    }

    async fn store_delete(
        &mut self,
        path: String,
        expected_revision: Option<u64>,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let result = self
            .plugin
            .documents
            .delete(self.ns(), &path, expected_revision)
            .await;
        self.deadline.store_write_ended();
        if let Ok(true) = result {
            Self::count_usage(self.plugin.clone()).await;
        }
        Ok(result.map_err(Into::into))
    }
}

impl igor::plugin::secrets::Host for RequestState {
    async fn secret_set(
        &mut self,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), WitStoreError>> {
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        if value.len() > 4096 {
            return Ok(Err(WitStoreError::QuotaExceeded(
                "secrets are limited to 4096 bytes".into(),
            )));
        }
        let result = self.plugin.secrets.set(self.ns(), &name, &value).await;
        Ok(result.map_err(Into::into))
    }

    async fn secret_delete(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        Ok(self
            .plugin
            .secrets
            .delete(self.ns(), &name)
            .await
            .map_err(Into::into))
    }

    async fn secret_exists(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        Ok(self
            .plugin
            .secrets
            .get(self.ns(), &name)
            .await
            .map(|v| v.is_some())
            .map_err(Into::into))
    }
}

impl igor::plugin::http::Host for RequestState {
    async fn http_fetch(
        &mut self,
        request: wit_http::FetchRequest,
    ) -> wasmtime::Result<Result<wit_http::FetchResponse, wit_http::FetchError>> {
        let plugin = self.plugin.clone();
        let (tenant, name) = (&plugin.namespace.tenant, &plugin.name);
        self.fetches += 1;
        if self.fetches > plugin.limits.max_fetches_per_request {
            tracing::warn!(%tenant, plugin = %name, "fetch limit reached");
            return Ok(Err(wit_http::FetchError::LimitExceeded(format!(
                "a request may make at most {} fetches",
                plugin.limits.max_fetches_per_request
            ))));
        }
        let fetch = FetchRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        };
        // Policy first: a secret is only looked up for a permitted URL.
        let url = match plugin.egress.check(&fetch) {
            Ok(url) => url,
            Err(err) => {
                count_denial(&plugin);
                tracing::warn!(%tenant, plugin = %name, url = %redact(&fetch.url), error = %err, "egress refused");
                return Ok(Err(to_wit_fetch_error(err)));
            }
        };
        let secret = match request.credential {
            None => None,
            Some(credential) => {
                if !plugin.egress.policy().may_receive_secret(&url) {
                    count_denial(&plugin);
                    tracing::warn!(%tenant, plugin = %name, url = %redact(&fetch.url), "secret refused for this URL");
                    return Ok(Err(wit_http::FetchError::Denied(format!(
                        "{} may not receive secrets",
                        redact(&fetch.url)
                    ))));
                }
                let secret_name = match &credential {
                    Credential::Basic(b) => b.secret.clone(),
                    Credential::FormField(f) => f.secret.clone(),
                };
                let value = match plugin.secrets.get(&plugin.namespace, &secret_name).await {
                    Ok(Some(value)) => value,
                    Ok(None) => {
                        return Ok(Err(wit_http::FetchError::SecretMissing(
                            missing_secret_text(&plugin, &secret_name),
                        )));
                    }
                    Err(err) => {
                        return Ok(Err(wit_http::FetchError::Connection(format!(
                            "secret store: {err}"
                        ))));
                    }
                };
                Some(match credential {
                    Credential::Basic(b) => SecretUse::Basic {
                        user: b.user,
                        password: value,
                    },
                    Credential::FormField(f) => SecretUse::FormField {
                        field: f.field,
                        value,
                    },
                })
            }
        };
        // A fetch carrying a secret goes to a token or revoke endpoint:
        // once it started, its answer is kept (see `deadline`).
        let protected = secret.is_some();
        if protected && !self.deadline.credential_fetch_starts(Instant::now()) {
            return Ok(Err(wit_http::FetchError::Timeout));
        }
        let started = Instant::now();
        let result = plugin.egress.fetch(fetch, secret).await;
        if protected {
            let answered_2xx = matches!(&result, Ok(r) if (200..300).contains(&r.status));
            self.deadline
                .credential_fetch_ended(Instant::now(), answered_2xx);
        }
        if matches!(result, Err(FetchError::Denied(_))) {
            count_denial(&plugin);
        }
        match &result {
            Ok(response) => tracing::debug!(
                %tenant, plugin = %name, url = %redact(url.as_str()), status = response.status,
                elapsed_ms = started.elapsed().as_millis() as u64, "fetch"
            ),
            Err(err) => tracing::warn!(
                %tenant, plugin = %name, url = %redact(url.as_str()), error = %err, "fetch failed"
            ),
        }
        Ok(result
            .map(|r| wit_http::FetchResponse {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(to_wit_fetch_error))
    }
}

/// What `secret-missing` says: which secret, and where the host looked.
fn missing_secret_text(plugin: &Plugin, name: &str) -> String {
    let (ns, config) = (&plugin.namespace, &plugin.config);
    let location = config
        .iter()
        .find(|(k, _)| k == crate::tenants::SECRET_STORE_KEY);
    let location = location.map(|(_, v)| format!(" ({v})")).unwrap_or_default();
    format!(
        "{name} is not set for plugin {} (tenant {}) in the host's secret store{location}",
        ns.plugin, ns.tenant
    )
}

fn count_denial(plugin: &Plugin) {
    METRICS
        .egress_denials
        .get_or_create(&metrics::plugin_labels(
            &plugin.namespace.tenant,
            &plugin.name,
        ))
        .inc();
}

fn to_wit_fetch_error(err: FetchError) -> wit_http::FetchError {
    match err {
        FetchError::Denied(m) => wit_http::FetchError::Denied(m),
        FetchError::Timeout => wit_http::FetchError::Timeout,
        FetchError::Connection(m) => wit_http::FetchError::Connection(m),
        FetchError::TooLarge(m) => wit_http::FetchError::TooLarge(m),
        FetchError::InvalidRequest(m) => wit_http::FetchError::InvalidRequest(m),
    }
}

/// A URL without its query, which may carry tokens or codes, bounded.
fn redact(url: &str) -> String {
    crate::echo::echo(crate::egress::without_query(url))
}

impl igor::plugin::log::Host for RequestState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let limits = &self.plugin.limits;
        self.log_lines += 1;
        if self.log_lines > limits.max_log_lines {
            if self.log_lines == limits.max_log_lines + 1 {
                tracing::warn!(
                    tenant = %self.plugin.namespace.tenant, plugin = %self.plugin.name,
                    "log limit of {} lines reached; dropping the rest of this request's log",
                    limits.max_log_lines
                );
            }
            return Ok(());
        }
        let mut message = message;
        if message.len() > limits.max_log_line_bytes {
            let mut cut = limits.max_log_line_bytes;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let (tenant, plugin) = (&self.plugin.namespace.tenant, &self.plugin.name);
        match level {
            Level::Trace => tracing::trace!(%tenant, %plugin, "{message}"),
            Level::Debug => tracing::debug!(%tenant, %plugin, "{message}"),
            Level::Info => tracing::info!(%tenant, %plugin, "{message}"),
            Level::Warn => tracing::warn!(%tenant, %plugin, "{message}"),
            Level::Error => tracing::error!(%tenant, %plugin, "{message}"),
        }
        Ok(())
    }
}
