//! Plugins as WebAssembly components: the [`engine`] that compiles them
//! (with [`deadline`]s on every call), the contract's generated
//! [`bindings`], each component's [`manifest`], the [`components`] a host
//! has loaded, and the [`runtime`] that instantiates and calls one with
//! the host's capabilities linked in.

pub mod bindings;
pub mod components;
pub mod deadline;
pub mod engine;
pub mod manifest;
pub mod runtime;
