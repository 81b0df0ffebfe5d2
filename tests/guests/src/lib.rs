//! Paths of the test guest components, built by `build.rs`:
//! - [`HOSTILE`]: one component whose request path picks an attack
//!   (endless loop, memory bomb, SSRF, secret exfiltration, log flood, ...).
//! - [`SOCKETS`]: a component that imports wasi:sockets and must be refused.
//! - [`WASI_HTTP`]: a component that imports wasi:http and must be refused.
//! - [`HELLO`]: the example plugin `examples/hello`.

include!(concat!(env!("OUT_DIR"), "/guests.rs"));
