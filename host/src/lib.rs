//! igor-host: a small wasmtime host for Igor plugin components.
//!
//! The modules stand in layers; each imports only its own layer and those
//! below (`tests/layers.rs` checks it; `docs/architecture.md` draws it):
//!
//! - [`server`]: HTTP, the admin API, peer connections;
//! - [`scheduling`]: actions and the directory follower, run through the app;
//! - [`app`]: the assembled host and its one dispatch path (plugin targets,
//!   trusted names, Igor forwarding, the base URL, readiness);
//! - [`tenancy`]: tenants, the tenant directory, the host's own stores;
//! - [`wasm`] (engine, bindings, manifest, components, runtime) and
//!   [`capabilities`] (one module per `igor:plugin` interface);
//! - [`egress`]: outbound HTTP policy and transport;
//! - [`config`] (plain data every layer above reads) and [`metrics`];
//! - [`store`]: document and secret backends;
//! - leaves: [`echo`], [`limits`], [`access`], [`message`],
//!   [`manifest_section`], [`builtin_plugin`], [`trusted_names`].
//!
//! The library knows no plugin: a binary that carries one hands it in as a
//! [`builtin_plugin::BuiltinPlugin`] to [`app::App`]. This crate has no
//! binary: the `igor-host` command is its packaging's, with its plugin.

pub mod access;
pub mod app;
pub mod builtin_plugin;
pub mod capabilities;
pub mod config;
pub mod echo;
pub mod egress;
pub mod instance;
pub mod limits;
pub mod manifest_section;
pub mod message;
pub mod metrics;
pub mod scheduling;
pub mod server;
pub mod store;
pub mod tenancy;
pub mod trusted_names;
pub mod wasm;

// The paths tests and benches use from before the layers.
pub use app::readiness;
pub use tenancy::tenants;
pub use wasm::engine;
