//! The tenant directory in PostgreSQL (`[tenant_directory] source =
//! "database"`): tenants, their plugins, limits, quotas, token hashes and
//! scheduled actions, shared by every host on the database.
//!
//! Every change is one transaction that also bumps the single
//! `tenant_directory.version`, so a host learns of any change by polling
//! one value (see [`spawn_follower`]) and then reloads only the tenants
//! whose row version moved. The admin API and `igor-host tenant` both
//! write through [`TenantDirectory`].

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::config::{ActionConfig, PluginConfig, Quota, TenantConfig};
use crate::limits::Limits;
use crate::store::StoreError;
use crate::store::postgres::{PostgresConfig, PostgresStore};

/// A tenant as the directory keeps it: everything but its id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(default)]
    pub quota: Quota,
    #[serde(default)]
    pub actions: Vec<ActionConfig>,
    /// SHA-256 (hex) of each token of the tenant; tokens are never stored.
    #[serde(default)]
    pub token_sha256: Vec<String>,
}

impl TenantSpec {
    pub fn into_config(self, id: &str) -> TenantConfig {
        TenantConfig {
            id: id.to_string(),
            token_sha256: self.token_sha256,
            limits: self.limits,
            quota: self.quota,
            // Tenants in the directory keep their data in the shared store.
            store: None,
            plugins: self.plugins,
            actions: self.actions,
        }
    }

    /// Checks the tenant as the configuration file's `[[tenant]]` is
    /// checked, plus what the action table needs.
    pub fn validate(&self, id: &str) -> anyhow::Result<()> {
        self.clone().into_config(id).validate()?;
        let mut seen = std::collections::BTreeSet::new();
        for action in &self.actions {
            if !seen.insert((&action.url, &action.representing)) {
                anyhow::bail!("action {} is listed twice", action.url);
            }
        }
        Ok(())
    }
}

