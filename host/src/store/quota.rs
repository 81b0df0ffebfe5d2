//! Per-tenant store quotas: the policy every backend applies inside its own
//! write transaction, against a usage row it keeps per tenant (so no write
//! scans the tenant's documents, and the check holds across processes), and
//! [`QuotaStore`], which puts a tenant's quota over any [`DocumentStore`].

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{DocumentStore, Entry, Listing, Namespace, StoreError, StoreResult, Write, Written};

/// Per-tenant store quotas (`[tenant.quota]`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Quota {
    /// Largest document, in bytes.
    pub max_value_bytes: usize,
    /// Most documents across the tenant's plugins.
    pub max_keys: u64,
    /// Most bytes (paths plus documents) across the tenant's plugins.
    pub max_total_bytes: u64,
}

impl Default for Quota {
    fn default() -> Self {
        Self {
            max_value_bytes: 256 << 10,
            max_keys: 10_000,
            max_total_bytes: 64 << 20,
        }
    }
}

/// What a tenant stores across its plugins (the host's own documents, such as
/// action status, included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub documents: u64,
    /// Bytes of paths plus documents.
    pub bytes: u64,
}

/// The bytes a document counts for.
pub fn document_bytes(path: &str, json: &str) -> u64 {
    (path.len() + json.len()) as u64
}

impl Quota {
    /// No limits: for the host's own writes.
    pub const UNLIMITED: Quota = Quota {
        max_value_bytes: usize::MAX,
        max_keys: u64::MAX,
        max_total_bytes: u64::MAX,
    };

    /// The stricter of two quotas, limit by limit.
    pub fn tighter(&self, other: &Quota) -> Quota {
        Quota {
            max_value_bytes: self.max_value_bytes.min(other.max_value_bytes),
            max_keys: self.max_keys.min(other.max_keys),
            max_total_bytes: self.max_total_bytes.min(other.max_total_bytes),
        }
    }

    pub fn check_value(&self, json: &str) -> StoreResult<()> {
        if json.len() > self.max_value_bytes {
            return Err(StoreError::QuotaExceeded(format!(
                "documents are limited to {} bytes",
                self.max_value_bytes
            )));
        }
        Ok(())
    }

    /// The usage after replacing a document of `old` bytes (`None`: a new
    /// document) by one of `new` bytes, or why the quota refuses it. A write
    /// that does not grow a count is never refused for it, so a tenant above
    /// a lowered quota can still shrink and replace.
    pub fn admit(&self, usage: Usage, old: Option<u64>, new: u64) -> StoreResult<Usage> {
        let after = Usage {
            documents: usage.documents + u64::from(old.is_none()),
            bytes: usage.bytes.saturating_sub(old.unwrap_or(0)) + new,
        };
        if after.documents > self.max_keys && after.documents > usage.documents {
            return Err(StoreError::QuotaExceeded(format!(
                "the tenant may store at most {} documents",
                self.max_keys
            )));
        }
        if after.bytes > self.max_total_bytes && after.bytes > usage.bytes {
            return Err(StoreError::QuotaExceeded(format!(
                "the tenant may store at most {} bytes",
                self.max_total_bytes
            )));
        }
        Ok(after)
    }
}

impl Usage {
    /// The usage after deleting a document of `bytes` bytes.
    pub fn without(self, bytes: u64) -> Usage {
        Usage {
            documents: self.documents.saturating_sub(1),
            bytes: self.bytes.saturating_sub(bytes),
        }
    }
}

/// A store whose every write is within a tenant's quota: what a plugin is
/// given instead of the tenant's backend. The backend checks the quota in
/// the write's own transaction ([`DocumentStore::write`]); this only
/// makes sure it is always asked to.
pub struct QuotaStore {
    inner: Arc<dyn DocumentStore>,
    quota: Quota,
}

impl QuotaStore {
    pub fn new(inner: Arc<dyn DocumentStore>, quota: Quota) -> Self {
        Self { inner, quota }
    }
}

#[async_trait]
impl DocumentStore for QuotaStore {
    async fn instance_alive(&self, instance: &str) -> Option<bool> {
        self.inner.instance_alive(instance).await
    }

    async fn get(&self, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>> {
        self.inner.get(ns, path).await
    }

    async fn write(&self, ns: &Namespace, write: Write<'_>, quota: &Quota) -> StoreResult<Written> {
        let quota = self.quota.tighter(quota);
        self.inner.write(ns, write, &quota).await
    }

    async fn delete(&self, ns: &Namespace, path: &str, expected: Option<u64>) -> StoreResult<bool> {
        self.inner.delete(ns, path, expected).await
    }

    async fn get_many(&self, ns: &Namespace, paths: &[String]) -> StoreResult<Vec<Option<Entry>>> {
        self.inner.get_many(ns, paths).await
    }

    async fn list(&self, ns: &Namespace, listing: Listing<'_>) -> StoreResult<Vec<String>> {
        self.inner.list(ns, listing).await
    }

    async fn usage(&self, tenant: &str) -> StoreResult<Option<Usage>> {
        self.inner.usage(tenant).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Quota = Quota {
        max_value_bytes: 10,
        max_keys: 2,
        max_total_bytes: 20,
    };

    fn usage(documents: u64, bytes: u64) -> Usage {
        Usage { documents, bytes }
    }

    #[test]
    fn counts_new_and_replaced_documents() {
        assert_eq!(SMALL.admit(usage(0, 0), None, 5), Ok(usage(1, 5)));
        assert_eq!(SMALL.admit(usage(1, 5), Some(5), 8), Ok(usage(1, 8)));
        assert!(matches!(
            SMALL.admit(usage(2, 8), None, 1),
            Err(StoreError::QuotaExceeded(m)) if m.contains("2 documents")
        ));
        assert!(matches!(
            SMALL.admit(usage(1, 15), None, 6),
            Err(StoreError::QuotaExceeded(m)) if m.contains("20 bytes")
        ));
        assert_eq!(SMALL.admit(usage(2, 20), Some(10), 10), Ok(usage(2, 20)));
    }

    #[test]
    fn over_a_lowered_quota_shrinking_is_allowed() {
        assert_eq!(SMALL.admit(usage(5, 100), Some(30), 10), Ok(usage(5, 80)));
        assert!(SMALL.admit(usage(5, 100), Some(30), 31).is_err());
        assert_eq!(usage(5, 100).without(30), usage(4, 70));
    }

    #[test]
    fn the_tighter_quota_takes_each_smaller_limit() {
        let other = Quota {
            max_value_bytes: 100,
            max_keys: 1,
            max_total_bytes: 10,
        };
        assert_eq!(
            SMALL.tighter(&other),
            Quota {
                max_value_bytes: 10,
                max_keys: 1,
                max_total_bytes: 10
            }
        );
        assert_eq!(Quota::UNLIMITED.tighter(&SMALL), SMALL);
    }

    #[test]
    fn value_size() {
        assert_eq!(SMALL.check_value("0123456789"), Ok(()));
        assert!(SMALL.check_value("0123456789a").is_err());
        assert_eq!(
            Quota::UNLIMITED.admit(usage(7, 9), None, 1),
            Ok(usage(8, 10))
        );
    }
}
