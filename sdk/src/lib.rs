//! The guest SDK for Igor plugins: write a plugin as a plain Rust type, build
//! it for `wasm32-wasip2`, and `igor-host` runs it.
//!
//! A plugin implements [`Plugin`]: one function that answers a [`Request`]
//! addressed to `/plugin/NAME/...` with a [`Response`], reaching the world only
//! through the [`Host`] it is handed (its data, its secrets, outbound HTTP
//! under the host's egress policy, the log, the clock and randomness).
//! [`export_plugin!`] makes the type the component's `igor:plugin/handler`.
//!
//! ```
//! use igor_plugin_sdk::{Host, Level, Plugin, Request, Response};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn handle(host: &dyn Host, request: &Request) -> Response {
//!         let name = request.query("name").unwrap_or("world");
//!         host.log(Level::Info, &format!("greeting {name}"));
//!         Response::text(200, format!("Hello, {name}!"))
//!     }
//! }
//!
//! igor_plugin_sdk::export_plugin!(Hello);
//! ```
//!
//! Because the logic sees only [`Host`], it also runs natively: with the
//! `testing` feature, [`testing::MemoryHost`] keeps documents and secrets in
//! memory and answers fetches from a closure, so whole flows are tested with
//! `cargo test` and no wasm. `examples/hello` in the repository is a complete
//! plugin with its tests.

pub mod host;
pub mod request;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use host::{
    Credential, Durability, FetchError, FetchRequest, FetchResponse, Host, HostInfo, Level,
    MAX_GET_MANY, StoreFailure, TASK_HEADER, TaskError, Written, is_at_or_below,
};
pub use request::{Context, Request, Response};

/// A plugin: what answers the requests the host routes to it.
pub trait Plugin {
    /// Answers one request. Each request runs in a fresh instance, so
    /// nothing survives in memory from one request to the next: keep state
    /// in the store.
    fn handle(host: &dyn Host, request: &Request) -> Response;
}

/// The generated bindings of the `igor-plugin@0.3.0` world, for what the
/// [`Host`] trait does not cover. Each interface lives under the version
/// that introduced it: `igor::plugin0_1_0::store`, `igor::plugin0_2_0::listing`,
/// `igor::plugin0_3_0::documents`.
#[cfg(target_arch = "wasm32")]
pub mod bindings {
    wit_bindgen::generate!({
        path: ["../wit/0.1.0", "../wit/0.2.0", "../wit/0.3.0"],
        world: "igor:plugin/igor-plugin@0.3.0",
        generate_all,
        pub_export_macro: true,
        export_macro_name: "__export_igor_plugin",
        default_bindings_module: "igor_plugin_sdk::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod component {
    //! The glue behind [`export_plugin!`](crate::export_plugin): the WIT
    //! request in, the plugin's response out.

    use crate::bindings::exports::igor::plugin0_1_0::handler::Guest;
    use crate::bindings::igor::plugin0_1_0::types;

    /// The component's export for plugin `P`.
    pub struct Component<P>(std::marker::PhantomData<P>);

    impl<P: crate::Plugin> Guest for Component<P> {
        fn handle_request(request: types::Request) -> types::Response {
            let context = request.context;
            let request = crate::Request {
                method: request.method,
                path: request.path,
                query: request.query,
                headers: request.headers,
                body: request.body,
                context: crate::Context {
                    plugin_name: context.plugin_name,
                    base_url: context.base_url,
                    caller: context.caller,
                    utc_offset_seconds: context.utc_offset_seconds,
                    config: context.config,
                },
            };
            let response = P::handle(&crate::host::wasm::WasmHost, &request);
            types::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }
        }
    }
}

/// Exports `$plugin`, a type implementing [`Plugin`], as the component's
/// `igor:plugin/handler`. Use it once, in the plugin crate's `lib.rs`
/// (built as a `cdylib`). Outside wasm it exports nothing, so the crate's
/// native tests build as usual.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            type IgorPluginComponent = $crate::component::Component<$plugin>;
            $crate::bindings::__export_igor_plugin!(
                IgorPluginComponent with_types_in $crate::bindings
            );
        };
        // Natively, the plugin is still compiled and type-checked.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn(&dyn $crate::Host, &$crate::Request) -> $crate::Response =
            <$plugin as $crate::Plugin>::handle;
    };
}
