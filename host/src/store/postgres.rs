//! PostgreSQL as the store: documents, sealed secrets and each tenant's
//! usage in one database that several hosts share.
//!
//! Same contract as the embedded store. Every write or delete is one
//! transaction that first locks the tenant's `tenant_usage` row: the
//! tenant's writers, on any host, take turns, so compare-and-swap and the
//! quota check see the latest committed state and no write scans
//! documents. Revisions come from one sequence and are never reused.
//! The schema is migrated at first use (see [`super::migrations`]).
//!
//! Connections are plain TCP or a Unix socket: use a socket, loopback or a
//! trusted network (`sslmode=require` is refused).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use super::{
    DocumentStore, Durability, Entry, Listing, Namespace, Quota, Sealed, SecretVault, StoreError,
    StoreResult, StoredSecret, Usage, VaultEntry, Write, Written, check_expected, check_write,
    document_bytes, unchanged, validate_path, validate_paths, validate_prefix,
};

/// `[store] backend = "postgres"`.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresConfig {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` or the key=value
    /// form (`host=/run/postgresql dbname=igor`).
    pub url: String,
    /// Most connections this host opens.
    #[serde(default = "default_pool_size")]
    pub pool_size: usize,
    /// How long to wait for a connection (to open one, or for a free one).
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_pool_size() -> usize {
    16
}

fn default_timeout_ms() -> u64 {
    5000
}

impl PostgresConfig {
    fn parsed(&self) -> anyhow::Result<tokio_postgres::Config> {
        let config = tokio_postgres::Config::from_str(&self.url).map_err(|e| {
            anyhow::anyhow!("[store] url is not a PostgreSQL connection string: {e}")
        })?;
        if config.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            anyhow::bail!(
                "[store] url: sslmode=require is not supported; connect over a Unix socket, \
                 loopback or a trusted network"
            );
        }
        Ok(config)
    }

    /// The database and server, for messages (never the password).
    pub fn describe(&self) -> String {
        match self.parsed() {
            Ok(c) => {
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .map(|h| match h {
                        tokio_postgres::config::Host::Tcp(name) => name.clone(),
                        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .collect();
                format!(
                    "{} on {}",
                    c.get_dbname().unwrap_or("(default)"),
                    hosts.join(",")
                )
            }
            Err(_) => "(invalid url)".into(),
        }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.parsed()?;
        if self.pool_size == 0 || self.timeout_ms == 0 {
            anyhow::bail!("[store] pool_size and timeout_ms must be at least 1");
        }
        Ok(())
    }
}

/// Names the server, never the password.
impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("PostgresConfig");
        match self.parsed() {
            Ok(c) => out
                .field("user", &c.get_user())
                .field("hosts", &c.get_hosts())
                .field("ports", &c.get_ports())
                .field("dbname", &c.get_dbname()),
            Err(_) => out.field("url", &"<invalid>"),
        };
        out.field("pool_size", &self.pool_size)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

pub struct PostgresStore {
    pool: Pool,
    migrated: OnceCell<()>,
    /// Where the presence session connects (see [`hold_presence`]).
    presence_config: tokio_postgres::Config,
    presence: std::sync::OnceLock<tokio::task::AbortHandle>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(presence) = self.presence.get() {
            presence.abort();
        }
    }
}

