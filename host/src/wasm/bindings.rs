//! The host side of the `igor:plugin` contract, generated from `wit/`.
//!
//! The host binds the newest world, `igor:plugin/igor-plugin@0.3.0`, which
//! includes 0.2.0 and 0.1.0 whole: so a component built against any version links
//! (see `wit/README.md`). One `bindgen!` gives the import traits each
//! capability module implements (`store::Host` and so on, all async) and
//! the typed export the runtime calls (`igor_plugin0_1_0_handler`: the
//! handler of 0.1.0, which every version keeps).

wasmtime::component::bindgen!({
    path: ["../wit/0.1.0", "../wit/0.2.0", "../wit/0.3.0"],
    world: "igor:plugin/igor-plugin@0.3.0",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

pub use igor::plugin0_1_0::types::{Context, Request, Response};
/// The interfaces, by name; each is at the version that introduced it.
pub use igor::plugin0_1_0::{http, log, secrets, store, types};
pub use igor::plugin0_2_0::listing;
pub use igor::plugin0_3_0::{documents, host_info, metrics, secret_check, tasks};
