//! Running a plugin: instantiate its component in a fresh, limited store,
//! call `handle-request`, and turn traps into [`InvokeError`]s. What the
//! plugin can reach is in [`crate::capabilities`]; the bindings are in
//! [`crate::wasm::bindings`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtxView, WasiHttpView};

use tokio::sync::Semaphore;

use crate::capabilities::{self, Capabilities, CapabilitiesView, PluginCapabilities};
use crate::limits::Limits;
use crate::metrics::{self, METRICS};
use crate::store::Namespace;
use crate::wasm::bindings::IgorPluginPre;
pub use crate::wasm::bindings::{Context, Request, Response};
use crate::wasm::deadline::Deadline;
use crate::wasm::engine::GuestLimiter;
use crate::wasm::manifest::PublicRoute;

/// What a tenant's plugins share: request and connection allowances.
pub struct TenantShare {
    pub id: String,
    pub requests: Semaphore,
    pub connections: Arc<Semaphore>,
}

/// Everything a plugin's requests share: its compiled code, what it may
/// reach, its settings and limits. The namespace comes from the host's
/// configuration.
pub struct Plugin {
    pub name: String,
    pub namespace: Namespace,
    /// The component linked with the host's imports ([`Plugin::link`]),
    /// shared with every other plugin that runs it.
    pub component: Arc<crate::wasm::components::LoadedComponent>,
    /// What it may reach, shared by its requests.
    pub capabilities: PluginCapabilities,
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
/// imports, the WASI interfaces Rust's std needs with nothing granted, and
/// wasi:http's outgoing handler under the plugin's egress policy.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    capabilities::add_to_linker(&mut linker)?;
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    capabilities::wasi_http::add_to_linker(&mut linker)?;
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

    /// Whether the caller's `Authorization` reaches the plugin at `path`.
    pub fn passes_authorization(&self, method: &str, path: &str) -> bool {
        self.public_routes
            .iter()
            .any(|r| r.pass_authorization && r.matches(method, path))
    }

    /// Handles one request in a fresh instance.
    pub async fn handle(self: &Arc<Self>, request: Request) -> Result<Response, InvokeError> {
        // Timing spans (TRACE): see docs/benchmarks.md, "Where a call's time goes".
        let _timing = tracing::trace_span!("plugin.handle");
        let _permit = self.tenant.requests.acquire().await.expect("never closed");
        let _slot = crate::wasm::engine::INSTANCES
            .acquire()
            .await
            .expect("never closed");
        let started = Instant::now();
        let deadline = Arc::new(Deadline::new(started, &self.limits));
        let instantiating = tracing::trace_span!("plugin.instantiate");
        let stderr = MemoryOutputPipe::new(16 << 10);
        let state = RequestState {
            wasi: WasiCtxBuilder::new().stderr(stderr.clone()).build(),
            table: ResourceTable::new(),
            limiter: GuestLimiter::new(self.limits),
            capabilities: self.capabilities.for_request(deadline.clone()),
        };
        let mut store = Store::new(self.component.pre.engine(), state);
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
            let instance = match self.component.pre.instantiate_async(&mut store).await {
                Ok(instance) => instance,
                Err(err) => return Err(CallFailure::Instantiate(err)),
            };
            drop(instantiating);
            let _calling = tracing::trace_span!("plugin.call");
            instance
                .igor_plugin0_1_0_handler()
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
    capabilities: Capabilities,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        self.capabilities.wasi_http.view(&mut self.table)
    }
}

impl CapabilitiesView for RequestState {
    fn capabilities(&mut self) -> &mut Capabilities {
        &mut self.capabilities
    }
}
