//! Faithful fakes of the two upstream clouds the fitbit plugin talks to, for
//! end-to-end tests: the legacy Fitbit Web API + Fitbit OAuth
//! ([`fake_fitbit::FakeFitbit`]) and the Google Health API v4 + Google OAuth
//! ([`fake_google::FakeGoogle`]). Wire formats follow
//! `shared/reference/fitbit-apis.md`; every behaviour the public documentation
//! leaves open is decided in the module docs and marked *fake decision*.
//! Either fake can also be made to fail like a cloud or a network does
//! ([`faults`]: late answers, hangs, resets, 5xx, 429, wrong shapes, huge
//! bodies, slow drips). [`postgres`] runs a private PostgreSQL cluster for
//! tests of the shared store, [`real_igor`] a real Igor from the workspace's
//! venv.

// Handlers return `Result<_, Response>` where the error is the finished HTTP
// answer; boxing it would only add noise to a test-support crate.
#![allow(clippy::result_large_err)]

mod consent;
mod control;
pub mod fake_fitbit;
pub mod fake_google;
pub mod faults;
pub mod postgres;
pub mod real_igor;
mod util;

pub use consent::{consent, consent_with, html_unescape};
pub use fake_fitbit::FakeFitbit;
pub use fake_google::FakeGoogle;
pub use faults::Fault;
pub use util::{RecordedRequest, free_port, text_of};
