//! The host side of the `igor:plugin` contract, generated from `wit/`.
//!
//! One `bindgen!` gives the import traits each capability module implements
//! (`igor::plugin::store::Host` and so on, all async) and the typed export
//! the runtime calls (`IgorPlugin::igor_plugin_handler`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "igor-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use igor::plugin::types::{Context, Request, Response};
