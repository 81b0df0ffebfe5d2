//! Egress policy: which destinations a plugin may reach, which addresses are
//! never dialled, and which URLs may receive its secrets. Pure logic, in
//! [`igor_host_pure::egress_policy`] so that the fuzz targets build it
//! without the host; here it reads the host's egress configuration.

pub use igor_host_pure::egress_policy::*;

use crate::config::EgressConfig;

/// The policy reads a plugin's granted egress configuration.
impl EgressRules for EgressConfig {
    fn allow(&self) -> &[String] {
        &self.allow
    }

    fn secret_urls(&self) -> &[String] {
        &self.secret_urls
    }

    fn allow_loopback(&self) -> bool {
        self.allow_loopback
    }
}
