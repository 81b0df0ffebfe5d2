//! igor-host-pure: the host's pure logic over untrusted input, without I/O,
//! in a crate of its own so that the fuzz targets (`fuzz/`) build it
//! without the host: [`egress_policy`] (which destinations and addresses a
//! plugin may reach, which URLs may receive its secrets), [`igor_xml`]
//! (Igor's answers read as documents, documents written as Igor's XML) and
//! [`echo`] (input repeated in a message, bounded). The host re-exports
//! each where it always stood: `igor_host::echo`,
//! `igor_host::egress::policy`, `igor_host::store::igor_xml`.

pub mod echo;
pub mod egress_policy;
pub mod igor_xml;
