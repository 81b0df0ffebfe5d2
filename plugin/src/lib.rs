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
#[cfg(test)]
mod consent_flow_tests;
pub mod dates;
pub mod errors;
#[cfg(test)]
mod flow_tests;
pub mod forms;
#[cfg(test)]
mod google_flow_tests;
pub mod history;
pub mod index;
pub mod json;
pub mod lease;
pub mod oauth;
#[cfg(test)]
mod overview_flow_tests;
pub mod pacing;
pub mod pages;
pub mod paths;
pub mod pending;
#[cfg(test)]
mod pending_flow_tests;
pub mod provider;
pub mod redirect;
#[cfg(test)]
mod refresh_flow_tests;
pub mod router;
pub mod settings;
#[cfg(test)]
mod setup_flow_tests;
pub mod setup_page;
#[cfg(test)]
mod setup_page_flow_tests;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
#[cfg(test)]
mod upstream_flow_tests;
pub mod users;

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
