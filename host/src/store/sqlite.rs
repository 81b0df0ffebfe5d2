//! The embedded store: one SQLite file holding documents and secrets.
//!
//! Every write is one `IMMEDIATE` transaction with `synchronous = FULL`, so a
//! write is either wholly on disk or not at all. Revisions come from one
//! counter for the whole file and are never reused, so a path that is deleted
//! and written again cannot satisfy a stale compare-and-swap.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    DocumentStore, Entry, HOST_NAMESPACE, LEGACY_HOST_NAMESPACE, Namespace, SecretStore,
    StoreError, Usage,
};

#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS documents (
        tenant TEXT NOT NULL,
        plugin TEXT NOT NULL,
        path TEXT NOT NULL,
        json TEXT NOT NULL,
        revision INTEGER NOT NULL,
        PRIMARY KEY (tenant, plugin, path)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS secrets (
        tenant TEXT NOT NULL,
        plugin TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (tenant, plugin, name)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS revision_counter (
        only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
        last INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO revision_counter (only_row, last) VALUES (0, 0);
";

/// Brings a file written by an older host up to date, once, in one
/// transaction; `PRAGMA user_version` records how far it is.
///
/// 1. The host's namespace was `_host`, a name plugins may now have: move its
///    documents (action status) to [`HOST_NAMESPACE`].
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version < 1 {
        tx.execute(
            "UPDATE documents SET plugin = ?1 WHERE plugin = ?2",
            params![HOST_NAMESPACE, LEGACY_HOST_NAMESPACE],
        )?;
        tx.pragma_update(None, "user_version", 1)?;
    }
    tx.commit()
}

fn unavailable(err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(err.to_string())
}

impl SqliteStore {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async threads.
    async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().map_err(unavailable)?;
            f(&mut conn)
        })
        .await
        .map_err(unavailable)?
    }
}

fn current_revision(
    tx: &rusqlite::Transaction<'_>,
    ns: &Namespace,
    path: &str,
) -> Result<u64, StoreError> {
    tx.query_row(
        "SELECT revision FROM documents WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
        params![ns.tenant, ns.plugin, path],
        |row| row.get::<_, i64>(0),
    )
    .optional()
    .map(|rev| rev.unwrap_or(0) as u64)
    .map_err(unavailable)
}

fn check_expected(current: u64, expected: Option<u64>) -> Result<(), StoreError> {
    match expected {
        Some(want) if want != current => Err(StoreError::Conflict(current)),
        _ => Ok(()),
    }
}

