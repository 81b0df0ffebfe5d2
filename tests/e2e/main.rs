//! The end-to-end tests, one binary (as wasmtime's `tests/all`): each
//! module starts the real `igor-host` binary against real stores, a real
//! Igor or Chromium where it needs them, and the fake clouds in
//! `tests/support`. `cargo test -p igor-fitbit --test e2e MODULE::` runs one
//! module.

mod common;

mod access;
mod browser;
mod contract;
mod crash;
mod faults;
mod first_run;
mod fitbit_legacy;
mod google_health;
mod google_parity;
mod harness;
mod hello;
mod hostile;
mod igor_fitbit;
mod igor_forwarding;
mod pacing;
mod redaction;
mod scale_out;
mod scheduler;
mod secrets_at_rest;
mod slow_clients;
mod tasks;
mod token_safety;
mod trusted_names;
mod use_with_igor;
mod webhooks;
