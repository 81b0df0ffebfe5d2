//! The Igor fitbit plugin as a WASI component.
//!
//! It answers Igor's `/plugin/fitbit/...` calls exactly where the original
//! Python plugin did, for two providers: the legacy Fitbit Web API (shut
//! down on 2026-11-02) and the Google Health API v4. It reaches the world
//! only through the `igor:plugin` imports, wrapped by [`host`].

pub mod access;
pub mod api;
pub mod authorize;
pub mod chart;
#[cfg(test)]
mod consent_flow_tests;
pub mod dates;
pub mod errors;
#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod google_flow_tests;
pub mod history;
pub mod host;
pub mod index;
pub mod json;
pub mod lease;
pub mod oauth;
#[cfg(test)]
mod overview_flow_tests;
pub mod pages;
pub mod paths;
pub mod provider;
pub mod redirect;
#[cfg(test)]
mod refresh_flow_tests;
pub mod router;
pub mod settings;
#[cfg(test)]
mod setup_flow_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod upstream_flow_tests;
pub mod users;

#[cfg(target_arch = "wasm32")]
mod component {
    wit_bindgen::generate!({
        path: "../wit",
        world: "igor-plugin",
    });

    use exports::igor::plugin::handler::Guest;
    use igor::plugin::types::{Request, Response};

    struct FitbitPlugin;

    impl Guest for FitbitPlugin {
        fn handle_request(request: Request) -> Response {
            let request = crate::api::Request {
                method: request.method,
                path: request.path,
                query: request.query,
                headers: request.headers,
                body: request.body,
                context: crate::api::Context {
                    plugin_name: request.context.plugin_name,
                    base_url: request.context.base_url,
                    caller: request.context.caller,
                    utc_offset_seconds: request.context.utc_offset_seconds,
                    config: request.context.config,
                },
            };
            let response = crate::router::handle(&crate::host::wasm::WasmHost, &request);
            Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }
        }
    }

    export!(FitbitPlugin);

    pub(crate) use igor::plugin::{http, log, secrets, store};
}
