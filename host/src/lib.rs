//! igor-host: a small wasmtime host for Igor plugin components.
//!
//! [`capabilities`] holds one module per `igor:plugin` interface a plugin
//! imports (store, secrets, http, log); [`bindings`] is the contract as
//! generated from `wit/`; [`runtime`] instantiates and calls a plugin.
//! Beneath them: [`store`] (document and secret backends), [`egress`]
//! (outbound HTTP policy and transport), [`engine`], [`limits`] and
//! [`deadline`] (compilation, memory, deadlines). Around them: [`server`]
//! (HTTP), [`scheduler`] (actions), [`tenants`] (isolation and credentials),
//! [`metrics`]; [`app`] wires them together.

pub mod access;
pub mod admin;
pub mod app;
pub mod base_url;
pub mod bindings;
pub mod builtin;
pub mod capabilities;
pub mod components;
pub mod config;
pub mod deadline;
pub mod directory;
pub mod echo;
pub mod egress;
pub mod engine;
pub mod igor_forward;
pub mod lease_scheduler;
pub mod limits;
pub mod manifest;
pub mod manifest_section;
pub mod message;
pub mod metrics;
pub mod peers;
pub mod plugin_target;
pub mod readiness;
pub mod runtime;
pub mod scheduler;
pub mod scheduling;
pub mod server;
pub mod store;
pub mod stores;
pub mod tenants;
pub mod trusted_names;
