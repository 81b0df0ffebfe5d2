//! Whole flows through the plugin's router against an in-memory host
//! (`crate::testing::MemoryHost`), one part of the product as a user meets
//! it per module. Unit tests of a single module stay beside it.

/// What one call costs the store: writes only what changed, reads once.
mod call_cost;
/// Google's rules: loopback redirects, consent that grows, 7-day access.
mod consent;
/// The Google Health provider, from authorisation to every method.
mod google;
/// The legacy Fitbit provider: authorisation, fetching, refresh, settings.
mod legacy;
/// The setup page as a new owner meets it, every user at a glance.
mod overview;
/// Authorisations in progress: bounds, caller binding, expiry.
mod pending;
/// Token refreshes among concurrent requests, and sync bookkeeping.
mod refresh;
/// The legacy flow's browser-facing parts: authorisation and forms.
mod setup;
/// The setup page from a laptop, with many users, after each form.
mod setup_page;
/// Upstream failures: rate limits, refusals, races, the 410.
mod upstream;