/// Keeps one session open under this host process's tag as its
/// `application_name`, reconnecting after a failure: while the process
/// runs, its session is in `pg_stat_activity`; when it dies, the server
/// ends the session, on whatever machine the process ran. That is how
/// hosts sharing the database tell that a lease's holder has stopped.
async fn hold_presence(mut config: tokio_postgres::Config) {
    config.application_name(crate::instance::tag(crate::instance::this()));
    loop {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((_client, connection)) => {
                if let Err(err) = connection.await {
                    tracing::debug!(%err, "PostgreSQL presence session ended");
                }
            }
            Err(err) => tracing::debug!(%err, "PostgreSQL presence session failed"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A database error as every PostgreSQL user of the host reports it.
pub(crate) fn db(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL: {err}"))
}

impl PostgresStore {
    /// A pool that connects and migrates at first use.
    pub fn new(config: &PostgresConfig) -> anyhow::Result<Self> {
        config.validate()?;
        let mut pg = config.parsed()?;
        let timeout = Duration::from_millis(config.timeout_ms);
        pg.connect_timeout(timeout).application_name("igor-host");
        let presence_config = pg.clone();
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(timeout))
            .create_timeout(Some(timeout))
            .build()?;
        Ok(Self {
            pool,
            migrated: OnceCell::new(),
            presence_config,
            presence: std::sync::OnceLock::new(),
        })
    }

    /// Connects and migrates now, so a host does not start without its store.
    pub async fn connect(config: &PostgresConfig) -> anyhow::Result<Self> {
        let store = Self::new(config)?;
        drop(store.client().await?);
        Ok(store)
    }

    /// A pooled connection to a migrated database.
    pub(crate) async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.migrated
            .get_or_try_init(|| async {
                let mut client = self.pool.get().await.map_err(db)?;
                super::migrations::apply_postgres(&mut client)
                    .await
                    .map_err(|e| db(format!("{e:#}")))
            })
            .await?;
        self.presence.get_or_init(|| {
            tokio::spawn(hold_presence(self.presence_config.clone())).abort_handle()
        });
        self.pool.get().await.map_err(db)
    }
}

/// Locks the tenant's usage row (creating it first), for the rest of `tx`.
async fn lock_usage(tx: &deadpool_postgres::Transaction<'_>, tenant: &str) -> StoreResult<Usage> {
    let select = tx
        .prepare_cached("SELECT documents, bytes FROM tenant_usage WHERE tenant = $1 FOR UPDATE")
        .await
        .map_err(db)?;
    for _ in 0..2 {
        if let Some(row) = tx.query_opt(&select, &[&tenant]).await.map_err(db)? {
            return Ok(Usage {
                documents: row.get::<_, i64>(0) as u64,
                bytes: row.get::<_, i64>(1) as u64,
            });
        }
        tx.execute(
            "INSERT INTO tenant_usage (tenant) VALUES ($1) ON CONFLICT (tenant) DO NOTHING",
            &[&tenant],
        )
        .await
        .map_err(db)?;
    }
    Err(db("the tenant's usage row could not be created"))
}

async fn save_usage(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant: &str,
    usage: Usage,
) -> StoreResult<()> {
    let update = tx
        .prepare_cached("UPDATE tenant_usage SET documents = $2, bytes = $3 WHERE tenant = $1")
        .await
        .map_err(db)?;
    tx.execute(
        &update,
        &[&tenant, &(usage.documents as i64), &(usage.bytes as i64)],
    )
    .await
    .map(drop)
    .map_err(db)
}

/// The revision and size of the document at `path`, if any.
async fn current(
    tx: &deadpool_postgres::Transaction<'_>,
    ns: &Namespace,
    path: &str,
) -> StoreResult<Option<(u64, u64)>> {
    let select = tx
        .prepare_cached(
            "SELECT revision, octet_length(json)::BIGINT FROM documents
             WHERE tenant = $1 AND plugin = $2 AND path = $3",
        )
        .await
        .map_err(db)?;
    let row = tx
        .query_opt(&select, &[&ns.tenant, &ns.plugin, &path])
        .await
        .map_err(db)?;
    Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64)))
}

#[async_trait]
impl DocumentStore for PostgresStore {
    async fn instance_alive(&self, instance: &str) -> Option<bool> {
        let client = self.client().await.ok()?;
        let select = "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = $1)";
        let tag = crate::instance::tag(instance);
        let row = client.query_one(select, &[&tag]).await.ok()?;
        Some(row.get(0))
    }

    async fn get(&self, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>> {
        validate_path(path)?;
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT json, revision FROM documents WHERE tenant = $1 AND plugin = $2 AND path = $3",
            )
            .await
            .map_err(db)?;
        let row = client
            .query_opt(&select, &[&ns.tenant, &ns.plugin, &path])
            .await
            .map_err(db)?;
        Ok(row.map(|r| Entry {
            json: r.get(0),
            revision: r.get::<_, i64>(1) as u64,
        }))
    }

