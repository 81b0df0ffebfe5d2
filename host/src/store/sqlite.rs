//! The embedded store: one SQLite file holding documents, sealed secrets and
//! each tenant's usage.
//!
//! Every write is one `IMMEDIATE` transaction, so a write happens whole or
//! not at all, and writers in other processes wait their turn (a
//! refetchable write runs on the calling thread when nothing holds the
//! lock, else it waits on the blocking pool). Durable
//! writes commit with `synchronous = FULL` (on disk before they return);
//! refetchable ones with `NORMAL`, which in WAL mode leaves the flush to the
//! next durable commit or checkpoint: a crash of the machine may lose the
//! last of them, never half of one. Revisions come from one counter for the whole
//! file and are never reused, so a path that is deleted and written again
//! cannot satisfy a stale compare-and-swap. The file is created owner-only.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    DocumentStore, Durability, Entry, Listing, Namespace, Quota, Sealed, SecretVault, StoreError,
    StoreResult, StoredSecret, Usage, VaultEntry, Write, Written, check_expected, check_write,
    document_bytes, unchanged, validate_path, validate_paths, validate_prefix,
};

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// Whether the connection's `synchronous` is `NORMAL` (refetchable)
    /// rather than `FULL`; changed only under the connection's lock, so
    /// that a run of writes of one class sets the pragma once.
    normal_sync: Arc<AtomicBool>,
    /// Commits since the last checkpoint (see [`CHECKPOINT_EVERY`]).
    commits: Arc<AtomicU32>,
}

/// The WAL is copied back into the database (a checkpoint, three fsyncs)
/// after this many commits, on the blocking pool. SQLite's own automatic
/// checkpoint is off: it would run inside whichever commit crossed its
/// threshold, and a refetchable commit may run on an async worker.
const CHECKPOINT_EVERY: u32 = 300;

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

/// How long a statement waits for another process's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Switches the file to WAL. While another process initialises the same new
/// file, SQLite can answer "busy" at once, without waiting in the busy
/// handler: retry within the same timeout.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl SqliteStore {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if path != Path::new(":memory:") {
            if let Some(dir) = path.parent() {
                super::owner_only::create_dir(dir)?;
            }
            // The WAL and shared-memory files take the database's mode.
            super::owner_only::prepare_file(path)?;
        }
        let mut conn = Connection::open(path)?;
        // First, so that processes opening a new file at once wait their turn.
        conn.busy_timeout(BUSY_TIMEOUT)?;
        use_wal(&conn)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Overwrite what is deleted or replaced, such as a secret's old value.
        conn.pragma_update(None, "secure_delete", "ON")?;
        super::migrations::apply_sqlite(&mut conn)?;
        // Every statement is compiled once and kept (parsing the SQL again
        // was a measurable share of each call).
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            normal_sync: Arc::new(AtomicBool::new(false)),
            commits: Arc::new(AtomicU32::new(0)),
        })
    }

    /// Runs `f` on the connection off the async threads.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(unavailable)?;
            f(&mut conn)
        })
        .await
        .map_err(unavailable)?
    }

    /// Runs a read `f`: right here when the connection is free (a read of
    /// a few documents takes microseconds, less than handing it to another
    /// thread), else on the blocking pool behind the write that holds it.
    async fn read_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        if let Ok(mut conn) = self.conn.try_lock() {
            return f(&mut conn);
        }
        self.with_conn(f).await
    }

    /// Runs `f` in an `IMMEDIATE` transaction, committed durably if `f`
    /// succeeds.
    async fn transaction<T: Send + 'static>(
        &self,
        f: impl Fn(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.transaction_as(Durability::Durable, f).await
    }

    /// [`Self::transaction`], committed as `durability` asks. A transaction that
    /// writes nothing costs no flush either way. A refetchable one (no
    /// flush) runs right here when the connection is free and no other
    /// process holds the write lock, like a read: cheaper than the hand-off.
    async fn transaction_as<T: Send + 'static>(
        &self,
        durability: Durability,
        f: impl Fn(&rusqlite::Transaction<'_>) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        if durability == Durability::Refetchable
            && let Some(result) = self.try_refetchable_here(&f)
        {
            return result;
        }
        let (normal_sync, commits) = (self.normal_sync.clone(), self.commits.clone());
        self.with_conn(move |conn| {
            let result = commit(conn, &normal_sync, durability, &f);
            if checkpoint_due(&commits) {
                checkpoint(conn);
            }
            result
        })
        .await
    }

    /// Runs a refetchable transaction on this thread, or `None` when that
    /// would wait: the connection is busy here, or another process holds
    /// the database's write lock.
    fn try_refetchable_here<T>(
        &self,
        f: &impl Fn(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> Option<StoreResult<T>> {
        let mut conn = self.conn.try_lock().ok()?;
        if let Err(err) = set_class(&conn, &self.normal_sync, Durability::Refetchable) {
            return Some(Err(err));
        }
        conn.busy_timeout(std::time::Duration::ZERO).ok()?;
        let result = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => Some(run_and_commit(tx, f)),
            Err(_) => None,
        };
        if let Err(err) = conn.busy_timeout(BUSY_TIMEOUT) {
            return Some(Err(unavailable(err)));
        }
        if result.is_some() && checkpoint_due(&self.commits) {
            let conn = self.conn.clone();
            tokio::task::spawn_blocking(move || {
                if let Ok(conn) = conn.lock() {
                    checkpoint(&conn);
                }
            });
        }
        result
    }
}

