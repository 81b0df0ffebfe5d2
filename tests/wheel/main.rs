//! The wheel of "Use with Igor", built by `scripts/wheel` and used as an
//! Igor owner would (`igor_wheel`). A test binary of its own, which cargo
//! runs after `e2e`: building the wheel builds the `igor-host` binary
//! again (without the tests' dev-dependency features) in the same place,
//! which would pull it from under end-to-end tests running beside it.

// Shared with `e2e`; this binary uses part of each.
#[allow(dead_code)]
#[path = "../e2e/browser/chromium.rs"]
mod chromium;
#[path = "../e2e/common/mod.rs"]
mod common;
mod igor_wheel;
