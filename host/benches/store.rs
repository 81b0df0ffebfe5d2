//! Store benchmarks, each reported as a ratio against a baseline measured in
//! the same run on the same machine:
//!
//! 1. a quota-checked write of a tenant holding 10,000 documents vs. one
//!    holding 10 (SQLite, then PostgreSQL): the usage row makes the cost
//!    independent of what the tenant stores;
//! 2. the same write with the check the host made before (counting the
//!    tenant's documents on every write) vs. the usage row;
//! 3. reading a sealed secret vs. reading its stored row (the cost of
//!    opening it).
//!
//! PostgreSQL is a private cluster (`igor_test_support::postgres`, started
//! with `fsync=off`), so its absolute times are not comparable with SQLite's
//! (`synchronous = FULL`); compare each backend's ratio. Run with
//! `cargo bench -p igor-host --bench store`; results are printed as a
//! Markdown table (see docs/benchmarks.md).

use std::sync::Arc;
use std::time::Instant;

use igor_host::store::keys::{Key, Keyring};
use igor_host::store::postgres::{PostgresConfig, PostgresStore};
use igor_host::store::sealed::SealedSecrets;
use igor_host::store::sqlite::SqliteStore;
use igor_host::store::{DocumentStore, Namespace, Quota, SecretStore, SecretVault, Write};

const WRITES: u32 = 300;
const ROUNDS: u32 = 10;
const BIG: u32 = 10_000;
const SMALL: u32 = 10;
const QUOTA: Quota = Quota {
    max_value_bytes: 1 << 10,
    max_keys: 100_000,
    max_total_bytes: 1 << 30,
};

/// Inserts `count` documents for `tenant` and sets its usage row, as if
/// written one by one (one statement, to keep the setup short).
const FILL: &str = "
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
    INSERT INTO documents (tenant, plugin, path, json, revision)
        SELECT '{tenant}', 'fitbit', 'sensors/fitbit/u' || i, '{\"weight\": 80.5}', i FROM n;
    INSERT INTO tenant_usage (tenant, documents, bytes)
        SELECT tenant, COUNT(*), SUM(LENGTH(path) + LENGTH(json)) FROM documents
        WHERE tenant = '{tenant}' GROUP BY tenant
        ON CONFLICT (tenant) DO UPDATE SET documents = excluded.documents, bytes = excluded.bytes;
";

fn fill(count: u32, tenant: &str) -> String {
    FILL.replace("{count}", &count.to_string())
        .replace("{tenant}", tenant)
}

/// Microseconds per quota-checked write of one document of `tenant`.
async fn time_writes(
    store: &dyn DocumentStore,
    tenant: &str,
    old_check: Option<&SqliteCheck>,
) -> f64 {
    let ns = Namespace::new(tenant, "fitbit");
    let started = Instant::now();
    for i in 0..WRITES {
        if let Some(check) = old_check {
            check.count(tenant);
        }
        let json = format!("{{\"n\": {i}}}");
        store
            .write(&ns, Write::put("sensors/fitbit/bench", &json, None), &QUOTA)
            .await
            .unwrap();
    }
    started.elapsed().as_secs_f64() * 1e6 / (WRITES / ROUNDS) as f64
}

/// Mean microseconds per write of each `(tenant, old check)`, measured in
/// alternating rounds so that a change in the machine's load hits all alike.
async fn compare(store: &dyn DocumentStore, subjects: &[(&str, Option<&SqliteCheck>)]) -> Vec<f64> {
    time_writes(store, subjects[0].0, None).await; // warm-up
    let mut totals = vec![0.0; subjects.len()];
    for _ in 0..ROUNDS {
        for (total, (tenant, check)) in totals.iter_mut().zip(subjects) {
            *total += time_writes(store, tenant, *check).await / ROUNDS as f64;
        }
    }
    totals
}

/// The count the host made before each write until usage rows.
struct SqliteCheck(rusqlite::Connection);

impl SqliteCheck {
    fn count(&self, tenant: &str) {
        self.0
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(CAST(path AS BLOB)) + LENGTH(CAST(json AS BLOB))), 0)
                 FROM documents WHERE tenant = ?1",
                [tenant],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            )
            .unwrap();
    }
}

fn row(out: &mut Vec<String>, what: &str, time: f64, baseline: &str, base: f64) {
    out.push(format!(
        "| {what} | {time:.0} µs | {baseline} | {base:.0} µs | {:.2}× |",
        time / base
    ));
}

#[tokio::main]
async fn main() {
    let mut out = vec![
        "| measurement | time | baseline | baseline time | ratio |".to_string(),
        "|---|---|---|---|---|".to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let sqlite = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&(fill(BIG, "big") + &fill(SMALL, "small")))
        .unwrap();
    let check = SqliteCheck(conn);
    let times = compare(
        &sqlite,
        &[("small", None), ("big", None), ("big", Some(&check))],
    )
    .await;
    let (small, big, big_old) = (times[0], times[1], times[2]);
    row(
        &mut out,
        "SQLite write, tenant with 10,000 documents",
        big,
        "tenant with 10",
        small,
    );
    row(
        &mut out,
        "SQLite write with the old count per write, 10,000 documents",
        big_old,
        "with the usage row",
        big,
    );

    let cluster = igor_test_support::postgres::cluster();
    let url = cluster.database("bench");
    let database = url.rsplit('/').next().unwrap().to_string();
    let config: PostgresConfig = toml::from_str(&format!("url = {url:?}")).unwrap();
    let postgres = PostgresStore::connect(&config).await.unwrap();
    let fill_pg = (fill(BIG, "big") + &fill(SMALL, "small")).replace("LENGTH(", "octet_length(");
    cluster.psql(&database, &fill_pg).unwrap();
    let times = compare(&postgres, &[("small", None), ("big", None)]).await;
    let (small, big) = (times[0], times[1]);
    row(
        &mut out,
        "PostgreSQL write, tenant with 10,000 documents",
        big,
        "tenant with 10",
        small,
    );

    let vault = Arc::new(sqlite.clone());
    let sealed = SealedSecrets::new(Arc::new(Keyring::of(vec![Key::generate()])), vault.clone());
    let ns = Namespace::new("small", "fitbit");
    sealed
        .set(
            &ns,
            "client_secret",
            "a-client-secret-of-40-characters-or-so",
        )
        .await
        .unwrap();
    let started = Instant::now();
    for _ in 0..WRITES * 10 {
        sealed.get(&ns, "client_secret").await.unwrap().unwrap();
    }
    let opened = started.elapsed().as_secs_f64() * 1e6 / (WRITES * 10) as f64;
    let started = Instant::now();
    for _ in 0..WRITES * 10 {
        vault
            .get_secret(&ns, "client_secret")
            .await
            .unwrap()
            .unwrap();
    }
    let raw = started.elapsed().as_secs_f64() * 1e6 / (WRITES * 10) as f64;
    row(
        &mut out,
        "read a sealed secret (SQLite)",
        opened,
        "read its stored row",
        raw,
    );
    println!("{}", out.join("\n"));
}
