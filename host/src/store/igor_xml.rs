//! What crosses the wire to and from Igor: see [`igor_host_pure::igor_xml`],
//! where it lives so that the fuzz targets build it without the host.

pub use igor_host_pure::igor_xml::*;