/// Sets the connection's `synchronous` for a commit of `durability`, unless
/// it is set so already.
fn set_class(
    conn: &Connection,
    normal_sync: &AtomicBool,
    durability: Durability,
) -> StoreResult<()> {
    let normal = durability == Durability::Refetchable;
    if normal_sync.load(Ordering::Relaxed) != normal {
        let synchronous = if normal { "NORMAL" } else { "FULL" };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(unavailable)?;
        normal_sync.store(normal, Ordering::Relaxed);
    }
    Ok(())
}

/// Runs `f` in an `IMMEDIATE` transaction and commits it as `durability`
/// asks.
fn commit<T>(
    conn: &mut Connection,
    normal_sync: &AtomicBool,
    durability: Durability,
    f: &impl Fn(&rusqlite::Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    set_class(conn, normal_sync, durability)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(unavailable)?;
    run_and_commit(tx, f)
}

/// Runs `f` in the begun `tx` and commits it if `f` succeeds (else `tx` is
/// rolled back as it is dropped).
fn run_and_commit<T>(
    tx: rusqlite::Transaction<'_>,
    f: &impl Fn(&rusqlite::Transaction<'_>) -> StoreResult<T>,
) -> StoreResult<T> {
    let result = f(&tx)?;
    tx.commit().map_err(unavailable)?;
    Ok(result)
}

/// Counts a commit; whether the WAL is due for a checkpoint (every
/// [`CHECKPOINT_EVERY`] commits).
fn checkpoint_due(commits: &AtomicU32) -> bool {
    let due = commits.fetch_add(1, Ordering::Relaxed) + 1 >= CHECKPOINT_EVERY;
    if due {
        commits.store(0, Ordering::Relaxed);
    }
    due
}

/// Copies the WAL back into the database without waiting for readers or
/// writers (`PASSIVE`); what it cannot copy now, the next one does.
fn checkpoint(conn: &Connection) {
    if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        tracing::warn!(error = %err, "SQLite checkpoint failed; the next one retries");
    }
}

/// The revision and size of the document at `path`, if any.
fn current(
    tx: &rusqlite::Transaction<'_>,
    ns: &Namespace,
    path: &str,
) -> StoreResult<Option<(u64, u64)>> {
    tx.prepare_cached(
        "SELECT revision, LENGTH(CAST(json AS BLOB)) FROM documents
         WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
    )
    .and_then(|mut statement| {
        statement.query_row(params![ns.tenant, ns.plugin, path], |row| {
            Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
        })
    })
    .optional()
    .map_err(unavailable)
}

/// The document at `path`, if any.
fn read(conn: &Connection, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>> {
    conn.prepare_cached(
        "SELECT json, revision FROM documents
         WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
    )
    .and_then(|mut statement| {
        statement.query_row(params![ns.tenant, ns.plugin, path], |row| {
            Ok(Entry {
                json: row.get(0)?,
                revision: row.get::<_, i64>(1)? as u64,
            })
        })
    })
    .optional()
    .map_err(unavailable)
}

/// Writes `json` at `path` within `tx`, unless `expected` or `quota`
/// refuses; returns the new revision.
fn put_in(
    tx: &rusqlite::Transaction<'_>,
    ns: &Namespace,
    path: &str,
    json: &str,
    expected: Option<u64>,
    quota: &Quota,
) -> StoreResult<u64> {
    let old = current(tx, ns, path)?;
    check_expected(old.map_or(0, |(rev, _)| rev), expected)?;
    let old_bytes = old.map(|(_, len)| path.len() as u64 + len);
    let usage = quota.admit(
        read_usage(tx, &ns.tenant)?,
        old_bytes,
        document_bytes(path, json),
    )?;
    let revision: i64 = tx
        .prepare_cached("UPDATE revision_counter SET last = last + 1 RETURNING last")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(unavailable)?;
    tx.prepare_cached(
        "INSERT INTO documents (tenant, plugin, path, json, revision)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (tenant, plugin, path)
         DO UPDATE SET json = excluded.json, revision = excluded.revision",
    )
    .and_then(|mut statement| {
        statement.execute(params![ns.tenant, ns.plugin, path, json, revision])
    })
    .map_err(unavailable)?;
    write_usage(tx, &ns.tenant, usage)?;
    Ok(revision as u64)
}

fn read_usage(conn: &Connection, tenant: &str) -> StoreResult<Usage> {
    conn.prepare_cached("SELECT documents, bytes FROM tenant_usage WHERE tenant = ?1")
        .and_then(|mut statement| {
            statement.query_row(params![tenant], |row| {
                Ok(Usage {
                    documents: row.get::<_, i64>(0)? as u64,
                    bytes: row.get::<_, i64>(1)? as u64,
                })
            })
        })
        .optional()
        .map(Option::unwrap_or_default)
        .map_err(unavailable)
}

fn write_usage(tx: &rusqlite::Transaction<'_>, tenant: &str, usage: Usage) -> StoreResult<()> {
    tx.prepare_cached(
        "INSERT INTO tenant_usage (tenant, documents, bytes) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant) DO UPDATE SET documents = excluded.documents, bytes = excluded.bytes",
    )
    .and_then(|mut statement| {
        statement.execute(params![tenant, usage.documents as i64, usage.bytes as i64])
    })
    .map(drop)
    .map_err(unavailable)
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn get(&self, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>> {
        validate_path(path)?;
        let (ns, path) = (ns.clone(), path.to_string());
        self.read_conn(move |conn| read(conn, &ns, &path)).await
    }

    async fn list(&self, ns: &Namespace, listing: Listing<'_>) -> StoreResult<Vec<String>> {
        let (prefix, after, limit) = (listing.prefix, listing.after, listing.limit);
        validate_prefix(prefix)?;
        let (ns, prefix) = (ns.clone(), prefix.to_string());
        let after = after.unwrap_or("").to_string();
        self.with_conn(move |conn| {
            // Below `p` is the range [p/, p0): '0' follows '/' in byte order,
            // which is how SQLite compares text.
            let mut select = conn
                .prepare_cached(
                    "SELECT path FROM documents
                     WHERE tenant = ?1 AND plugin = ?2 AND path > ?4
                       AND (?3 = '' OR path = ?3 OR (path >= ?3 || '/' AND path < ?3 || '0'))
                     ORDER BY path LIMIT ?5",
                )
                .map_err(unavailable)?;
            let rows = select
                .query_map(
                    params![ns.tenant, ns.plugin, prefix, after, limit as i64],
                    |row| row.get(0),
                )
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<String>, _>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn write(&self, ns: &Namespace, write: Write<'_>, quota: &Quota) -> StoreResult<Written> {
        check_write(write.path, write.json, quota)?;
        let (ns, quota) = (ns.clone(), *quota);
        let (path, json) = (write.path.to_string(), write.json.to_string());
        let (expected, skip_unchanged) = (write.expected, write.skip_unchanged);
        self.transaction_as(write.durability, move |tx| {
            let stored = if skip_unchanged {
                read(tx, &ns, &path)?
            } else {
                None
            };
            if let Some(same) = unchanged(stored.as_ref(), &json, expected) {
                return Ok(same);
            }
            let revision = put_in(tx, &ns, &path, &json, expected, &quota)?;
            Ok(Written {
                revision,
                changed: true,
            })
        })
        .await
    }

    async fn get_many(&self, ns: &Namespace, paths: &[String]) -> StoreResult<Vec<Option<Entry>>> {
        validate_paths(paths)?;
        let (ns, paths) = (ns.clone(), paths.to_vec());
        self.read_conn(move |conn| paths.iter().map(|path| read(conn, &ns, path)).collect())
            .await
    }

    async fn delete(&self, ns: &Namespace, path: &str, expected: Option<u64>) -> StoreResult<bool> {
        validate_path(path)?;
        let (ns, path) = (ns.clone(), path.to_string());
        self.transaction(move |tx| {
            let old = current(tx, &ns, &path)?;
            check_expected(old.map_or(0, |(rev, _)| rev), expected)?;
            let Some((_, len)) = old else {
                return Ok(false);
            };
            tx.prepare_cached(
                "DELETE FROM documents WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
            )
            .and_then(|mut statement| statement.execute(params![ns.tenant, ns.plugin, path]))
            .map_err(unavailable)?;
            let usage = read_usage(tx, &ns.tenant)?.without(path.len() as u64 + len);
            write_usage(tx, &ns.tenant, usage)?;
            Ok(true)
        })
        .await
    }

    async fn usage(&self, tenant: &str) -> StoreResult<Option<Usage>> {
        let tenant = tenant.to_string();
        self.read_conn(move |conn| read_usage(conn, &tenant).map(Some))
            .await
    }
}

/// A `secrets` row: `value` is a BLOB when sealed (`key_id` set), else the
/// plaintext of a secret written before sealing.
fn stored_secret(row: &rusqlite::Row<'_>, key_col: usize) -> rusqlite::Result<StoredSecret> {
    let key_id: Option<String> = row.get(key_col)?;
    let value = row.get_ref(key_col + 1)?;
    Ok(match (key_id, value) {
        (Some(key_id), ValueRef::Blob(bytes)) => StoredSecret::Sealed {
            key_id,
            bytes: bytes.to_vec(),
        },
        (None, ValueRef::Text(text)) => {
            StoredSecret::Plaintext(String::from_utf8_lossy(text).into_owned())
        }
        (_, other) => {
            return Err(rusqlite::Error::InvalidColumnType(
                key_col + 1,
                "value".into(),
                other.data_type(),
            ));
        }
    })
}

#[async_trait]
impl SecretVault for SqliteStore {
    async fn put_secret(&self, ns: &Namespace, name: &str, value: Sealed<'_>) -> StoreResult<()> {
        let Sealed { key_id, bytes } = value;
        let (ns, name, key_id, bytes) = (
            ns.clone(),
            name.to_string(),
            key_id.to_string(),
            bytes.to_vec(),
        );
        self.with_conn(move |conn| {
            conn.prepare_cached("INSERT INTO secrets (tenant, plugin, name, key_id, value) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, plugin, name)
                 DO UPDATE SET key_id = excluded.key_id, value = excluded.value").and_then(|mut statement| statement.execute(params![ns.tenant, ns.plugin, name, key_id, bytes]))
            .map(drop)
            .map_err(unavailable)
        })
        .await
    }

    async fn get_secret(&self, ns: &Namespace, name: &str) -> StoreResult<Option<StoredSecret>> {
        let (ns, name) = (ns.clone(), name.to_string());
        self.read_conn(move |conn| {
            conn.prepare_cached(
                "SELECT key_id, value FROM secrets WHERE tenant = ?1 AND plugin = ?2 AND name = ?3",
            )
            .and_then(|mut statement| {
                statement.query_row(params![ns.tenant, ns.plugin, name], |row| {
                    stored_secret(row, 0)
                })
            })
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_secret(&self, ns: &Namespace, name: &str) -> StoreResult<bool> {
        let (ns, name) = (ns.clone(), name.to_string());
        self.with_conn(move |conn| {
            conn.prepare_cached(
                "DELETE FROM secrets WHERE tenant = ?1 AND plugin = ?2 AND name = ?3",
            )
            .and_then(|mut statement| statement.execute(params![ns.tenant, ns.plugin, name]))
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }

    async fn needing_seal(
        &self,
        key_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<VaultEntry>> {
        let key_id = key_id.map(str::to_string);
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT tenant, plugin, name, key_id, value FROM secrets
                     WHERE key_id IS NULL OR (?1 IS NOT NULL AND key_id <> ?1)
                     ORDER BY tenant, plugin, name LIMIT ?2",
                )
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![key_id, limit as i64], |row| {
                    Ok(VaultEntry {
                        ns: Namespace::new(row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                        name: row.get(2)?,
                        secret: stored_secret(row, 3)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .await
    }

    async fn replace_secret(&self, entry: &VaultEntry, value: Sealed<'_>) -> StoreResult<bool> {
        let Sealed { key_id, bytes } = value;
        let (entry, key_id, bytes) = (entry.clone(), key_id.to_string(), bytes.to_vec());
        self.with_conn(move |conn| {
            let (old_key, old_value): (Option<&str>, rusqlite::types::Value) = match &entry.secret {
                StoredSecret::Sealed { key_id, bytes } => {
                    (Some(key_id.as_str()), bytes.clone().into())
                }
                StoredSecret::Plaintext(text) => (None, text.clone().into()),
            };
            conn.prepare_cached(
                "UPDATE secrets SET key_id = ?4, value = ?5
                 WHERE tenant = ?1 AND plugin = ?2 AND name = ?3 AND key_id IS ?6 AND value = ?7",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    entry.ns.tenant,
                    entry.ns.plugin,
                    entry.name,
                    key_id,
                    bytes,
                    old_key,
                    old_value
                ])
            })
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::{Key, Keyring};
    use crate::store::sealed::SealedSecrets;
    use crate::store::{DocumentStore, SecretStore};

    /// The schema from before versioned migrations.
    const SCHEMA: &str = include_str!("migrations/sqlite/001_documents_and_secrets.sql");

    /// The schema and data of a store written before versioned migrations.
    fn old_store(path: &Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(SCHEMA).unwrap();
        conn.execute_batch(
            "INSERT INTO documents VALUES ('default', 'weather', 'plugindata/weather', '{\"a\":1}', 1);
             INSERT INTO documents VALUES ('default', 'weather', 'sensors/weather/jack', '{}', 2);
             INSERT INTO documents VALUES ('acme', 'weather', 'x', '12', 3);
             UPDATE revision_counter SET last = 3;
             INSERT INTO secrets VALUES ('default', 'weather', 'client_secret', 'plain-old-secret');",
        )
        .unwrap();
    }

    #[tokio::test]
    async fn upgrades_a_store_from_before_migrations_and_seals_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.sqlite");
        old_store(&path);
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        assert_eq!(
            store.usage("default").await.unwrap(),
            Some(Usage {
                documents: 2,
                bytes: (18 + 7 + 20 + 2) as u64
            })
        );
        assert_eq!(store.usage("acme").await.unwrap().unwrap().documents, 1);
        let ns = Namespace::new("default", "weather");
        assert!(store.put(&ns, "y", "1", None).await.unwrap() > 3);
        let key = Key::generate();
        let sealed = SealedSecrets::new(Arc::new(Keyring::of(vec![key.clone()])), store.clone());
        // Readable before and after sealing.
        assert_eq!(
            sealed.get(&ns, "client_secret").await.unwrap().as_deref(),
            Some("plain-old-secret")
        );
        assert_eq!(sealed.reseal(false).await.unwrap().count, 1);
        assert_eq!(sealed.reseal(false).await.unwrap().count, 0);
        assert!(matches!(
            store.get_secret(&ns, "client_secret").await.unwrap(),
            Some(StoredSecret::Sealed { key_id, .. }) if key_id == key.id
        ));
        assert_eq!(
            sealed.get(&ns, "client_secret").await.unwrap().as_deref(),
            Some("plain-old-secret")
        );
        drop((sealed, store));
        let bytes = std::fs::read(&path).unwrap();
        let needle = b"plain-old-secret";
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the plaintext is overwritten in the file"
        );
        // Opening again applies nothing twice.
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.usage("default").await.unwrap().unwrap().documents, 3);
    }

    #[tokio::test]
    async fn status_stored_under_the_old_host_namespace_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        // A file as an older host left it: status under `_host`.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.prepare_cached("INSERT INTO documents VALUES ('default', '_host', 'status/sensors/weather', '{\"alive\":true}', 7)").and_then(|mut statement| statement.execute([]))
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let host = Namespace::host("default");
        let entry = DocumentStore::get(&store, &host, "status/sensors/weather")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (entry.json.as_str(), entry.revision),
            ("{\"alive\":true}", 7)
        );
        let plugin = Namespace::new("default", "_host");
        assert_eq!(
            DocumentStore::get(&store, &plugin, "status/sensors/weather")
                .await
                .unwrap(),
            None
        );
        // Moved once: a plugin now called `_host` keeps its own data.
        store
            .put(&plugin, "plugindata/_host", "1", None)
            .await
            .unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        assert!(
            DocumentStore::get(&store, &plugin, "plugindata/_host")
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            DocumentStore::get(&store, &host, "plugindata/_host")
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn each_write_commits_as_its_class_asks() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let ns = Namespace::new("t", "p");
        let synchronous = || -> i64 {
            let conn = store.conn.lock().unwrap();
            conn.pragma_query_value(None, "synchronous", |row| row.get(0))
                .unwrap()
        };
        let (normal, full) = (1, 2);
        assert_eq!(synchronous(), full);
        for (durability, expected) in [
            (Durability::Refetchable, normal),
            (Durability::Refetchable, normal),
            (Durability::Durable, full),
            (Durability::Refetchable, normal),
        ] {
            let write = Write {
                path: "k",
                json: &format!("{{\"{expected}\":{}}}", rand::random::<u32>()),
                expected: None,
                durability,
                skip_unchanged: false,
            };
            store.write(&ns, write, &Quota::UNLIMITED).await.unwrap();
            assert_eq!(synchronous(), expected, "{durability:?}");
        }
    }

    /// A refetchable write runs on the calling thread only when nothing
    /// holds the write lock; while another process holds it, the write
    /// waits its turn on the blocking pool and lands whole once it is free.
    #[tokio::test(flavor = "current_thread")]
    async fn a_refetchable_write_waits_for_another_process_and_lands_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let ns = Namespace::new("t", "p");
        let writing = tokio::spawn({
            let (store, ns) = (store.clone(), ns.clone());
            async move {
                let write = Write::unless_unchanged("k", "1", None, Durability::Refetchable);
                store.write(&ns, write, &Quota::UNLIMITED).await
            }
        });
        // The runtime's only thread: the write must not hold it while it
        // waits for the lock, or the lock would never be given up here.
        tokio::task::yield_now().await;
        assert!(!writing.is_finished());
        other.execute_batch("COMMIT").unwrap();
        let written = writing.await.unwrap().unwrap();
        assert!(written.changed);
        assert_eq!(store.get(&ns, "k").await.unwrap().unwrap().json, "1");
    }

    /// SQLite's own checkpoint is off; the store checkpoints every
    /// [`CHECKPOINT_EVERY`] commits, so what is written reaches the
    /// database file and the WAL does not grow without end.
    #[tokio::test]
    async fn the_wal_is_checkpointed_every_so_many_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        let ns = Namespace::new("t", "p");
        let file_size = || std::fs::metadata(&path).unwrap().len();
        let before = file_size();
        for i in 0..CHECKPOINT_EVERY {
            let (key, json) = (
                format!("k{i}"),
                format!("{{\"n\":\"{}\"}}", "x".repeat(2000)),
            );
            let write = Write::unless_unchanged(&key, &json, None, Durability::Refetchable);
            store.write(&ns, write, &Quota::UNLIMITED).await.unwrap();
        }
        // The checkpoint runs on the blocking pool; it holds the connection.
        for _ in 0..500 {
            if file_size() > before {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(
            file_size() > before,
            "no checkpoint after {CHECKPOINT_EVERY} commits"
        );
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let ns = Namespace::new("t", "p");
        let rev = {
            let store = SqliteStore::open(&path).unwrap();
            store.put(&ns, "k", "{\"v\":1}", None).await.unwrap()
        };
        let store = SqliteStore::open(&path).unwrap();
        let entry = DocumentStore::get(&store, &ns, "k").await.unwrap().unwrap();
        assert_eq!(entry.revision, rev);
        assert!(store.put(&ns, "k2", "1", None).await.unwrap() > rev);
    }

    #[test]
    fn files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = data.join("tenants/t.sqlite");
        let _store = SqliteStore::open(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&path), 0o600);
        let wal = data.join("tenants/t.sqlite-wal");
        assert_eq!(mode(&wal), 0o600);
    }

    #[test]
    fn refuses_a_store_from_a_newer_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .prepare_cached("INSERT INTO schema_migrations VALUES (99, 'future', 'x')")
            .and_then(|mut statement| statement.execute([]))
            .unwrap();
        let err = SqliteStore::open(&path).err().unwrap().to_string();
        assert!(err.contains("version 99"), "{err}");
    }
}
