//! Tests of the fakes themselves, so end-to-end tests can trust them.

mod common;
mod faults;
mod fitbit_data;
mod fitbit_oauth;
mod google_account;
mod google_lists;
mod google_oauth;
mod google_redirects;
mod google_rollups;
mod google_webhooks;
