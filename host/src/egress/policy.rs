//! Egress policy: which destinations a plugin may reach, which addresses are
//! never dialled, and which URLs may receive its secrets. Pure logic, in
//! [`igor_host_pure::egress_policy`] so that the fuzz targets build it
//! without the host; here it reads the host's egress configuration.

pub use igor_host_pure::egress_policy::*;

use crate::config::EgressConfig;

impl EgressConfig {
    /// What the policy reads of a plugin's granted egress configuration.
    pub fn rules(&self) -> Rules {
        Rules {
            allow: self.allow.clone(),
            secret_urls: self.secret_urls.clone(),
            allow_loopback: self.allow_loopback,
        }
    }
}
