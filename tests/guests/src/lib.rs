//! Paths of the test guest components, built by `build.rs`:
//! - [`HOSTILE`]: one component whose request path picks an attack
//!   (endless loop, memory bomb, SSRF, secret exfiltration, log flood, ...).
//! - [`SOCKETS`]: a component that imports wasi:sockets and must be refused.
//! - [`WASI_HTTP`]: a component that sends HTTP through wasi:http (with
//!   `wstd`), whose requests the host must police.
//! - [`V0_1_0`]: a plugin built from the released `igor:plugin@0.1.0` WIT,
//!   which the host must keep running.
//! - [`V0_2_0`]: the same of `igor:plugin@0.2.0`, using its `listing`.
//! - [`HELLO`]: the example plugin `examples/hello`.
//! - [`HELLO_WASI_HTTP`]: the second example, `examples/hello-wasi-http`
//!   (wasi:http with `wstd`, and listing the store).

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