#[async_trait]
impl DocumentStore for SqliteStore {
    async fn get(&self, ns: &Namespace, path: &str) -> Result<Option<Entry>, StoreError> {
        let (ns, path) = (ns.clone(), path.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT json, revision FROM documents
                 WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
                params![ns.tenant, ns.plugin, path],
                |row| {
                    Ok(Entry {
                        json: row.get(0)?,
                        revision: row.get::<_, i64>(1)? as u64,
                    })
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn put(
        &self,
        ns: &Namespace,
        path: &str,
        json: &str,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let (ns, path, json) = (ns.clone(), path.to_string(), json.to_string());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            check_expected(current_revision(&tx, &ns, &path)?, expected)?;
            let revision: i64 = tx
                .query_row(
                    "UPDATE revision_counter SET last = last + 1 RETURNING last",
                    [],
                    |row| row.get(0),
                )
                .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO documents (tenant, plugin, path, json, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, plugin, path)
                 DO UPDATE SET json = excluded.json, revision = excluded.revision",
                params![ns.tenant, ns.plugin, path, json, revision],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(revision as u64)
        })
        .await
    }

    async fn delete(
        &self,
        ns: &Namespace,
        path: &str,
        expected: Option<u64>,
    ) -> Result<bool, StoreError> {
        let (ns, path) = (ns.clone(), path.to_string());
        self.with_conn(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(unavailable)?;
            check_expected(current_revision(&tx, &ns, &path)?, expected)?;
            let deleted = tx
                .execute(
                    "DELETE FROM documents WHERE tenant = ?1 AND plugin = ?2 AND path = ?3",
                    params![ns.tenant, ns.plugin, path],
                )
                .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn usage(&self, tenant: &str) -> Result<Option<Usage>, StoreError> {
        let tenant = tenant.to_string();
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(path AS BLOB)) + LENGTH(CAST(json AS BLOB))), 0)
                 FROM documents WHERE tenant = ?1",
                params![tenant],
                |row| {
                    Ok(Some(Usage {
                        documents: row.get::<_, i64>(0)? as u64,
                        bytes: row.get::<_, i64>(1)? as u64,
                    }))
                },
            )
            .map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn set(&self, ns: &Namespace, name: &str, value: &str) -> Result<(), StoreError> {
        let (ns, name, value) = (ns.clone(), name.to_string(), value.to_string());
        self.with_conn(move |conn| {
            conn.execute(
                "INSERT INTO secrets (tenant, plugin, name, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, plugin, name) DO UPDATE SET value = excluded.value",
                params![ns.tenant, ns.plugin, name, value],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn get(&self, ns: &Namespace, name: &str) -> Result<Option<String>, StoreError> {
        let (ns, name) = (ns.clone(), name.to_string());
        self.with_conn(move |conn| {
            conn.query_row(
                "SELECT value FROM secrets WHERE tenant = ?1 AND plugin = ?2 AND name = ?3",
                params![ns.tenant, ns.plugin, name],
                |row| row.get(0),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete(&self, ns: &Namespace, name: &str) -> Result<bool, StoreError> {
        let (ns, name) = (ns.clone(), name.to_string());
        self.with_conn(move |conn| {
            conn.execute(
                "DELETE FROM secrets WHERE tenant = ?1 AND plugin = ?2 AND name = ?3",
                params![ns.tenant, ns.plugin, name],
            )
            .map(|n| n > 0)
            .map_err(unavailable)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn compare_and_swap() {
        let (_dir, store) = store();
        let ns = Namespace::new("t", "fitbit");
        assert_eq!(DocumentStore::get(&store, &ns, "a").await.unwrap(), None);
        let r1 = store.put(&ns, "a", "1", Some(0)).await.unwrap();
        assert_eq!(
            store.put(&ns, "a", "2", Some(0)).await,
            Err(StoreError::Conflict(r1))
        );
        let r2 = store.put(&ns, "a", "2", Some(r1)).await.unwrap();
        assert!(r2 > r1);
        assert_eq!(
            store.put(&ns, "a", "3", Some(r1)).await,
            Err(StoreError::Conflict(r2))
        );
        let entry = DocumentStore::get(&store, &ns, "a").await.unwrap().unwrap();
        assert_eq!((entry.json.as_str(), entry.revision), ("2", r2));
        assert_eq!(
            DocumentStore::delete(&store, &ns, "a", Some(r1)).await,
            Err(StoreError::Conflict(r2))
        );
        assert!(
            DocumentStore::delete(&store, &ns, "a", Some(r2))
                .await
                .unwrap()
        );
        // A re-created path never gets an old revision back.
        let r3 = store.put(&ns, "a", "4", None).await.unwrap();
        assert!(r3 > r2);
    }

    #[tokio::test]
    async fn namespaces_are_separate() {
        let (_dir, store) = store();
        let a = Namespace::new("t1", "fitbit");
        let b = Namespace::new("t2", "fitbit");
        store.put(&a, "x", "\"a\"", None).await.unwrap();
        assert_eq!(DocumentStore::get(&store, &b, "x").await.unwrap(), None);
        SecretStore::set(&store, &a, "client_secret", "s")
            .await
            .unwrap();
        assert_eq!(
            SecretStore::get(&store, &b, "client_secret").await.unwrap(),
            None
        );
        assert_eq!(
            SecretStore::get(&store, &a, "client_secret").await.unwrap(),
            Some("s".into())
        );
        let usage = store.usage("t1").await.unwrap().unwrap();
        assert_eq!((usage.documents, usage.bytes), (1, 4));
        assert_eq!(store.usage("t2").await.unwrap().unwrap(), Usage::default());
    }

    #[tokio::test]
    async fn status_stored_under_the_old_host_namespace_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        // A file as an older host left it: status under `_host`.
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute(
                "INSERT INTO documents VALUES ('default', '_host', 'status/sensors/fitbit', '{\"alive\":true}', 7)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let host = Namespace::host("default");
        let entry = DocumentStore::get(&store, &host, "status/sensors/fitbit")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (entry.json.as_str(), entry.revision),
            ("{\"alive\":true}", 7)
        );
        let plugin = Namespace::new("default", "_host");
        assert_eq!(
            DocumentStore::get(&store, &plugin, "status/sensors/fitbit")
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
}
