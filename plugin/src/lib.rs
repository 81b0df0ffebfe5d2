//! The Igor fitbit plugin as a WASI component.
//!
//! It answers Igor's `/plugin/fitbit/...` calls exactly where the original
//! Python plugin did, for two providers: the legacy Fitbit Web API (shut
//! down on 2026-11-02) and the Google Health API v4. It reaches the world
//! only through the host's `igor:plugin` imports, as the guest SDK
//! (`igor-plugin-sdk`) wraps them.

pub mod access;
pub mod authorize;
pub mod chart;
pub mod dates;
pub mod digest;
pub mod errors;
pub mod forms;
pub mod history;
pub mod html;
pub mod index;
pub mod json;
pub mod lease;
pub mod oauth;
pub mod pacing;
pub mod pages;
pub mod paths;
pub mod pending;
pub mod provider;
pub mod redirect;
pub mod router;
pub mod settings;
pub mod setup_page;
pub mod snapshot;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod tests;
pub mod token_endpoint;
pub mod users;
pub mod webhook;

/// The plugin as the component's `igor:plugin/handler`.
pub struct FitbitPlugin;

impl igor_plugin_sdk::Plugin for FitbitPlugin {
    fn handle(
        host: &dyn igor_plugin_sdk::Host,
        request: &igor_plugin_sdk::Request,
    ) -> igor_plugin_sdk::Response {
        router::handle(host, request)
    }
}

igor_plugin_sdk::export_plugin!(FitbitPlugin);
