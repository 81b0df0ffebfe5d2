//! igor-host: a small wasmtime host for Igor plugin components.
//!
//! One module per capability: [`store`] (plugin data), [`egress`] (outbound
//! HTTP policy and transport), [`engine`], [`limits`] and [`deadline`]
//! (compilation, memory, deadlines), [`runtime`] (the igor-plugin world), [`server`]
//! (HTTP), [`scheduler`] (actions), [`tenants`] (isolation and
//! credentials), [`metrics`]; [`app`] wires them together.

pub mod access;
pub mod app;
pub mod config;
pub mod deadline;
pub mod echo;
pub mod egress;
pub mod engine;
pub mod igor_forward;
pub mod limits;
pub mod manifest;
pub mod metrics;
pub mod runtime;
pub mod scheduler;
pub mod server;
pub mod store;
pub mod tenants;