    async fn list(&self, ns: &Namespace, listing: Listing<'_>) -> StoreResult<Vec<String>> {
        let (prefix, after, limit) = (listing.prefix, listing.after, listing.limit);
        validate_prefix(prefix)?;
        let client = self.client().await?;
        // COLLATE "C": byte order, whatever the database's collation.
        let select = client
            .prepare_cached(
                "SELECT path FROM documents
                 WHERE tenant = $1 AND plugin = $2 AND path COLLATE \"C\" > $4
                   AND ($3 = '' OR path = $3 OR starts_with(path, $3 || '/'))
                 ORDER BY path COLLATE \"C\" LIMIT $5",
            )
            .await
            .map_err(db)?;
        let after = after.unwrap_or("");
        let rows = client
            .query(
                &select,
                &[&ns.tenant, &ns.plugin, &prefix, &after, &(limit as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// One write transaction. A refetchable write commits without waiting
    /// for the server's flush (`synchronous_commit = off` for this
    /// transaction only); a crash of the server may lose it, never half.
    async fn write(&self, ns: &Namespace, write: Write<'_>, quota: &Quota) -> StoreResult<Written> {
        let (path, json, expected) = (write.path, write.json, write.expected);
        check_write(path, json, quota)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        if write.durability == Durability::Refetchable {
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .map_err(db)?;
        }
        let usage = lock_usage(&tx, &ns.tenant).await?;
        if write.skip_unchanged {
            let select = tx
                .prepare_cached(
                    "SELECT json, revision FROM documents
                     WHERE tenant = $1 AND plugin = $2 AND path = $3",
                )
                .await
                .map_err(db)?;
            let old = tx
                .query_opt(&select, &[&ns.tenant, &ns.plugin, &path])
                .await
                .map_err(db)?
                .map(|r| Entry {
                    json: r.get(0),
                    revision: r.get::<_, i64>(1) as u64,
                });
            if let Some(same) = unchanged(old.as_ref(), json, expected) {
                // Nothing written: the transaction ends without a commit.
                return Ok(same);
            }
        }
        let old = current(&tx, ns, path).await?;
        check_expected(old.map_or(0, |(rev, _)| rev), expected)?;
        let old_bytes = old.map(|(_, len)| path.len() as u64 + len);
        let usage = quota.admit(usage, old_bytes, document_bytes(path, json))?;
        let upsert = tx
            .prepare_cached(
                "INSERT INTO documents (tenant, plugin, path, json, revision)
                 VALUES ($1, $2, $3, $4, nextval('document_revisions'))
                 ON CONFLICT (tenant, plugin, path)
                 DO UPDATE SET json = excluded.json, revision = excluded.revision
                 RETURNING revision",
            )
            .await
            .map_err(db)?;
        let revision: i64 = tx
            .query_one(&upsert, &[&ns.tenant, &ns.plugin, &path, &json])
            .await
            .map_err(db)?
            .get(0);
        save_usage(&tx, &ns.tenant, usage).await?;
        tx.commit().await.map_err(db)?;
        Ok(Written {
            revision: revision as u64,
            changed: true,
        })
    }

    async fn get_many(&self, ns: &Namespace, paths: &[String]) -> StoreResult<Vec<Option<Entry>>> {
        validate_paths(paths)?;
        let client = self.client().await?;
        let select = client
            .prepare_cached(
                "SELECT path, json, revision FROM documents
                 WHERE tenant = $1 AND plugin = $2 AND path = ANY($3)",
            )
            .await
            .map_err(db)?;
        let rows = client
            .query(&select, &[&ns.tenant, &ns.plugin, &paths])
            .await
            .map_err(db)?;
        let found: std::collections::HashMap<String, Entry> = rows
            .iter()
            .map(|r| {
                let entry = Entry {
                    json: r.get(1),
                    revision: r.get::<_, i64>(2) as u64,
                };
                (r.get(0), entry)
            })
            .collect();
        Ok(paths.iter().map(|path| found.get(path).cloned()).collect())
    }

    async fn delete(&self, ns: &Namespace, path: &str, expected: Option<u64>) -> StoreResult<bool> {
        validate_path(path)?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let usage = lock_usage(&tx, &ns.tenant).await?;
        let old = current(&tx, ns, path).await?;
        check_expected(old.map_or(0, |(rev, _)| rev), expected)?;
        let Some((_, len)) = old else {
            return Ok(false);
        };
        tx.execute(
            "DELETE FROM documents WHERE tenant = $1 AND plugin = $2 AND path = $3",
            &[&ns.tenant, &ns.plugin, &path],
        )
        .await
        .map_err(db)?;
        save_usage(&tx, &ns.tenant, usage.without(path.len() as u64 + len)).await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn usage(&self, tenant: &str) -> StoreResult<Option<Usage>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT documents, bytes FROM tenant_usage WHERE tenant = $1",
                &[&tenant],
            )
            .await
            .map_err(db)?;
        Ok(Some(row.map_or_else(Usage::default, |r| Usage {
            documents: r.get::<_, i64>(0) as u64,
            bytes: r.get::<_, i64>(1) as u64,
        })))
    }
}

#[async_trait]
impl SecretVault for PostgresStore {
    async fn put_secret(&self, ns: &Namespace, name: &str, value: Sealed<'_>) -> StoreResult<()> {
        let Sealed { key_id, bytes } = value;
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO secrets (tenant, plugin, name, key_id, sealed) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant, plugin, name)
                 DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed",
                &[&ns.tenant, &ns.plugin, &name, &key_id, &bytes],
            )
            .await
            .map(drop)
            .map_err(db)
    }

    async fn get_secret(&self, ns: &Namespace, name: &str) -> StoreResult<Option<StoredSecret>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT key_id, sealed FROM secrets WHERE tenant = $1 AND plugin = $2 AND name = $3",
                &[&ns.tenant, &ns.plugin, &name],
            )
            .await
            .map_err(db)?;
        Ok(row.map(|r| StoredSecret::Sealed {
            key_id: r.get(0),
            bytes: r.get(1),
        }))
    }

    async fn delete_secret(&self, ns: &Namespace, name: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        client
            .execute(
                "DELETE FROM secrets WHERE tenant = $1 AND plugin = $2 AND name = $3",
                &[&ns.tenant, &ns.plugin, &name],
            )
            .await
            .map(|n| n > 0)
            .map_err(db)
    }

    async fn needing_seal(
        &self,
        key_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<VaultEntry>> {
        // Nothing in PostgreSQL was ever stored in plaintext.
        let Some(key_id) = key_id else {
            return Ok(Vec::new());
        };
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT tenant, plugin, name, key_id, sealed FROM secrets WHERE key_id <> $1
                 ORDER BY tenant, plugin, name LIMIT $2",
                &[&key_id, &(limit as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|r| VaultEntry {
                ns: Namespace::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                name: r.get(2),
                secret: StoredSecret::Sealed {
                    key_id: r.get(3),
                    bytes: r.get(4),
                },
            })
            .collect())
    }

    async fn replace_secret(&self, entry: &VaultEntry, value: Sealed<'_>) -> StoreResult<bool> {
        let Sealed { key_id, bytes } = value;
        let StoredSecret::Sealed {
            key_id: old_key,
            bytes: old_bytes,
        } = &entry.secret
        else {
            return Ok(false);
        };
        let client = self.client().await?;
        client
            .execute(
                "UPDATE secrets SET key_id = $4, sealed = $5
                 WHERE tenant = $1 AND plugin = $2 AND name = $3 AND key_id = $6 AND sealed = $7",
                &[
                    &entry.ns.tenant,
                    &entry.ns.plugin,
                    &entry.name,
                    &key_id,
                    &bytes,
                    old_key,
                    old_bytes,
                ],
            )
            .await
            .map(|n| n > 0)
            .map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked_and_never_shows_the_password() {
        let config: PostgresConfig =
            toml::from_str("url = \"postgres://igor:hunter2@db.lan:5433/igor\"").unwrap();
        config.validate().unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("db.lan") && shown.contains("pool_size: 16"),
            "{shown}"
        );
        let keyvalue: PostgresConfig =
            toml::from_str("url = \"host=/run/postgresql dbname=igor password=hunter2\"").unwrap();
        keyvalue.validate().unwrap();
        assert!(!format!("{keyvalue:?}").contains("hunter2"));
        for bad in [
            "url = \"postgres://x/y?sslmode=require\"",
            "url = \"postgres://x:notaport/y\"",
            "url = \"postgres://x/y\"\npool_size = 0",
        ] {
            let config: PostgresConfig = toml::from_str(bad).unwrap();
            let err = config.validate().unwrap_err().to_string();
            assert!(!err.contains("notaport"), "{err}");
        }
        assert!(toml::from_str::<PostgresConfig>("url = \"x\"\nnope = 1").is_err());
    }
}