/// A tenant read from the directory.
#[derive(Debug, Clone)]
pub struct ListedTenant {
    pub config: TenantConfig,
    /// The directory's version when the tenant last changed.
    pub version: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("tenant {0:?} already exists")]
    Exists(String),
    #[error("no tenant {0:?}")]
    NotFound(String),
    #[error("tenant {0:?} was changed meanwhile; read it again")]
    Changed(String),
    #[error("{0:#}")]
    Invalid(anyhow::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn db(err: impl std::fmt::Display) -> DirectoryError {
    DirectoryError::Store(crate::store::postgres::db(err))
}

pub struct TenantDirectory {
    store: PostgresStore,
    /// Where new actions' first runs are spread (see [`first_due_sql`]).
    spread_ms: Option<i64>,
}

impl TenantDirectory {
    /// A small pool of its own on the store's database.
    pub fn new(config: &PostgresConfig, spread_seconds: Option<u64>) -> anyhow::Result<Self> {
        let mut own = config.clone();
        own.pool_size = own.pool_size.min(4);
        Ok(Self {
            store: PostgresStore::new(&own).context("the tenant directory's database")?,
            spread_ms: spread_seconds.map(|s| s.saturating_mul(1000) as i64),
        })
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Client, DirectoryError> {
        Ok(self.store.client().await?)
    }

    /// The directory's version: it changes with every change to a tenant.
    pub async fn version(&self) -> Result<i64, DirectoryError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT version FROM tenant_directory", &[])
            .await
            .map_err(db)?;
        Ok(row.get(0))
    }

    /// Every tenant, and the directory version they were read at.
    pub async fn all(&self) -> Result<(i64, Vec<ListedTenant>), DirectoryError> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db)?;
        let version: i64 = tx
            .query_one("SELECT version FROM tenant_directory", &[])
            .await
            .map_err(db)?
            .get(0);
        let rows = tx
            .query("SELECT id, spec, version FROM tenants ORDER BY id", &[])
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut tenants = Vec::with_capacity(rows.len());
        for row in rows {
            let id: String = row.get(0);
            match parse_spec(&id, row.get(1)) {
                Ok(spec) => tenants.push(ListedTenant {
                    config: spec.into_config(&id),
                    version: row.get(2),
                }),
                // One bad row must not take every tenant down with it.
                Err(err) => tracing::error!(tenant = %id, error = %err, "tenant skipped"),
            }
        }
        Ok((version, tenants))
    }

    pub async fn get(&self, id: &str) -> Result<Option<(TenantSpec, i64)>, DirectoryError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT spec, version FROM tenants WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        row.map(|row| Ok((parse_spec(id, row.get(0))?, row.get(1))))
            .transpose()
    }

    /// Adds a tenant that does not exist yet.
    pub async fn create(&self, id: &str, spec: &TenantSpec) -> Result<i64, DirectoryError> {
        spec.validate(id).map_err(DirectoryError::Invalid)?;
        self.write(id, spec, None).await
    }

    /// Replaces a tenant's spec if it is still at `version`.
    pub async fn replace(
        &self,
        id: &str,
        spec: &TenantSpec,
        version: i64,
    ) -> Result<i64, DirectoryError> {
        spec.validate(id).map_err(DirectoryError::Invalid)?;
        self.write(id, spec, Some(version)).await
    }

    async fn write(
        &self,
        id: &str,
        spec: &TenantSpec,
        expected: Option<i64>,
    ) -> Result<i64, DirectoryError> {
        let json = serde_json::to_string(spec).map_err(|e| DirectoryError::Invalid(e.into()))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let version = bump(&tx).await?;
        let changed = match expected {
            None => {
                tx.execute(
                    "INSERT INTO tenants (id, spec, version) VALUES ($1, $2, $3)
                     ON CONFLICT (id) DO NOTHING",
                    &[&id, &json, &version],
                )
                .await
            }
            Some(old) => {
                tx.execute(
                    "UPDATE tenants SET spec = $2, version = $3 WHERE id = $1 AND version = $4",
                    &[&id, &json, &version, &old],
                )
                .await
            }
        }
        .map_err(db)?;
        if changed == 0 {
            return Err(match expected {
                None => DirectoryError::Exists(id.into()),
                Some(_) if self.get(id).await?.is_some() => DirectoryError::Changed(id.into()),
                Some(_) => DirectoryError::NotFound(id.into()),
            });
        }
        self.sync_actions(&tx, id, &spec.actions).await?;
        tx.commit().await.map_err(db)?;
        Ok(version)
    }

    /// Makes the tenant's rows in `scheduled_actions` what its spec lists:
    /// new actions first come due at a random time within the spread (no
    /// stampede when many tenants are added at once); kept ones keep their
    /// due time and lease.
    async fn sync_actions(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        id: &str,
        actions: &[ActionConfig],
    ) -> Result<(), DirectoryError> {
        let urls: Vec<&str> = actions.iter().map(|a| a.url.as_str()).collect();
        let representing: Vec<&str> = actions
            .iter()
            .map(|a| a.representing.as_deref().unwrap_or(""))
            .collect();
        tx.execute(
            "DELETE FROM scheduled_actions WHERE tenant = $1 AND (url, representing) NOT IN
             (SELECT * FROM unnest($2::TEXT[], $3::TEXT[]))",
            &[&id, &urls, &representing],
        )
        .await
        .map_err(db)?;
        for (action, representing) in actions.iter().zip(&representing) {
            let interval_ms = action.interval.saturating_mul(1000) as i64;
            let spread = self.spread_ms.unwrap_or(interval_ms).min(interval_ms);
            let first_due = rand::random_range(0..spread.max(1));
            tx.execute(
                "INSERT INTO scheduled_actions (tenant, url, representing, interval_ms, due_ms)
                 VALUES ($1, $2, $3, $4, igor_now_ms() + $5)
                 ON CONFLICT (tenant, url, representing) DO UPDATE SET
                    interval_ms = EXCLUDED.interval_ms,
                    due_ms = LEAST(scheduled_actions.due_ms, igor_now_ms() + EXCLUDED.interval_ms)",
                &[&id, &action.url, representing, &interval_ms, &first_due],
            )
            .await
            .map_err(db)?;
        }
        Ok(())
    }

    /// Removes a tenant and its actions; with `purge`, also its documents,
    /// secrets and usage. Without, its data stays for a tenant re-added
    /// under the same id.
    pub async fn remove(&self, id: &str, purge: bool) -> Result<(), DirectoryError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        bump(&tx).await?;
        let removed = tx
            .execute("DELETE FROM tenants WHERE id = $1", &[&id])
            .await
            .map_err(db)?;
        if removed == 0 {
            return Err(DirectoryError::NotFound(id.into()));
        }
        if purge {
            for table in ["documents", "secrets", "tenant_usage"] {
                tx.execute(&format!("DELETE FROM {table} WHERE tenant = $1"), &[&id])
                    .await
                    .map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// Changes a tenant with `change`, which is run again on the newest
    /// spec when another change came in between.
    pub async fn modify(
        &self,
        id: &str,
        change: impl Fn(TenantSpec) -> Result<TenantSpec, DirectoryError>,
    ) -> Result<(TenantSpec, i64), DirectoryError> {
        for _ in 0..5 {
            let (spec, version) = self
                .get(id)
                .await?
                .ok_or_else(|| DirectoryError::NotFound(id.into()))?;
            let spec = change(spec)?;
            match self.replace(id, &spec, version).await {
                Ok(version) => return Ok((spec, version)),
                Err(DirectoryError::Changed(_)) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(DirectoryError::Changed(id.into()))
    }

    /// Issues a new random token for the tenant: its hash is added to the
    /// tenant's, the token itself is returned once and kept nowhere.
    pub async fn issue_token(&self, id: &str) -> Result<String, DirectoryError> {
        let token = new_token();
        let hash = crate::access::sha256_hex(&token);
        self.modify(id, |mut spec| {
            spec.token_sha256.push(hash.clone());
            Ok(spec)
        })
        .await?;
        Ok(token)
    }

    /// Revokes every token of the tenant.
    pub async fn revoke_tokens(&self, id: &str) -> Result<(), DirectoryError> {
        self.modify(id, |mut spec| {
            spec.token_sha256.clear();
            Ok(spec)
        })
        .await
        .map(drop)
    }
}

/// Bumps the directory's version in `tx` and returns the new one.
async fn bump(tx: &deadpool_postgres::Transaction<'_>) -> Result<i64, DirectoryError> {
    let row = tx
        .query_one(
            "UPDATE tenant_directory SET version = version + 1 RETURNING version",
            &[],
        )
        .await
        .map_err(db)?;
    Ok(row.get(0))
}

fn parse_spec(id: &str, json: &str) -> Result<TenantSpec, DirectoryError> {
    serde_json::from_str(json).map_err(|e| {
        DirectoryError::Invalid(anyhow::anyhow!(
            "tenant {id}: the stored spec is unreadable: {e}"
        ))
    })
}

/// 32 random bytes as hex: a bearer token for a tenant.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> TenantSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_spec_is_checked_like_a_tenant_in_the_file() {
        let action = serde_json::json!({"interval": 60, "url": "/plugin/weather?user=jack"});
        let good = spec(serde_json::json!({"plugins": [{"name": "weather"}], "actions": [action]}));
        good.validate("smiths").unwrap();
        assert!(good.validate("../x").is_err());
        let twice = spec(serde_json::json!({"actions": [action, action]}));
        assert!(format!("{:#}", twice.validate("smiths").unwrap_err()).contains("twice"));
        let bad_hash = spec(serde_json::json!({"token_sha256": ["abc"]}));
        assert!(bad_hash.validate("smiths").is_err());
        assert!(serde_json::from_value::<TenantSpec>(serde_json::json!({"id": "x"})).is_err());
    }

    #[test]
    fn a_spec_round_trips_through_its_stored_json() {
        let original = spec(serde_json::json!({
            "plugins": [{"name": "weather", "config": {"k": "v"}, "egress": {"allow_loopback": true}}],
            "quota": {"max_keys": 10},
            "limits": {"request_timeout_ms": 5000},
            "token_sha256": [crate::access::sha256_hex("t")],
        }));
        let stored = serde_json::to_string(&original).unwrap();
        let read = parse_spec("smiths", &stored).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), stored);
        let config = read.into_config("smiths");
        assert_eq!(config.quota.max_keys, 10);
        assert!(config.store.is_none());
        assert_eq!(new_token().len(), 64);
    }
}
