//! Tenants: each one's plugins, stores, credentials and allowances, built
//! from the configuration ([`tenants`]) or the database's tenant
//! [`directory`]; and the host's own [`stores`], opened from the
//! configuration.

pub mod directory;
pub mod stores;
pub mod tenants;
