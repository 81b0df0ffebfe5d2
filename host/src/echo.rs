//! Input repeated in a message, bounded: see [`igor_host_pure::echo`],
//! where it lives so that the fuzz targets build it without the host.

pub use igor_host_pure::echo::{ECHO_CHARS, echo};
