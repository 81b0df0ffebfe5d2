//! What a plugin can reach, one module per `igor:plugin` interface:
//! [`store`] (with `listing` and `documents`), [`secrets`], [`http`],
//! [`log`], [`host_info`], [`tasks`] and [`metrics`]; and [`wasi_http`], the
//! standard `wasi:http/outgoing-handler` sent through [`http`]'s policy.
//!
//! They are composed the way wasmtime's WASI crates compose `WasiCtx` and
//! `WasiHttpCtx`: each module has a small context of its own (`StoreCtx`,
//! `SecretsCtx`, `HttpCtx`, `LogCtx`), a `*View` trait through which a
//! store's data hands it out, and an `add_to_linker` that links its
//! interface to it. [`PluginCapabilities`] is what the host gives one
//! plugin; [`PluginCapabilities::for_request`] makes one request's fresh
//! [`Capabilities`].

pub mod host_info;
pub mod http;
pub mod log;
pub mod metrics;
pub mod secrets;
pub mod store;
pub mod tasks;
pub mod wasi_http;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::egress::EgressClient;
use crate::limits::Limits;
use crate::store::{DocumentStore, Namespace, SecretStore};
use crate::wasm::bindings::types;
use crate::wasm::deadline::Deadline;

/// What the host gives one plugin, shared by all its requests. Every part
/// is scoped by the host's configuration, never by anything the plugin says.
pub struct PluginCapabilities {
    pub namespace: Namespace,
    /// The tenant's documents within the tenant's quota (a
    /// [`crate::store::QuotaStore`]).
    pub documents: Arc<dyn DocumentStore>,
    pub secrets: Arc<dyn SecretStore>,
    /// Where the host keeps secrets, in words for the owner.
    pub secrets_location: Option<String>,
    pub egress: Arc<EgressClient>,
    pub limits: Limits,
    /// The tenant's task queue.
    pub tasks: Arc<tasks::TaskQueue>,
}

/// One request's contexts, dropped with the request.
pub struct Capabilities {
    pub store: store::StoreCtx,
    pub secrets: secrets::SecretsCtx,
    pub http: http::HttpCtx,
    pub log: log::LogCtx,
    pub host_info: host_info::HostInfoCtx,
    pub tasks: tasks::TasksCtx,
    pub metrics: metrics::MetricsCtx,
    /// `wasi:http` requests, sharing `http`'s allowance.
    pub wasi_http: wasi_http::WasiHttpCapability,
}

impl PluginCapabilities {
    /// Fresh contexts for one request running until `deadline`.
    pub fn for_request(&self, deadline: Arc<Deadline>) -> Capabilities {
        let ns = &self.namespace;
        let limits = &self.limits;
        let http = http::HttpCtx::new(
            self.egress.clone(),
            self.secrets.clone(),
            ns.clone(),
            self.secrets_location.clone(),
            limits.max_fetches_per_request,
            deadline.clone(),
        );
        Capabilities {
            host_info: host_info::HostInfoCtx::new(
                self.secrets_location.clone(),
                deadline.clone(),
                self.documents.clone(),
            ),
            tasks: tasks::TasksCtx::new(self.tasks.clone(), &ns.plugin),
            metrics: metrics::MetricsCtx::new(ns.clone()),
            store: store::StoreCtx::new(self.documents.clone(), ns.clone(), deadline),
            secrets: secrets::SecretsCtx::new(self.secrets.clone(), ns.clone()),
            wasi_http: wasi_http::WasiHttpCapability::new(http.clone(), limits),
            http,
            log: log::LogCtx::new(ns.clone(), limits.max_log_lines, limits.max_log_line_bytes),
        }
    }
}

/// How a store's data hands out its [`Capabilities`]; it then provides
/// every capability's view.
pub trait CapabilitiesView: Send {
    fn capabilities(&mut self) -> &mut Capabilities;
}

impl<T: CapabilitiesView> store::StoreView for T {
    fn store(&mut self) -> &mut store::StoreCtx {
        &mut self.capabilities().store
    }
}

impl<T: CapabilitiesView> secrets::SecretsView for T {
    fn secrets(&mut self) -> &mut secrets::SecretsCtx {
        &mut self.capabilities().secrets
    }
}

impl<T: CapabilitiesView> http::HttpView for T {
    fn http(&mut self) -> &mut http::HttpCtx {
        &mut self.capabilities().http
    }
}

impl<T: CapabilitiesView> log::LogView for T {
    fn log(&mut self) -> &mut log::LogCtx {
        &mut self.capabilities().log
    }
}

impl<T: CapabilitiesView> host_info::HostInfoView for T {
    fn host_info(&mut self) -> &mut host_info::HostInfoCtx {
        &mut self.capabilities().host_info
    }
}

impl<T: CapabilitiesView> metrics::MetricsView for T {
    fn metrics(&mut self) -> &mut metrics::MetricsCtx {
        &mut self.capabilities().metrics
    }
}

impl<T: CapabilitiesView> tasks::TasksView for T {
    fn tasks(&mut self) -> &mut tasks::TasksCtx {
        &mut self.capabilities().tasks
    }
}

/// `igor:plugin/types` holds only types, but a component imports it like
/// any interface, so it is linked too (to nothing).
struct TypesOnly;

impl types::Host for TypesOnly {}

impl HasData for TypesOnly {
    type Data<'a> = TypesOnly;
}

/// Links every `igor:plugin` interface to the store's [`Capabilities`].
pub fn add_to_linker<T: CapabilitiesView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    types::add_to_linker::<T, TypesOnly>(linker, |_| TypesOnly)?;
    store::add_to_linker(linker)?;
    secrets::add_to_linker(linker)?;
    http::add_to_linker(linker)?;
    log::add_to_linker(linker)?;
    host_info::add_to_linker(linker)?;
    metrics::add_to_linker(linker)?;
    tasks::add_to_linker(linker)
}
