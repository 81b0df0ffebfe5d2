//! Outbound HTTP for plugins: policy (what may be reached) separated from
//! transport (how it is reached).

mod client;
pub mod policy;

pub use client::{EgressClient, FetchError, FetchRequest, FetchResponse, SecretUse, without_query};
pub use policy::EgressPolicy;
