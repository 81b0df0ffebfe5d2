//! The configured stores, opened: documents in SQLite, PostgreSQL or Igor;
//! secrets sealed in SQLite or PostgreSQL (with Igor, in the host's own
//! SQLite file, never in Igor). [`backends`] is the one place a
//! [`StoreConfig`] becomes store backends: the host's own here, a tenant's
//! own in `tenants::tenant_documents`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::config::{Config, DEFAULT_TENANT, StoreConfig};
use crate::store::igor::IgorStore;
use crate::store::keys::Keyring;
use crate::store::postgres::PostgresStore;
use crate::store::sealed::SealedSecrets;
use crate::store::sqlite::SqliteStore;
use crate::store::{DocumentStore, SecretStore, SecretVault, owner_only};

/// The host's own stores, opened from a configuration without loading any
/// plugin: the server and the command line share them.
pub struct Stores {
    /// The single-tenant host's documents, and every tenant's by default.
    pub documents: Arc<dyn DocumentStore>,
    pub secrets: Arc<dyn SecretStore>,
    /// The same secrets, for resealing them.
    pub sealed: Arc<SealedSecrets>,
    /// Where `secrets` keeps them, in words for the owner (a file path).
    pub secrets_location: String,
}

/// What a [`StoreConfig`] opens: its documents and, when the backend can
/// keep them (not Igor), the vault for the sealed secrets.
pub struct Backends {
    pub documents: Arc<dyn DocumentStore>,
    pub vault: Option<Arc<dyn SecretVault>>,
    /// A database that connects at its first use, to connect now instead.
    postgres: Option<Arc<PostgresStore>>,
}

/// Where a store configuration's defaults point.
pub struct Defaults<'a> {
    /// Whose documents a store of one tenant (Igor) holds.
    pub tenant: &'a str,
    /// The SQLite file of a `sqlite` store that names no `path`.
    pub sqlite: PathBuf,
    /// The store [`StoreConfig::Default`] means: `None` for the host's own
    /// (the SQLite file above), or a store already open (a tenant's default
    /// is the host's documents).
    pub default: Option<&'a Arc<dyn DocumentStore>>,
}

/// The one place a [`StoreConfig`] becomes store backends, for the host's
/// own stores and for a tenant's. PostgreSQL connects at first use, so
/// building a tenant does not wait; [`Backends::connect`] connects now.
pub fn backends(store: &StoreConfig, defaults: Defaults<'_>) -> anyhow::Result<Backends> {
    let sqlite = |path: &Path| -> anyhow::Result<Backends> {
        let store = Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("opening the store {}", path.display()))?,
        );
        Ok(Backends {
            documents: store.clone(),
            vault: Some(store),
            postgres: None,
        })
    };
    match store {
        StoreConfig::Default => match defaults.default {
            Some(documents) => Ok(Backends {
                documents: documents.clone(),
                vault: None,
                postgres: None,
            }),
            None => sqlite(&defaults.sqlite),
        },
        StoreConfig::Sqlite { path } => sqlite(path.as_deref().unwrap_or(&defaults.sqlite)),
        StoreConfig::Igor(igor) => Ok(Backends {
            documents: Arc::new(
                IgorStore::new(igor, defaults.tenant).context("configuring the Igor store")?,
            ),
            vault: None,
            postgres: None,
        }),
        StoreConfig::Postgres(pg) => {
            let store =
                Arc::new(PostgresStore::new(pg).context("configuring the PostgreSQL store")?);
            Ok(Backends {
                documents: store.clone(),
                vault: Some(store.clone()),
                postgres: Some(store),
            })
        }
    }
}

impl Backends {
    /// Connects (and migrates) a database now, so that a host does not
    /// start without its store.
    pub async fn connect(self) -> anyhow::Result<Self> {
        if let Some(pg) = &self.postgres {
            drop(pg.client().await.context("opening the PostgreSQL store")?);
        }
        Ok(self)
    }
}

/// The host's own backends: its documents, and the vault of its secrets
/// (with Igor, the host's own SQLite file, never Igor).
async fn open_backends(
    config: &Config,
) -> anyhow::Result<(Arc<dyn DocumentStore>, Arc<dyn SecretVault>)> {
    owner_only::create_dir(&config.data_dir)?;
    let defaults = || Defaults {
        tenant: DEFAULT_TENANT,
        sqlite: config.store_path(),
        default: None,
    };
    let opened = backends(&config.store, defaults())?.connect().await?;
    let vault = match opened.vault {
        Some(vault) => vault,
        None => backends(&StoreConfig::Default, defaults())?
            .vault
            .context("the SQLite store keeps secrets")?,
    };
    Ok((opened.documents, vault))
}

