//! Schema migrations, embedded in the binary and applied in order at start.
//!
//! `schema_migrations` records each applied version. Each run is one
//! transaction that first takes a lock every other starting host waits for
//! (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory
//! lock), so hosts starting at once apply each migration exactly once. A
//! store written by a newer igor-host (an unknown version) is refused.

use anyhow::{Context, bail};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

macro_rules! migration {
    ($version:expr, $dir:literal, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("migrations/", $dir, "/", $name, ".sql")),
        }
    };
}

const SQLITE: &[Migration] = &[
    migration!(1, "sqlite", "001_documents_and_secrets"),
    migration!(2, "sqlite", "002_host_namespace"),
    migration!(3, "sqlite", "003_usage_and_sealed_secrets"),
];

/// Files that moved the host namespace before `schema_migrations` existed
/// say so with `PRAGMA user_version = 1`: they are at version 2.
const SQLITE_BY_USER_VERSION: i64 = 2;

const POSTGRES: &[Migration] = &[
    migration!(1, "postgres", "001_documents_secrets_usage"),
    migration!(2, "postgres", "002_tenants_and_actions"),
];

const TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL
)";

/// Any key unique to this program; every host uses the same one.
const POSTGRES_LOCK: i64 = 0x6967_6f72_686f_7374; // "igorhost"

/// The migrations after `applied`, or an error if the store is newer.
fn pending(all: &'static [Migration], applied: i64) -> anyhow::Result<&'static [Migration]> {
    let known = all.last().map_or(0, |m| m.version);
    if applied > known {
        bail!(
            "the store's schema is at version {applied}, newer than this igor-host knows \
             ({known}): run a newer igor-host"
        );
    }
    Ok(&all[all.partition_point(|m| m.version <= applied)..])
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339()
}

pub fn apply_sqlite(conn: &mut rusqlite::Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute_batch(TABLE)?;
    let mut applied: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |row| row.get(0),
    )?;
    let user_version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if applied == 0 && user_version >= 1 {
        for migration in &SQLITE[..SQLITE_BY_USER_VERSION as usize] {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![
                    migration.version,
                    migration.name,
                    "before versioned migrations"
                ],
            )?;
        }
        applied = SQLITE_BY_USER_VERSION;
    }
    for migration in pending(SQLITE, applied)? {
        tx.execute_batch(migration.sql)
            .with_context(|| format!("migration {}", migration.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![migration.version, migration.name, now()],
        )?;
        tracing::info!(migration = migration.name, "SQLite store migrated");
    }
    tx.commit()?;
    Ok(())
}

pub async fn apply_postgres(client: &mut deadpool_postgres::Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POSTGRES_LOCK])
        .await?;
    tx.batch_execute(TABLE).await?;
    let applied: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    for migration in pending(POSTGRES, applied)? {
        tx.batch_execute(migration.sql)
            .await
            .with_context(|| format!("migration {}", migration.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&migration.version, &migration.name, &now()],
        )
        .await?;
        tracing::info!(migration = migration.name, "PostgreSQL store migrated");
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_ordered_and_pending_follows_them() {
        for all in [SQLITE, POSTGRES] {
            assert!(all.windows(2).all(|w| w[0].version + 1 == w[1].version));
            assert_eq!(all[0].version, 1);
            assert_eq!(pending(all, 0).unwrap().len(), all.len());
            assert!(pending(all, all.len() as i64).unwrap().is_empty());
            assert!(pending(all, all.len() as i64 + 1).is_err());
        }
        assert_eq!(pending(SQLITE, 1).unwrap()[0].version, 2);
        let moved = format!(
            "SET plugin = '{}' WHERE plugin = '{}'",
            crate::store::HOST_NAMESPACE,
            crate::store::LEGACY_HOST_NAMESPACE
        );
        assert!(SQLITE[1].sql.contains(&moved));
    }

    #[test]
    fn a_file_migrated_by_user_version_is_not_migrated_again() {
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(SQLITE[0].sql).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO documents VALUES ('default', '_host', 'plugindata/_host', '1', 1);",
        )
        .unwrap();
        apply_sqlite(&mut conn).unwrap();
        apply_sqlite(&mut conn).unwrap();
        let plugin: String = conn
            .query_row("SELECT plugin FROM documents", [], |r| r.get(0))
            .unwrap();
        assert_eq!(plugin, "_host", "a plugin called _host keeps its data");
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(versions, vec![1, 2, 3]);
    }
}