impl Stores {
    /// Opens (creating and migrating) the stores of `config`, and seals any
    /// secret still in plaintext.
    pub async fn open(config: &Config) -> anyhow::Result<Stores> {
        let (documents, vault) = open_backends(config).await?;
        let keyring = Keyring::load(&config.secrets, &config.data_dir, is_shared(config))?;
        let sealed = Arc::new(SealedSecrets::new(Arc::new(keyring), vault));
        let resealed = sealed
            .reseal(false)
            .await
            .context("sealing the secrets stored in plaintext")?;
        if resealed.count > 0 {
            tracing::info!(
                count = resealed.count,
                key = %resealed.key_id,
                "sealed secrets stored in plaintext by an earlier version"
            );
        }
        Ok(Stores {
            documents,
            secrets: sealed.clone(),
            sealed,
            secrets_location: secrets_location(config),
        })
    }
}

fn secrets_location(config: &Config) -> String {
    match &config.store {
        StoreConfig::Postgres(pg) => format!("the PostgreSQL store {}", pg.describe()),
        _ => config.store_path().display().to_string(),
    }
}

/// Whether several hosts may share the store (and so must share keys).
fn is_shared(config: &Config) -> bool {
    matches!(config.store, StoreConfig::Postgres(_))
}

/// `igor-host secrets rotate-key`: seals every secret with a new key.
///
/// On one machine with a key file, the new key is generated and written
/// first in the file, every secret is resealed with it, and the old keys
/// are removed from the file unless `keep_old`. Otherwise (keys from an
/// environment variable, or a store shared by several hosts, which must all
/// have the new key before it is used) the operator puts the new key first
/// on every host, and this reseals every secret with it. Returns a report.
pub async fn rotate_key(config: &Config, keep_old: bool) -> anyhow::Result<String> {
    let stores = Stores::open(config).await?;
    let keyring = stores.sealed.keyring().clone();
    let generate = keyring.file().is_some() && !is_shared(config);
    if generate {
        keyring.add_current_key()?;
    }
    let resealed = stores.sealed.reseal(true).await?;
    let mut report = format!(
        "{} secret(s) sealed with key {}",
        resealed.count, resealed.key_id
    );
    let others: Vec<String> = keyring
        .ids()
        .into_iter()
        .filter(|id| *id != resealed.key_id)
        .collect();
    match keyring.file() {
        Some(file) if generate && !keep_old => {
            // Catches a secret a running host sealed with the old key just
            // before it noticed the new file.
            stores.sealed.reseal(true).await?;
            let dropped = keyring.drop_old_keys()?;
            report.push_str(&format!(
                "; removed the old key(s) {} from {} (backups made before now need them)",
                dropped.join(", "),
                file.display()
            ));
        }
        _ if others.is_empty() => {}
        _ => report.push_str(&format!(
            "; no secret needs the key(s) {} any more: remove them from every host's keys",
            others.join(", ")
        )),
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_default_is_the_hosts_documents_and_sqlite_a_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let host: Arc<dyn DocumentStore> =
            Arc::new(SqliteStore::open(&dir.path().join("host.sqlite")).unwrap());
        let own = dir.path().join("tenants/t.sqlite");
        let defaults = || Defaults {
            tenant: "t",
            sqlite: own.clone(),
            default: Some(&host),
        };
        let shared = backends(&StoreConfig::Default, defaults()).unwrap();
        assert!(Arc::ptr_eq(&shared.documents, &host));
        assert!(shared.vault.is_none(), "the host's vault is not lent out");
        let sqlite = backends(&StoreConfig::Sqlite { path: None }, defaults()).unwrap();
        assert!(sqlite.vault.is_some());
        assert!(own.exists(), "{} was not opened", own.display());
        let named = dir.path().join("named.sqlite");
        backends(
            &StoreConfig::Sqlite {
                path: Some(named.clone()),
            },
            defaults(),
        )
        .unwrap();
        assert!(named.exists());
    }
}
